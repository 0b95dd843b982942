#!/bin/sh
# deploy.sh: react to a `deploy` user event by recording the requested version.
#
# Usage:
#   rumor agent -event-handler 'user:deploy=/path/to/handlers/deploy.sh'
#   serf event deploy v1.2.3          (or: rumor event deploy v1.2.3)
#
#   DEPLOY_LOG  where to append (default /tmp/rumor-deploy.log)
#
# Appends e.g. "2026-01-02T03:04:05Z node1 deploy version=v1.2.3 ltime=42". The payload's first line is the
# version; an empty payload is refused (exit 1, which the agent logs). Put your real deployment steps at the end.
set -u

[ "${SERF_EVENT:-}" = user ] && [ "${SERF_USER_EVENT:-}" = deploy ] || exit 0

log=${DEPLOY_LOG:-/tmp/rumor-deploy.log}
IFS= read -r version || true
version=$(printf '%s' "$version" | tr -d '\r' | tr -c 'A-Za-z0-9._+:/@=-' '_')
if [ -z "$version" ]; then
    echo "deploy: no version in the event payload" >&2
    exit 1
fi

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
printf '%s %s deploy version=%s ltime=%s\n' "$now" "${SERF_SELF_NAME:-?}" "$version" "${SERF_USER_LTIME:-?}" \
    >>"$log" || exit 1
echo "deploy: recorded version $version"
# Real steps go here, e.g.: docker pull "registry.example/app:$version" && systemctl restart app
