#!/bin/sh
# A demo backend container: a web server that names itself, announced to the load balancer by a Rumor agent.
# On `docker stop` (SIGTERM) the agent leaves first, so HAProxy stops sending new requests, then the web
# server finishes what it has in flight and stops.
set -eu
port="${PORT:-3000}"
mkdir -p /www
echo "served by $(hostname)" > /www/index.html
busybox httpd -f -p "$port" -h /www &
web=$!
/usr/local/bin/rumor agent --retry-join "${JOIN:-ha}" --retry-interval 1s --tag role=backend --tag "port=$port" &
agent=$!
trap 'kill -TERM "$agent" 2>/dev/null; wait "$agent" || true; sleep "${DRAIN_SECONDS:-2}"; kill "$web"; exit 0' TERM INT
wait "$agent"
