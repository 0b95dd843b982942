#!/usr/bin/env python3
"""Side-by-side membership benchmark: Rumor vs. HashiCorp serf on loopback.

For each cluster size N, and each repeat, it starts an N-node cluster of serf, tears it down, then an
N-node cluster of Rumor (alternating which goes first), and measures:

  join      seed up, then nodes 2..N launched at once, all joining the seed: seconds until the seed and
            3 sampled observers each see N alive members (RPC `members`, polled every --poll seconds)
  fail      kill -9 of one non-seed node: seconds until the observers see it `failed`
  leave     SIGINT of another non-seed node (graceful leave): seconds until the observers see it `left`
  rss       VmRSS per agent after convergence (also RssAnon and PSS)             [first repeat only]
  cpu       utime+stime over an idle window, scaled to CPU-seconds per minute    [first repeat only]
  net       UDP (and TCP) payload bytes/s per node over the same idle window,
            captured with `tcpdump -i lo` and parsed from the pcap              [first repeat only]

Timing metrics report the median over --repeats. Every node binds its own loopback IP with standard
ports (serf on 127.0.51.x, Rumor on 127.0.52.x by default). Python 3 standard library only; tcpdump is
needed for the network metric (skipped with a warning if missing or not permitted).

Usage:
  bench/membership.py                          # N = 5,20,50, 3 repeats, 30 s idle window
  bench/membership.py --quick                  # smoke run: N = 5, 1 repeat, 5 s idle window
  bench/membership.py --sizes 5,20 --repeats 5 --idle 60 --keep-logs
  bench/membership.py --impls rumor --rumor .build-bench/release/rumor

Build Rumor first: scripts/build-release .build-bench
"""

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------------------
# Minimal msgpack (just what serf's RPC uses)


class _Incomplete(Exception):
    pass


def mp_pack(obj):
    if obj is None:
        return b"\xc0"
    if obj is True:
        return b"\xc3"
    if obj is False:
        return b"\xc2"
    if isinstance(obj, int):
        if 0 <= obj < 128:
            return bytes([obj])
        if 0 <= obj < 1 << 8:
            return b"\xcc" + struct.pack(">B", obj)
        if 0 <= obj < 1 << 16:
            return b"\xcd" + struct.pack(">H", obj)
        if 0 <= obj < 1 << 32:
            return b"\xce" + struct.pack(">I", obj)
        if obj >= 0:
            return b"\xcf" + struct.pack(">Q", obj)
        return b"\xd3" + struct.pack(">q", obj)
    if isinstance(obj, str):
        b = obj.encode()
        n = len(b)
        if n < 32:
            return bytes([0xA0 | n]) + b
        if n < 1 << 8:
            return b"\xd9" + bytes([n]) + b
        if n < 1 << 16:
            return b"\xda" + struct.pack(">H", n) + b
        return b"\xdb" + struct.pack(">I", n) + b
    if isinstance(obj, (bytes, bytearray)):
        n = len(obj)
        if n < 1 << 8:
            return b"\xc4" + bytes([n]) + bytes(obj)
        return b"\xc6" + struct.pack(">I", n) + bytes(obj)
    if isinstance(obj, (list, tuple)):
        n = len(obj)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(mp_pack(x) for x in obj)
    if isinstance(obj, dict):
        n = len(obj)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(mp_pack(k) + mp_pack(v) for k, v in obj.items())
    raise TypeError(f"cannot msgpack {type(obj)}")


def mp_unpack(buf, pos=0):
    """Decodes one object from buf at pos; returns (obj, new_pos). Raises _Incomplete if buf is too short."""

    def need(n):
        if pos + n > len(buf):
            raise _Incomplete()

    need(1)
    t = buf[pos]
    pos += 1

    def take(n):
        nonlocal pos
        need(n)
        v = buf[pos:pos + n]
        pos += n
        return v

    def raw(n, as_str):
        b = bytes(take(n))
        if as_str:
            try:
                return b.decode()
            except UnicodeDecodeError:
                return b
        return b

    def seq(n):
        nonlocal pos
        out = []
        for _ in range(n):
            v, pos = mp_unpack(buf, pos)
            out.append(v)
        return out

    def mapping(n):
        nonlocal pos
        out = {}
        for _ in range(n):
            k, pos = mp_unpack(buf, pos)
            v, pos = mp_unpack(buf, pos)
            if isinstance(k, bytes):
                k = k.decode(errors="replace")
            out[k] = v
        return out

    if t < 0x80:
        return t, pos
    if t >= 0xE0:
        return t - 0x100, pos
    if 0x80 <= t <= 0x8F:
        return mapping(t & 0x0F), pos
    if 0x90 <= t <= 0x9F:
        return seq(t & 0x0F), pos
    if 0xA0 <= t <= 0xBF:
        return raw(t & 0x1F, True), pos
    simple = {0xC0: None, 0xC2: False, 0xC3: True}
    if t in simple:
        return simple[t], pos
    fmt = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q",
           0xCA: ">f", 0xCB: ">d"}
    if t in fmt:
        size = struct.calcsize(fmt[t])
        return struct.unpack(fmt[t], bytes(take(size)))[0], pos
    lens = {0xC4: (1, False), 0xC5: (2, False), 0xC6: (4, False), 0xD9: (1, True), 0xDA: (2, True), 0xDB: (4, True)}
    if t in lens:
        width, as_str = lens[t]
        n = int.from_bytes(take(width), "big")
        return raw(n, as_str), pos
    if t == 0xDC:
        return seq(int.from_bytes(take(2), "big")), pos
    if t == 0xDD:
        return seq(int.from_bytes(take(4), "big")), pos
    if t == 0xDE:
        return mapping(int.from_bytes(take(2), "big")), pos
    if t == 0xDF:
        return mapping(int.from_bytes(take(4), "big")), pos
    raise BenchError(f"unsupported msgpack type 0x{t:02x}")


class RPCClient:
    """A serf RPC client (msgpack over TCP), kept open between polls so polling costs the agents little."""

    def __init__(self, host, port=7373, timeout=2.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.seq = 0
        self.call("handshake", {"Version": 1}, expect_body=False)

    def _read_obj(self):
        while True:
            try:
                obj, pos = mp_unpack(self.buf, 0)
                del self.buf[:pos]
                return obj
            except _Incomplete:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("RPC connection closed")
                self.buf += chunk

    def call(self, command, body=None, expect_body=True):
        seq = self.seq
        self.seq += 1
        msg = mp_pack({"Command": command, "Seq": seq})
        if body is not None:
            msg += mp_pack(body)
        self.sock.sendall(msg)
        header = self._read_obj()
        if not isinstance(header, dict) or header.get("Seq") != seq:
            raise BenchError(f"unexpected RPC header {header!r}")
        if header.get("Error"):
            raise BenchError(f"RPC {command}: {header['Error']}")
        return self._read_obj() if expect_body else None

    def members(self):
        """{name: status}"""
        body = self.call("members")
        return {m["Name"]: m["Status"] for m in body["Members"]}

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------------------------------
# Process helpers


def proc_times(pid):
    """utime+stime in seconds, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem(pid):
    """(VmRSS, RssAnon, Pss) in MiB; Pss is None if smaps_rollup is unreadable."""
    rss = anon = pss = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1]) / 1024
    except OSError:
        return None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, anon, pss


def host_busy():
    """Busy CPU-seconds of the whole host so far (all CPUs, all processes), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


def port_free(ip, port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def run_text(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"({e})"


# ---------------------------------------------------------------------------------------------------------------------
# pcap parsing


def pcap_bytes(path):
    """Sums payload bytes in a pcap: udp_bytes, udp_pkts, tcp_bytes, tcp_pkts, tcp_conns (SYNs)."""
    out = {"udp_bytes": 0, "udp_pkts": 0, "tcp_bytes": 0, "tcp_pkts": 0, "tcp_conns": 0}
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise BenchError(f"{path}: not a pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    l2 = {1: 14, 113: 16, 276: 20, 0: 4, 101: 0, 228: 0}.get(linktype)
    if l2 is None:
        raise BenchError(f"{path}: unsupported link type {linktype}")
    pos = 24
    while pos + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[pos:pos + 16])
        pkt = data[pos + 16:pos + 16 + caplen]
        pos += 16 + caplen
        ip = pkt[l2:]
        if len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        proto = ip[9]
        if proto == 17:
            out["udp_bytes"] += total - ihl - 8
            out["udp_pkts"] += 1
        elif proto == 6 and len(ip) >= ihl + 14:
            if ip[ihl + 13] & 0x12 == 0x02:  # SYN without ACK: a new connection
                out["tcp_conns"] += 1
            payload = total - ihl - (ip[ihl + 12] >> 4) * 4
            if payload > 0:
                out["tcp_bytes"] += payload
                out["tcp_pkts"] += 1
    return out


class Capture:
    """tcpdump -i lo, headers only: UDP sent from one /24, and TCP to or from its gossip port.

    Agents dial TCP (push-pull) without binding a source address, so requests leave from 127.0.0.1: TCP is
    matched on the gossip port in either direction, which counts both the request and the reply."""

    def __init__(self, subnet, path, log):
        self.path = path
        self.log = log
        self.proc = None
        self.subnet = subnet

    def start(self, timeout=10):
        exe = shutil.which("tcpdump")
        if not exe:
            raise BenchError("tcpdump not found (apt-get install -y tcpdump)")
        errf = open(self.path + ".err", "w+")
        self.proc = subprocess.Popen(
            [exe, "-i", "lo", "-n", "-s", "96", "-B", "16384", "-w", self.path,
             f"(udp and src net {self.subnet}.0/24) or (tcp and port 7946 and net {self.subnet}.0/24)"],
            stdout=subprocess.DEVNULL, stderr=errf)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            errf.seek(0)
            text = errf.read()
            if "listening on" in text:
                return
            if self.proc.poll() is not None:
                raise BenchError(f"tcpdump exited: {text.strip()}")
            time.sleep(0.05)
        raise BenchError(f"tcpdump did not start listening within {timeout}s")

    def stop(self):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        with open(self.path + ".err") as f:
            text = f.read()
        if "dropped by kernel" in text:
            for line in text.splitlines():
                if "dropped by kernel" in line and not line.startswith("0 "):
                    self.log(f"    warning: tcpdump: {line.strip()}")
        return pcap_bytes(self.path)


# ---------------------------------------------------------------------------------------------------------------------
# Clusters


class Impl:
    def __init__(self, name, exe, subnet, log_level="warn"):
        self.log_level = log_level
        self.name = name
        self.exe = exe
        self.subnet = subnet

    def agent_cmd(self, node, ip, join):
        if self.name == "serf":
            cmd = [self.exe, "agent", f"-node={node}", f"-bind={ip}:7946", f"-rpc-addr={ip}:7373",
                   "-tag", "role=bench", f"-log-level={self.log_level}"]
            if join:
                cmd.append(f"-join={join}")
        else:
            cmd = [self.exe, "agent", "--node", node, "--bind", f"{ip}:7946", "--rpc-addr", f"{ip}:7373",
                   "--tag", "role=bench", "--log-level", self.log_level]
            if join:
                cmd += ["--join", join]
        return cmd


class Cluster:
    def __init__(self, impl, n, logdir, args, log):
        self.impl = impl
        self.n = n
        self.logdir = logdir
        self.args = args
        self.log = log
        self.procs = {}  # index -> Popen
        self.clients = {}  # index -> RPCClient

    def ip(self, i):
        return f"{self.impl.subnet}.{i}"

    def name(self, i):
        return f"{self.impl.name}-{i}"

    def launch(self, i, join):
        logf = open(os.path.join(self.logdir, f"{self.name(i)}.log"), "wb")
        try:
            self.procs[i] = subprocess.Popen(self.impl.agent_cmd(self.name(i), self.ip(i), join),
                                             stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            logf.close()

    def check_alive(self, indices=None):
        for i in indices if indices is not None else list(self.procs):
            p = self.procs.get(i)
            if p is not None and p.poll() is not None:
                tail = self.log_tail(i)
                raise BenchError(f"{self.name(i)} exited with status {p.returncode}; log tail:\n{tail}")

    def log_tail(self, i, lines=8):
        try:
            with open(os.path.join(self.logdir, f"{self.name(i)}.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def members(self, i):
        """{name: status} from node i, or None if its RPC is not up yet."""
        c = self.clients.get(i)
        try:
            if c is None:
                c = RPCClient(self.ip(i), 7373, timeout=2.0)
                self.clients[i] = c
            return c.members()
        except (OSError, ConnectionError, BenchError):
            if c is not None:
                c.close()
            self.clients.pop(i, None)
            return None

    def wait_views(self, observers, predicate, timeout, what, watch=None, on_poll=None, poll=None):
        """Polls observers until predicate(view) holds for all of them. Returns seconds waited from call time."""
        start = time.monotonic()
        deadline = start + timeout
        pending = list(observers)
        last = {}
        while True:
            still = []
            for i in pending:
                view = self.members(i)
                last[i] = view
                if view is None or not predicate(view):
                    still.append(i)
            pending = still
            if on_poll:
                on_poll()
            if not pending:
                return time.monotonic()
            self.check_alive(watch if watch is not None else observers)
            if time.monotonic() > deadline:
                summary = {self.name(i): (None if last.get(i) is None else
                                          _status_counts(last[i])) for i in pending}
                raise BenchError(f"timeout after {timeout}s waiting for {what}; pending observers: {summary}")
            time.sleep(self.args.poll if poll is None else poll)

    def wait_ports_free(self, indices, timeout=15):
        deadline = time.monotonic() + timeout
        for i in indices:
            for port in (7946, 7373):
                while not port_free(self.ip(i), port):
                    if time.monotonic() > deadline:
                        raise BenchError(f"{self.ip(i)}:{port} still in use (a leftover agent?)")
                    time.sleep(0.1)

    def shutdown(self):
        for c in self.clients.values():
            c.close()
        self.clients.clear()
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    p.kill()
                except OSError:
                    pass
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()


def _status_counts(view):
    counts = {}
    for s in view.values():
        counts[s] = counts.get(s, 0) + 1
    return counts


def run_cluster(impl, n, rep, args, logroot, log, measure_idle):
    """One cluster lifetime. Returns a dict of measurements (None where a step failed)."""
    logdir = os.path.join(logroot, f"{impl.name}-n{n}-r{rep}")
    os.makedirs(logdir, exist_ok=True)
    res = {"idle_measured": measure_idle}
    rng = random.Random(args.seed * 1000 + n * 10 + rep)
    cl = Cluster(impl, n, logdir, args, log)
    capture = None
    try:
        cl.wait_ports_free(range(1, n + 1))
        # Seed first, and wait until its RPC works.
        t0 = time.monotonic()
        cl.launch(1, None)
        t1 = cl.wait_views([1], lambda v: v.get(cl.name(1)) == "alive", args.timeout, "the seed to start",
                           poll=0.002)
        res["start"] = t1 - t0

        # Join: launch 2..N at once.
        others = list(range(2, n + 1))
        join_obs = [1] + rng.sample(others, min(3, len(others)))
        t0 = time.monotonic()
        for i in others:
            cl.launch(i, f"{cl.ip(1)}:7946")
        spawned = time.monotonic() - t0

        def all_alive(v):
            return sum(1 for s in v.values() if s == "alive") >= n
        t1 = cl.wait_views(join_obs, all_alive, args.timeout, f"{n} alive members", watch=list(cl.procs))
        res["join"] = t1 - t0
        res["join_spawn"] = spawned
        res["join_after_launch"] = res["join"] - spawned
        cpu = [proc_times(p.pid) for p in cl.procs.values()]
        res["cpu_join"] = statistics.mean(c for c in cpu if c is not None) * 1000
        log(f"    join: {res['join']:.3f}s (spawning {n - 1} agents took {spawned:.3f}s; "
            f"{res['cpu_join']:.0f} ms CPU per agent so far)")

        # Check that every node converged (not timed). Not fatal: the later metrics only need the observers.
        try:
            t2 = cl.wait_views(list(range(1, n + 1)), all_alive, args.converge_timeout, "every node to see all alive")
            res["join_all"] = t2 - t0
        except BenchError as e:
            log(f"    warning: {e}")
            res["join_all"] = None
        for c in list(cl.clients.values()):
            c.close()
        cl.clients.clear()

        if measure_idle:
            time.sleep(args.settle)
            cl.check_alive()
            pids = {i: p.pid for i, p in cl.procs.items()}
            if not args.no_pcap:
                capture = Capture(impl.subnet, os.path.join(logdir, "idle.pcap"), log)
                try:
                    capture.start()
                except BenchError as e:
                    log(f"    warning: no network capture: {e}")
                    capture = None
            cpu0 = {i: proc_times(pid) for i, pid in pids.items()}
            host0 = host_busy()
            w0 = time.monotonic()
            time.sleep(args.idle)
            cpu1 = {i: proc_times(pid) for i, pid in pids.items()}
            window = time.monotonic() - w0
            host1 = host_busy()
            mems = {i: proc_mem(pid) for i, pid in pids.items()}
            net = capture.stop() if capture else None
            capture = None
            cl.check_alive()
            per_min = [(cpu1[i] - cpu0[i]) * 60 / window for i in pids]
            res["cpu"] = statistics.mean(per_min)
            res["cpu_max"] = max(per_min)
            res["host_cpu"] = (host1 - host0) * 60 / window
            res["host_other"] = res["host_cpu"] - sum(per_min)
            rss = [m[0] for m in mems.values()]
            res["rss"] = statistics.mean(rss)
            res["rss_max"] = max(rss)
            anon = [m[1] for m in mems.values() if m[1] is not None]
            res["rss_anon"] = statistics.mean(anon) if anon else None
            pss = [m[2] for m in mems.values() if m[2] is not None]
            res["pss"] = statistics.mean(pss) if pss else None
            if net:
                res["udp_bps"] = net["udp_bytes"] / n / window
                res["udp_pps"] = net["udp_pkts"] / n / window
                res["tcp_bps"] = net["tcp_bytes"] / n / window
                res["tcp_conns"] = net["tcp_conns"]
                if net["tcp_conns"]:
                    res["tcp_per_conn"] = net["tcp_bytes"] / net["tcp_conns"]
                res["udp_avg_pkt"] = net["udp_bytes"] / net["udp_pkts"] if net["udp_pkts"] else 0
            log(f"    idle {window:.1f}s: cpu {res['cpu']:.3f} s/min/agent (host busy {res['host_cpu']:.1f} s/min, "
                f"{res['host_other']:.1f} of it not these agents), rss {res['rss']:.1f} MiB "
                f"(max {res['rss_max']:.1f}, anon {res['rss_anon'] or 0:.1f}, pss {res['pss'] or 0:.1f})"
                + (f", udp {res['udp_bps']:.0f} B/s/node ({res['udp_pps']:.1f} pkt/s, "
                   f"{res['udp_avg_pkt']:.0f} B avg), tcp {res['tcp_bps']:.0f} B/s/node "
                   f"({res['tcp_conns']} connections)" if net else ""))

        if n < 3:
            log("    (N < 3: skipping fail/leave)")
            return res
        # Kill -9 one non-seed node, SIGINT another; observers: the seed + up to 3 of the rest.
        victim, leaver = rng.sample(others, 2)
        rest = [i for i in others if i not in (victim, leaver)]
        obs = [1] + rng.sample(rest, min(3, len(rest)))
        for i in obs:
            cl.members(i)  # connect before the clock starts
        vname, lname = cl.name(victim), cl.name(leaver)

        t0 = time.monotonic()
        cl.procs[victim].kill()
        cl.procs[victim].wait()
        try:
            t1 = cl.wait_views(obs, lambda v: v.get(vname) == "failed", args.fail_timeout, f"{vname} failed",
                               watch=obs)
            res["fail"] = t1 - t0
            log(f"    fail: {res['fail']:.3f}s")
        except BenchError as e:
            log(f"    fail: {e}")
            res["fail"] = None

        t0 = time.monotonic()
        leaving = cl.procs[leaver]
        exited = []

        def note_exit():
            if not exited and leaving.poll() is not None:
                exited.append(time.monotonic() - t0)
        leaving.send_signal(signal.SIGINT)
        try:
            t1 = cl.wait_views(obs, lambda v: v.get(lname) == "left", args.timeout, f"{lname} left", watch=obs,
                               on_poll=note_exit)
            res["leave"] = t1 - t0
        except BenchError as e:
            log(f"    leave: {e}")
            res["leave"] = None
        deadline = time.monotonic() + args.timeout
        while not exited and time.monotonic() < deadline:
            note_exit()
            time.sleep(0.01)
        res["leave_exit"] = exited[0] if exited else None
        if res["leave"] is not None:
            log(f"    leave: {res['leave']:.3f}s (process exited after "
                f"{res['leave_exit'] if res['leave_exit'] is not None else float('nan'):.3f}s)")
        return res
    except BenchError as e:
        log(f"    ERROR: {e}")
        res["error"] = str(e)
        return res
    finally:
        if capture:
            capture.stop()
        cl.shutdown()


# ---------------------------------------------------------------------------------------------------------------------
# Reporting

METRICS = [
    # key, title, unit/format, repeated (median) or once
    ("start", "seed start: launch -> its RPC lists itself alive", "s", "{:.3f}"),
    ("join", "join convergence: launch of nodes 2..N -> seed + 3 observers see N alive", "s", "{:.3f}"),
    ("join_spawn", "launching the N-1 agents (Popen loop; slower when started agents compete for CPU)", "s",
     "{:.3f}"),
    ("join_after_launch", "join minus the launch loop: last launch -> converged", "s", "{:.3f}"),
    ("cpu_join", "CPU per agent from launch to join convergence (start-up + join)", "ms", "{:.0f}"),
    ("join_all", "join, every node sees N alive (untimed check, polled slower)", "s", "{:.3f}"),
    ("fail", "kill -9 -> observers see the node `failed`", "s", "{:.3f}"),
    ("leave", "SIGINT (graceful leave) -> observers see the node `left`", "s", "{:.3f}"),
    ("leave_exit", "SIGINT -> leaving process exits", "s", "{:.3f}"),
    ("rss", "RSS per agent, mean (VmRSS)", "MiB", "{:.1f}"),
    ("rss_max", "RSS per agent, max (VmRSS)", "MiB", "{:.1f}"),
    ("rss_anon", "private anonymous memory per agent, mean (RssAnon)", "MiB", "{:.1f}"),
    ("pss", "proportional set size per agent, mean (Pss: shared pages split between agents)", "MiB", "{:.1f}"),
    ("cpu", "idle CPU per agent, mean (utime+stime)", "CPU-s/min", "{:.3f}"),
    ("cpu_max", "idle CPU per agent, max", "CPU-s/min", "{:.3f}"),
    ("host_other", "host CPU during the idle window NOT used by the agents (other load: should be ~0)",
     "CPU-s/min", "{:.1f}"),
    ("udp_bps", "idle UDP payload sent per node", "B/s", "{:.0f}"),
    ("udp_pps", "idle UDP packets sent per node", "pkt/s", "{:.2f}"),
    ("udp_avg_pkt", "idle UDP mean payload per packet", "B", "{:.0f}"),
    ("tcp_bps", "idle TCP payload per node, both directions (push-pull; depends on phase, see README)", "B/s",
     "{:.0f}"),
    ("tcp_conns", "TCP connections (push-pulls) in the idle window, whole cluster", "", "{:.0f}"),
    ("tcp_per_conn", "TCP payload per push-pull (request + reply)", "B", "{:.0f}"),
]


REPEATED = ("start", "join", "join_spawn", "join_after_launch", "cpu_join", "join_all", "fail", "leave", "leave_exit")


def summarize(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None, 0
    return statistics.median(vals), len(values) - len(vals)


def print_tables(results, sizes, impls, repeats):
    names = [i.name for i in impls]
    for key, title, unit, fmt in METRICS:
        rows = []
        for n in sizes:
            cells = {}
            for name in names:
                runs = results.get((name, n), [])
                if key not in REPEATED:
                    runs = [r for r in runs if r.get("idle_measured")]
                vals = [r.get(key) for r in runs if key in r or "error" in r]
                med, missing = summarize(vals) if vals else (None, 0)
                cells[name] = (med, missing, len(vals))
            if any(c[2] for c in cells.values()):
                rows.append((n, cells))
        if not rows:
            continue
        repeated = key in REPEATED
        print()
        print(f"{title} [{unit}]" + (f" (median of {repeats})" if repeated and repeats > 1 else ""))
        header = ["N"] + names + (["ratio (rumor/serf)"] if names == ["serf", "rumor"] else [])
        table = [header]
        for n, cells in rows:
            line = [str(n)]
            for name in names:
                med, missing, count = cells[name]
                text = "n/a" if count == 0 else "FAILED" if med is None else fmt.format(med)
                if med is not None and missing:
                    text += f" ({missing} failed)"
                line.append(text)
            if len(header) == 4:
                a, b = cells["serf"][0], cells["rumor"][0]
                line.append(f"{b / a:.2f}" if a and b is not None else "-")
            table.append(line)
        widths = [max(len(r[c]) for r in table) for c in range(len(header))]
        for j, r in enumerate(table):
            print("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)))
            if j == 0:
                print("  " + "  ".join("-" * w for w in widths))
    print()


def print_env(impls, args):
    print("== environment")
    print(f"  date     {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"  nproc    {os.cpu_count()}")
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    print(f"  cpu      {model}")
    print(f"  kernel   {os.uname().release}")
    print(f"  python   {sys.version.split()[0]}")
    try:
        with open("/proc/loadavg") as f:
            print(f"  loadavg  {f.read().strip()}  (other load on the host skews every number: check it is ~0)")
    except OSError:
        pass
    for impl in impls:
        v = run_text([impl.exe, "version"]).replace("\n", " | ")
        print(f"  {impl.name:<8} {impl.exe}: {v}  (subnet {impl.subnet}.0/24)")
    head = run_text(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    dirty = run_text(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"])
    print(f"  rumor git {head}{' (+uncommitted changes)' if dirty else ''}")
    print(f"  settings sizes={args.sizes} repeats={args.repeats} idle={args.idle}s settle={args.settle}s "
          f"poll={args.poll}s timeouts={args.timeout}/{args.fail_timeout}s")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="5,20,50", help="comma-separated cluster sizes (default 5,20,50)")
    p.add_argument("--repeats", type=int, default=3, help="repeats of the timing metrics (median reported)")
    p.add_argument("--idle", type=float, default=30.0, help="idle window for CPU and bytes, seconds (default 30)")
    p.add_argument("--settle", type=float, default=5.0, help="wait after convergence before the idle window")
    p.add_argument("--poll", type=float, default=0.05, help="RPC poll interval, seconds (default 0.05)")
    p.add_argument("--timeout", type=float, default=60.0, help="timeout for join/leave waits, seconds")
    p.add_argument("--converge-timeout", type=float, default=20.0,
                   help="timeout for the (untimed, non-fatal) check that every node sees N alive")
    p.add_argument("--fail-timeout", type=float, default=120.0, help="timeout for failure detection, seconds")
    p.add_argument("--quick", action="store_true", help="smoke run: N=5, 1 repeat, 5 s idle window")
    p.add_argument("--impls", default="serf,rumor", help="which implementations to run (default serf,rumor)")
    p.add_argument("--serf", default=shutil.which("serf") or "/usr/bin/serf", help="serf binary")
    p.add_argument("--rumor", default=os.path.join(REPO, ".build-bench", "release", "rumor"), help="rumor binary")
    p.add_argument("--serf-subnet", default="127.0.51", help="first three octets for serf nodes")
    p.add_argument("--rumor-subnet", default="127.0.52", help="first three octets for rumor nodes")
    p.add_argument("--no-pcap", action="store_true", help="skip the tcpdump network capture")
    p.add_argument("--keep-logs", action="store_true", help="keep agent logs and pcaps (path printed at the end)")
    p.add_argument("--agent-log-level", default="warn", help="agents' --log-level (default warn)")
    p.add_argument("--seed", type=int, default=1, help="seed for observer/victim sampling")
    args = p.parse_args()
    if args.quick:
        if args.sizes == p.get_default("sizes"):
            args.sizes = "5"
        if args.repeats == p.get_default("repeats"):
            args.repeats = 1
        if args.idle == p.get_default("idle"):
            args.idle = 5.0
        if args.settle == p.get_default("settle"):
            args.settle = 2.0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if any(n < 1 or n > 250 for n in sizes):
        p.error("sizes must be between 1 and 250")

    known = {"serf": Impl("serf", args.serf, args.serf_subnet, args.agent_log_level),
             "rumor": Impl("rumor", args.rumor, args.rumor_subnet, args.agent_log_level)}
    impls = []
    for name in args.impls.split(","):
        if name not in known:
            p.error(f"unknown implementation {name!r}")
        if not (os.path.isfile(known[name].exe) and os.access(known[name].exe, os.X_OK)):
            p.error(f"{name} binary not found: {known[name].exe}")
        impls.append(known[name])

    logroot = tempfile.mkdtemp(prefix="rumor-bench-")

    def log(msg):
        print(msg, flush=True)

    interrupted = False
    old_int = signal.getsignal(signal.SIGINT)

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)

    print_env(impls, args)
    results = {}
    started = time.monotonic()
    try:
        for n in sizes:
            for rep in range(args.repeats):
                order = impls if rep % 2 == 0 else list(reversed(impls))
                for impl in order:
                    log(f"== {impl.name} N={n} repeat {rep + 1}/{args.repeats}")
                    r = run_cluster(impl, n, rep, args, logroot, log, measure_idle=(rep == 0))
                    results.setdefault((impl.name, n), []).append(r)
    except KeyboardInterrupt:
        interrupted = True
        log("\ninterrupted: agents stopped; partial results follow")
    finally:
        signal.signal(signal.SIGINT, old_int)
        print(f"\n== results ({time.monotonic() - started:.0f}s total)")
        print_tables(results, sizes, impls, args.repeats)
        if args.keep_logs:
            print(f"logs kept in {logroot}")
        else:
            shutil.rmtree(logroot, ignore_errors=True)
    errors = sum(1 for rs in results.values() for r in rs if "error" in r)
    return 130 if interrupted else (1 if errors else 0)


if __name__ == "__main__":
    sys.exit(main())
