#!/usr/bin/python3
"""Hostile clients of rasmand's socket (issue 15, part 3).

Each mode is one kind of client a daemon must survive without stalling anyone else or
growing without bound. The tests (Tests/RASServiceTests/HostileClientSecurityTests.swift)
run the modes against a real rasmand; `measure` runs them all against a rasmand of its own
and prints the daemon's RSS and descriptors before, during and after each (BENCHMARKS.md).

  hostile-clients.py idle SOCKET N HOLD        N connections that never send; prints how many
                                               the daemon refused (error 8), holds HOLD s
  hostile-clients.py endless SOCKET BYTES HOLD one line of BYTES bytes without a newline
  hostile-clients.py flood SOCKET COUNT HOLD   COUNT hello requests, never reading an answer
  hostile-clients.py deaf SOCKET SUBS HOLD     SUBS watch subscriptions, then never reads
  hostile-clients.py measure RASMAND           the benchmark (run on demand), e.g.
      Benchmarks/hostile-clients.py measure .build/release/rasmand
"""
import json, os, socket, subprocess, sys, tempfile, time


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    return s


def hold(seconds):
    sys.stdout.flush()
    time.sleep(seconds)


def idle(path, count, seconds):
    sockets, refused = [], 0
    for _ in range(count):
        try:
            sockets.append(connect(path))
        except OSError:
            refused += 1
    time.sleep(0.5)
    for s in sockets:
        s.settimeout(0.05)
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            refused += 1
            continue
        if b'"code":8' in data or not data:
            refused += 1
    print('refused %d of %d' % (refused, count))
    hold(seconds)


def endless(path, total, seconds):
    s = connect(path)
    chunk = b'x' * 65536
    sent = 0
    try:
        while sent < total:
            sent += s.send(chunk[:min(len(chunk), total - sent)])
    except OSError as error:
        print('stopped: %s' % error)
    print('sent %d' % sent)
    hold(seconds)


def flood(path, count, seconds):
    s = connect(path)
    s.settimeout(3)
    request = b''.join(b'{"v":1,"id":%d,"op":"hello"}\n' % i for i in range(1, 1001))
    sent = 0
    try:
        while sent < count:
            s.sendall(request)
            sent += 1000
    except (socket.timeout, OSError) as error:
        print('blocked after %d requests: %s' % (sent, type(error).__name__))
    print('sent %d' % sent)
    hold(seconds)


def deaf(path, subscriptions, seconds):
    s = connect(path)
    buffer, refused = b'', 0
    for i in range(1, subscriptions + 1):
        s.sendall(b'{"v":1,"id":%d,"op":"watch"}\n' % i)
        while b'\n' not in buffer:
            buffer += s.recv(65536)
        line, buffer = buffer.split(b'\n', 1)
        if b'"code":8' in line:
            refused += 1
    print('refused %d of %d' % (refused, subscriptions))
    hold(seconds)   # never reads again


def status(pid):
    fields = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            key, _, value = line.partition(':')
            fields[key] = value.strip()
    return int(fields['VmRSS'].split()[0]), int(fields['VmHWM'].split()[0]), len(os.listdir('/proc/%d/fd' % pid))


def hello_ms(path):
    start = time.monotonic()
    s = connect(path)
    s.sendall(b'{"v":1,"id":1,"op":"hello"}\n')
    data = b''
    while b'\n' not in data:
        data += s.recv(4096)
    s.close()
    answer = '%.1f ms' % ((time.monotonic() - start) * 1000)
    return answer if b'"ok":true' in data else answer + ' (refused: ' + json.loads(data)['error']['name'] + ')'


def measure(rasmand):
    folder = tempfile.mkdtemp(prefix='hostile-')
    sock = folder + '/rasmand.sock'
    os.mkdir(folder + '/lock')
    daemon = subprocess.Popen([rasmand, '--socket', sock, '--lock-dir', folder + '/lock', '--no-discovery',
                               '--log-level', 'warning'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    daemon.stdout.readline()
    me = os.path.abspath(__file__)
    phases = [('idle', '300', 'connections that never send, as root (--max-clients 256; root has no per-user limit)'),
              ('endless', str(256 << 20), 'one 256 MiB line without a newline'),
              ('flood', '1000000', 'hello requests, answers never read'),
              ('deaf', '100', 'watch subscriptions, then never reads (64 allowed; no events without dials)')]
    print('| client | RSS before | RSS while | RSS after | peak (VmHWM) | fds before / while / after | hello while |')
    print('|---|---|---|---|---|---|---|')
    try:
        for mode, amount, what in phases:
            before = status(daemon.pid)
            client = subprocess.Popen([sys.executable, me, mode, sock, amount, '4'], stdout=subprocess.PIPE, text=True)
            time.sleep(2.5)
            during = status(daemon.pid)
            latency = hello_ms(sock)
            out, _ = client.communicate()
            time.sleep(0.5)
            after = status(daemon.pid)
            print('| %s: %s (%s) | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %d / %d / %d | %s |' % (
                mode, what, out.strip().replace('\n', '; '), before[0] / 1024, during[0] / 1024, after[0] / 1024,
                after[1] / 1024, before[2], during[2], after[2], latency))
    finally:
        daemon.terminate()
        daemon.wait()


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'measure':
        measure(sys.argv[2])
    else:
        {'idle': idle, 'endless': endless, 'flood': flood, 'deaf': deaf}[mode](
            sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
