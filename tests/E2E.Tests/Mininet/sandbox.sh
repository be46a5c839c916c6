#!/bin/sh
# sandbox.sh DIR CMD [ARG...]: runs CMD where Mininet's own cleanup (`mn -c`, or what `mn` runs on Ctrl-C or on an
# exception: killall by name, rm /tmp/*.log, OVS bridges deleted) can reach nothing but this run. Started as
#     unshare --net --mount --pid --fork --mount-proc --propagation private sh sandbox.sh DIR CMD...
# it sees DIR/tmp as /tmp, a fresh /run and its own loopback; every process it starts ends with it (its PID
# namespace). /tmp/mn-cleanup-sentinel.log (DIR/tmp/mn-cleanup-sentinel.log outside) is gone when a cleanup ran.
# $SANDBOX_KEEP, a directory the run needs (the tests' build: the switch, the class), stays visible at its own path
# when it lies under /tmp (a clone in /tmp): it is bound into DIR/tmp at the same place before DIR/tmp covers /tmp.
set -e
dir=$1
shift
case "${SANDBOX_KEEP:-}" in
  /tmp/*)
    mkdir -p "$dir/tmp${SANDBOX_KEEP#/tmp}"
    mount --bind "$SANDBOX_KEEP" "$dir/tmp${SANDBOX_KEEP#/tmp}"
    ;;
esac
mount --rbind "$dir/tmp" /tmp
mount -t tmpfs -o mode=0755 sandbox-run /run
ip link set lo up
echo "removed only by a cleanup of /tmp/*.log" > /tmp/mn-cleanup-sentinel.log
cd /tmp
exec "$@"
