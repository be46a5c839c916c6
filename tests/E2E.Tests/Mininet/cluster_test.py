"""Mininet's cluster edition (mininet/examples/cluster.py) on Softswitch: two servers, `localhost` (this machine, no
ssh) and `127.0.0.1` (reached through a private sshd), a switch and a host on each, the switches joined by
cluster.py's `ssh -o Tunnel=Ethernet -w` tap tunnel; pingall across.

    /usr/bin/python3 cluster_test.py WORKDIR SSH_PORT [DIR_OF_softswitch_mn.py]

Runs inside sandbox.sh (private network, mount and PID namespaces; /tmp and /run private). One machine plays both
servers: the sshd behind 127.0.0.1 runs in a network namespace of its own, as a second machine has a network stack
of its own (cluster.py names both ends of every tunnel tap9, so both servers in one network stack cannot work). A
listener on 127.0.0.1:SSH_PORT starts `sshd -i` in that namespace for each connection. cluster.py's ssh commands
take no port or key, and its tunnel command no options at all, so this run's ssh client configuration (the port,
the client key, the host key) is bind-mounted over /etc/ssh/ssh_config, in this mount namespace only.

Prints one line per step and `RESULT ok`, or `RESULT fail: why` and exit code 1.
"""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'mininet'))


def say(line):
    print(line, flush=True)


def fail(why):
    say('RESULT fail: ' + why)
    return 1


def run(*args):
    return subprocess.run(list(args), check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout


def tunCapability():
    "Why this machine cannot make the taps cluster.py's tunnels need, or None when it can."
    fd = None
    try:
        fd = os.open('/dev/net/tun', os.O_RDWR)
    except OSError as e:
        return 'cannot open /dev/net/tun (%s): no tun/tap devices here, and cluster.py tunnels through taps' % e
    finally:
        if fd is not None:
            os.close(fd)
    return None


def prepareSsh(work, port):
    "Host key, client key, sshd and ssh client configurations in WORK; the client's bound over /etc/ssh/ssh_config."
    for name in ('host_ed25519', 'client_ed25519'):
        path = os.path.join(work, name)
        if not os.path.exists(path):
            run('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path)
    with open(os.path.join(work, 'client_ed25519.pub')) as f:
        client = f.read()
    with open(os.path.join(work, 'authorized_keys'), 'w') as f:
        f.write(client)
    with open(os.path.join(work, 'host_ed25519.pub')) as f:
        host = f.read().split()
    with open(os.path.join(work, 'known_hosts'), 'w') as f:
        f.write('[127.0.0.1]:%d %s %s\n' % (port, host[0], host[1]))
    with open(os.path.join(work, 'sshd_config'), 'w') as f:
        f.write('\n'.join([
            'HostKey %s' % os.path.join(work, 'host_ed25519'),
            'AuthorizedKeysFile %s' % os.path.join(work, 'authorized_keys'),
            'PermitRootLogin yes', 'PermitTunnel yes', 'PasswordAuthentication no',
            'KbdInteractiveAuthentication no', 'UsePAM no', 'UseDNS no', 'StrictModes no', 'PidFile none',
            'PermitTTY yes', 'LogLevel VERBOSE', '']))
    config = os.path.join(work, 'ssh_config')
    with open(config, 'w') as f:
        f.write('\n'.join([
            'Host 127.0.0.1', '    Port %d' % port, '    User root',
            '    IdentityFile %s' % os.path.join(work, 'client_ed25519'), '    IdentitiesOnly yes',
            '    UserKnownHostsFile %s' % os.path.join(work, 'known_hosts'), '    StrictHostKeyChecking yes',
            '    LogLevel ERROR', '']))
    os.chmod(os.path.join(work, 'host_ed25519'), 0o600)
    os.chmod(os.path.join(work, 'client_ed25519'), 0o600)
    run('mount', '--bind', config, '/etc/ssh/ssh_config')
    os.makedirs('/run/sshd', mode=0o755, exist_ok=True)


def waitListening(port, deadline):
    while time.time() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def netnsOf(pid):
    return os.readlink('/proc/%d/ns/net' % pid)


def main():
    work, port = sys.argv[1], int(sys.argv[2])
    why = tunCapability()
    if why:
        return fail(why)
    os.makedirs(work, exist_ok=True)
    os.environ['HOME'] = work  # MininetCluster makes $HOME/.ssh/mn
    os.environ['SOFTSWITCH_MN_RUNDIR'] = os.path.join(work, 'run')
    prepareSsh(work, port)
    # The second server's network stack: a namespace held by a process that ends with this run.
    holder = subprocess.Popen(['unshare', '--net', 'sleep', 'infinity'])
    procs = [holder]
    try:
        remoteNs = '/proc/%d/ns/net' % holder.pid
        deadline = time.time() + 30
        while netnsOf(holder.pid) == netnsOf(os.getpid()):
            if time.time() > deadline:
                return fail('the second network namespace did not appear')
            time.sleep(0.05)
        run('nsenter', '--net=' + remoteNs, 'ip', 'link', 'set', 'lo', 'up')
        sshd = 'nsenter --net=%s /usr/sbin/sshd -i -f %s -E %s' % (
            remoteNs, os.path.join(work, 'sshd_config'), os.path.join(work, 'sshd.log'))
        procs.append(subprocess.Popen(['socat', 'TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork' % port, 'EXEC:' + sshd],
                                      stderr=open(os.path.join(work, 'socat.log'), 'w')))
        if not waitListening(port, time.time() + 30):
            return fail('the sshd listener on 127.0.0.1:%d did not come up' % port)
        out = subprocess.run(['ssh', '-n', '-o', 'BatchMode=yes', 'root@127.0.0.1', 'echo ssh-ok'],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60).stdout
        say('ssh root@127.0.0.1: ' + out.strip())
        if 'ssh-ok' not in out:
            return fail('ssh through the private sshd failed: ' + out)
        return cluster(remoteNs)
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()


def cluster(remoteNs):
    from mininet.log import setLogLevel
    from mininet.examples.cluster import MininetCluster, RemoteHost, RemoteLink, SwitchBinPlacer
    from mininet.topo import LinearTopo
    from mininet.util import custom
    from softswitch_mn import RemoteSoftswitch

    setLogLevel('warning')
    net = MininetCluster(topo=LinearTopo(2), servers=['localhost', '127.0.0.1'], user='root',
                         placement=SwitchBinPlacer, host=RemoteHost, link=RemoteLink,
                         switch=custom(RemoteSoftswitch, failMode='standalone'), controller=None, autoSetMacs=True)
    status = 1
    pids = {}
    try:
        net.start()
        if not net.waitConnected(timeout=30):
            return fail('switches did not answer on their control sockets')
        here = netnsOf(os.getpid())
        remote = os.readlink(remoteNs)
        for node in net.switches + net.hosts:
            say('%s on %s (pid %s, %s)' % (node.name, node.server, node.pid,
                                            'remote' if node.isRemote else 'local'))
        s1, s2 = net.get('s1'), net.get('s2')
        if s1.server != 'localhost' or s2.server != '127.0.0.1':
            return fail('placement: s1 on %s, s2 on %s' % (s1.server, s2.server))
        # s2's shell and its softswitch run in the second server's network stack, s1's in ours.
        if netnsOf(s2.softswitchPid) != remote or netnsOf(s1.softswitchPid) != here:
            return fail('s1 or s2 not on its server: %s %s' % (netnsOf(s1.softswitchPid), netnsOf(s2.softswitchPid)))
        pids = {s.name: s.softswitchPid for s in net.switches}
        tunnels = [l for l in net.links if getattr(l, 'tunnel', None)]
        say('tunnels: %d (%s)' % (len(tunnels), ', '.join(l.status() for l in tunnels)))
        if len(tunnels) != 1:
            return fail('expected one ssh tunnel between the servers')
        loss = net.pingAll(timeout='2')
        if loss > 0:
            loss = net.pingAll(timeout='2')
        say('pingall loss %s%%' % loss)
        if loss > 0:
            return fail('pingall lost %s%%' % loss)
        say('s2 fdb: ' + (s2.control('fdb/show') or '').strip().replace('\n', ' | ')[:300])
        status = 0
    finally:
        net.stop()
        for name, pid in pids.items():
            if os.path.exists('/proc/%d' % pid):
                with open('/proc/%d/stat' % pid) as f:
                    if f.read().split(')')[-1].split()[0] != 'Z':
                        status = fail('%s (pid %d) still runs after stop' % (name, pid))
    if status == 0:
        say('RESULT ok')
    return status


if __name__ == '__main__':
    sys.exit(main())
