#!/bin/sh
# sandbox.sh DIR CMD [ARG...]: runs CMD where Mininet's own cleanup (`mn -c`, or what `mn` runs on Ctrl-C or on an
# exception: killall by name, rm /tmp/*.log, OVS bridges deleted) can reach nothing but this run. Started as
#     unshare --net --mount --pid --fork --mount-proc --propagation private sh sandbox.sh DIR CMD...
# it sees DIR/tmp as /tmp, a fresh /run and its own loopback; every process it starts ends with it (its PID
# namespace). /tmp/mn-cleanup-sentinel.log (DIR/tmp/mn-cleanup-sentinel.log outside) is gone when a cleanup ran.
# $SANDBOX_KEEP, the directories the run needs (the tests' build: the switch, the class; colon-separated), stay visible
# at their own paths when they lie under /tmp (a clone in /tmp): each is bound into DIR/tmp at the same place before
# DIR/tmp covers /tmp.
set -e
dir=$1
shift
old_ifs=$IFS
IFS=:
for keep in ${SANDBOX_KEEP:-}; do
  case "$keep" in
    /tmp/*)
      mkdir -p "$dir/tmp${keep#/tmp}"
      mount --bind "$keep" "$dir/tmp${keep#/tmp}"
      ;;
  esac
done
IFS=$old_ifs
mount --rbind "$dir/tmp" /tmp
mount -t tmpfs -o mode=0755 sandbox-run /run
ip link set lo up
# Mininet's remote-controller probe (`echo A | telnet -e A IP PORT`) prints what the controller sends at once, an
# OpenFlow HELLO in binary when the controller is quicker than telnet's exit, and Mininet decodes a node's output as
# UTF-8 (a UnicodeDecodeError that ends the run): the telnet it finds here passes the probe's text only.
mkdir -p /run/sandbox-bin
cat > /run/sandbox-bin/telnet <<'TELNET'
#!/bin/sh
/usr/bin/telnet "$@" | LC_ALL=C tr -cd '\11\12\15\40-\176'
TELNET
chmod 0755 /run/sandbox-bin/telnet
export PATH="/run/sandbox-bin:$PATH"
echo "removed only by a cleanup of /tmp/*.log" > /tmp/mn-cleanup-sentinel.log
cd /tmp
exec "$@"
