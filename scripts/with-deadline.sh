#!/usr/bin/env bash
# with-deadline.sh SECONDS COMMAND [ARG...]: runs COMMAND; if it is still running after
# SECONDS, prints every process still running (a hung test shows what it waits on), then
# stops it (SIGTERM, SIGKILL 30 s later) and exits 124, as timeout(1) does.
set -u
limit=$1
shift
fired=$(mktemp)
trap 'rm -f "$fired"' EXIT
"$@" &
child=$!
(
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    sleep "$limit" </dev/null >/dev/null 2>&1 &
    nap=$!
    wait "$nap"
    echo fired >"$fired"
    echo "with-deadline: '$*' still running after $limit s; the processes still running:"
    ps --ppid 2 -p 2 --deselect -o pid,ppid,etime,args --forest | grep -v -e ' ps --ppid ' -e 'grep -v -e'
    kill -TERM "$child" 2>/dev/null
    sleep 30 </dev/null >/dev/null 2>&1 &
    nap=$!
    wait "$nap"
    pkill -KILL -P "$child" 2>/dev/null
    kill -KILL "$child" 2>/dev/null
) &
watchdog=$!
wait "$child"
status=$?
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
if [ -s "$fired" ]; then
    status=124
fi
exit "$status"
