#!/bin/sh
# load-query.sh: answer a `load` query with this node's load average and uptime.
#
# Usage:
#   rumor agent -event-handler 'query:load=/path/to/handlers/load-query.sh'
#   serf query load        (or: rumor query load) prints one line per node, e.g.
#   node1  load average: 0.08, 0.12, 0.10; up 3 days, 04:05
#
# Whatever a query handler prints, when it exits 0, is the reply (keep it well under 1 KiB).
set -u

[ "${SERF_EVENT:-}" = query ] || exit 0

if [ -r /proc/loadavg ] && [ -r /proc/uptime ]; then
    read -r one five fifteen _ </proc/loadavg
    read -r up _ </proc/uptime
    up=${up%%.*}
    days=$((up / 86400))
    hours=$((up % 86400 / 3600))
    minutes=$((up % 3600 / 60))
    if [ "$days" -eq 1 ]; then d="1 day, "; elif [ "$days" -gt 1 ]; then d="$days days, "; else d=""; fi
    printf 'load average: %s, %s, %s; up %s%02d:%02d\n' "$one" "$five" "$fifteen" "$d" "$hours" "$minutes"
elif command -v uptime >/dev/null 2>&1; then
    uptime
else
    echo "load-query: no /proc/loadavg and no uptime command" >&2
    exit 1
fi
