#!/bin/sh
# nodes-dir.sh: keep a directory with one file per current backend, named after the member and holding its
# address, so a load balancer template, a cron job or `ls` sees who is up.
#
# Usage:
#   rumor agent -event-handler \
#     'member-join,member-leave,member-failed,member-update,member-reap=/path/to/handlers/nodes-dir.sh'
#
#   NODES_DIR   the directory (default /tmp/rumor-nodes); created if missing
#   NODES_ROLE  if set, only members whose role tag equals it count as backends (e.g. web)
#
# member-join creates $NODES_DIR/<name> containing "<address>\n"; member-update rewrites it (or removes it when the
# role no longer matches); member-leave, member-failed and member-reap delete it. Files are replaced atomically.
set -u

dir=${NODES_DIR:-/tmp/rumor-nodes}
want_role=${NODES_ROLE:-}
case "${SERF_EVENT:-}" in
    member-join | member-update) action=write ;;
    member-leave | member-failed | member-reap) action=remove ;;
    *) exit 0 ;;
esac
mkdir -p "$dir" || exit 1

tab=$(printf '\t')
status=0
while IFS= read -r line || [ -n "$line" ]; do
    [ -n "$line" ] || continue
    name=${line%%"$tab"*}; rest=${line#*"$tab"}
    addr=${rest%%"$tab"*}; rest=${rest#*"$tab"}
    role=${rest%%"$tab"*}
    # A member name becomes a file name: refuse anything that could escape the directory.
    case "$name" in
        */* | .*) echo "nodes-dir: skipping unsafe member name '$name'" >&2; continue ;;
    esac
    file="$dir/$name"
    if [ "$action" = write ] && { [ -z "$want_role" ] || [ "$role" = "$want_role" ]; }; then
        printf '%s\n' "$addr" >"$file.tmp.$$" && mv -f "$file.tmp.$$" "$file" || status=1
    else
        rm -f "$file" || status=1
    fi
done
exit $status
