#!/bin/sh
# sandbox.sh DIR CMD [ARG...]: runs CMD where Mininet's own cleanup (`mn -c`, or what `mn` runs on Ctrl-C or on an
# exception: killall by name, rm /tmp/*.log, OVS bridges deleted) can reach nothing but this run. Started as
#     unshare --net --mount --pid --fork --mount-proc --propagation private sh sandbox.sh DIR CMD...
# it sees DIR/tmp as /tmp, a fresh /run and its own loopback; every process it starts ends with it (its PID
# namespace). /tmp/mn-cleanup-sentinel.log (DIR/tmp/mn-cleanup-sentinel.log outside) is gone when a cleanup ran.
set -e
dir=$1
shift
mount --bind "$dir/tmp" /tmp
mount -t tmpfs -o mode=0755 sandbox-run /run
ip link set lo up
echo "removed only by a cleanup of /tmp/*.log" > /tmp/mn-cleanup-sentinel.log
cd /tmp
exec "$@"
