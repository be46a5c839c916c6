#!/bin/sh
# hint_test.sh CLASS PORT NONE|LATE|VERSION: run inside sandbox.sh (the sandbox's PID 1, `mn` its child). Starts `mn`
# with the class under a remote controller on 127.0.0.1:PORT and waits (up to 40 s) for the class's line saying why
# the switch does not connect:
#   NONE     nothing listens on PORT; then Ctrl-C (SIGINT to `mn`, by pid) and `mn` must exit.
#   LATE     nothing listens until the line appears; then ovs-testcontroller listens on PORT and `mn` must finish its
#            pingall by itself (up to 90 s).
#   VERSION  ovs-testcontroller on PORT speaks OpenFlow 1.3 only, the switch 1.0 only (protocols=OpenFlow10); then
#            Ctrl-C. (Not the other way round: Mininet's check of a remote controller, `echo A | telnet -e A`, reads
#            the controller's HELLO when it comes first, and takes a 1.0 HELLO's first byte, 0x01, for the start of
#            its PID marker, then waits for the rest forever.)
# Prints HINT AFTER N MS (from `mn`'s "Waiting for switches to connect"), MN EXIT STATUS, `mn`'s output, RESULT done.
class=$1
port=$2
mode=$3
switch=softswitch
mkdir -p /run/openvswitch
if [ "$mode" = VERSION ]; then
  switch=softswitch,protocols=OpenFlow10
  ovs-testcontroller -O OpenFlow13 --detach --pidfile=/tmp/c1.pid --log-file=/tmp/c1.log "ptcp:$port" || exit 2
fi
: >/tmp/mn-output.txt
# A command started with & here ignores SIGINT (no job control): `mn` gets it back, as from a terminal.
env --default-signal=INT mn --custom "$class" --switch "$switch" --controller "remote,ip=127.0.0.1,port=$port" \
    --test pingall >/tmp/mn-output.txt 2>&1 &
mn=$!

exited() { s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null); [ -z "$s" ] || [ "$s" = Z ]; }
now() { echo $(( $(date +%s%N) / 1000000 )); }

finish() {
  echo "----- mn output"
  cat /tmp/mn-output.txt
  echo "-----"
  [ -s /tmp/c1.pid ] && kill "$(cat /tmp/c1.pid)" 2>/dev/null
  echo "RESULT done"
  exit 0
}

i=0
until grep -q 'Waiting for switches to connect' /tmp/mn-output.txt; do
  i=$((i + 1))
  if exited $mn || [ $i -gt 1200 ]; then
    echo "MN DID NOT START"; kill -KILL $mn 2>/dev/null; finish
  fi
  sleep 0.1
done
waiting=$(now)
until grep -q '^\*\*\* s1: ' /tmp/mn-output.txt; do
  if exited $mn || [ $(( $(now) - waiting )) -gt 40000 ]; then
    echo "NO HINT"; kill -KILL $mn 2>/dev/null; finish
  fi
  sleep 0.1
done
echo "HINT AFTER $(( $(now) - waiting )) MS"

if [ "$mode" = LATE ]; then
  ovs-testcontroller --detach --pidfile=/tmp/c1.pid --log-file=/tmp/c1.log "ptcp:$port" || echo "CONTROLLER DID NOT START"
  limit=900
else
  kill -INT $mn
  limit=300
fi
i=0
until exited $mn; do
  i=$((i + 1))
  if [ $i -gt $limit ]; then
    echo "MN HUNG"; kill -KILL $mn; break
  fi
  sleep 0.1
done
wait $mn
echo "MN EXIT $?"
finish
