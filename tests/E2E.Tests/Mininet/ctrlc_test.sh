#!/bin/sh
# ctrlc_test.sh CLASS ONCE|REPEAT|STARTING: run inside sandbox.sh (it is the sandbox's PID 1, `mn` its child). Starts
# `mn` with the class, two switches and a remote controller nobody answers, so `mn` waits for the switches to connect;
# once both switches run, sends `mn` SIGINT (ONCE, or REPEAT: every 50 ms until it exits, as a user pressing Ctrl-C
# again and again; STARTING: as soon as `mn` starts the switches, while they start), waits for it (up to 30 s) and
# reports what of this run is left: its switch processes, any softswitch process, Mininet node shells, interfaces
# named like s1-eth1.
class=$1
mode=$2
# A command started with & here ignores SIGINT (no job control): `mn` gets it back, as from a terminal.
: >/tmp/mn-output.txt
env --default-signal=INT mn --custom "$class" --switch softswitch --controller remote,ip=127.0.0.1,port=6699 \
    --topo linear,2 --test pingall >/tmp/mn-output.txt 2>&1 &
mn=$!

exited() { s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null); [ -z "$s" ] || [ "$s" = Z ]; }

started() {
  if [ "$mode" = STARTING ]; then
    grep -q 'Starting 2 switches' /tmp/mn-output.txt
  else
    grep -q 'Waiting for switches to connect' /tmp/mn-output.txt && [ -s /tmp/softswitch-mn/s1/s1.pid ] &&
      [ -s /tmp/softswitch-mn/s2/s2.pid ]
  fi
}

i=0
until started; do
  i=$((i + 1))
  if exited $mn || [ $i -gt 1200 ]; then
    echo "MN DID NOT START"; cat /tmp/mn-output.txt; kill -KILL $mn 2>/dev/null; exit 2
  fi
  sleep 0.1
done
pids=$(cat /tmp/softswitch-mn/s1/s1.pid /tmp/softswitch-mn/s2/s2.pid 2>/dev/null | tr '\n' ' ')
echo "SWITCH PIDS $pids"
echo "LINKS BEFORE $(ip -o link show | grep -c -- '-eth')"

start=$(date +%s%N)
kill -INT $mn
i=0
until exited $mn; do
  i=$((i + 1))
  if [ $i -gt 600 ]; then
    echo "MN HUNG"; kill -KILL $mn; break
  fi
  sleep 0.05
  [ "$mode" = REPEAT ] && kill -INT $mn 2>/dev/null
done
wait $mn
status=$?
echo "MN EXIT $status AFTER $(( ($(date +%s%N) - start) / 1000000 )) MS"
echo "----- mn output"
cat /tmp/mn-output.txt
echo "-----"

sleep 0.5  # network namespaces go a moment after their last process
for pid in $pids; do
  exited "$pid" || echo "SWITCH LEFT $pid"
done
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  [ "$pid" = $$ ] && continue
  exited "$pid" && continue
  comm=$(cat "$d/comm" 2>/dev/null)
  [ "$comm" = softswitch ] && echo "SOFTSWITCH LEFT $pid"
  tr '\0' ' ' < "$d/cmdline" 2>/dev/null | grep -q 'mininet:' && echo "SHELL LEFT $pid $(tr '\0' ' ' < "$d/cmdline")"
done
for link in $(ip -o link show | awk -F': ' '{print $2}' | grep -- '-eth'); do
  echo "LINK LEFT $link"
done
echo "RESULT done"
