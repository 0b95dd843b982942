#!/bin/sh
# log-members.sh: append member joins, leaves and failures to a log file, one line per member.
#
# Usage (the filter keeps other events away; the script ignores them anyway):
#   rumor agent -event-handler 'member-join,member-leave,member-failed=/path/to/handlers/log-members.sh'
# To choose the file, set RUMOR_LOG_FILE in the agent's environment, or in the handler itself:
#   -event-handler 'member-join,member-leave,member-failed=RUMOR_LOG_FILE=/var/log/members.log /path/to/log-members.sh'
#
#   RUMOR_LOG_FILE  where to append (default /tmp/rumor-members.log)
#
# Each line: UTC timestamp, event, name, address, role, tags, e.g.
#   2026-01-02T03:04:05Z member-join web1 10.0.0.5 web dc=lab1,role=web
# (the Serf + HAProxy lab keeps the same kind of log to see backends come and go).
set -u

log=${RUMOR_LOG_FILE:-/tmp/rumor-members.log}
case "${SERF_EVENT:-}" in
    member-join | member-leave | member-failed) ;;
    *) exit 0 ;;
esac

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
tab=$(printf '\t')
# stdin: NAME<TAB>ADDR<TAB>ROLE<TAB>TAGS per member. Split by hand: `read` with IFS=tab would merge an empty
# role with the next field.
while IFS= read -r line || [ -n "$line" ]; do
    [ -n "$line" ] || continue
    name=${line%%"$tab"*}; rest=${line#*"$tab"}
    addr=${rest%%"$tab"*}; rest=${rest#*"$tab"}
    role=${rest%%"$tab"*}; tags=${rest#*"$tab"}
    printf '%s %s %s %s %s %s\n' "$now" "$SERF_EVENT" "$name" "$addr" "${role:--}" "${tags:--}" >>"$log" || exit 1
done
