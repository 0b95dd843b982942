#!/usr/bin/env python3
"""Cost of gossip encryption: Rumor and HashiCorp serf, each encrypted vs. plaintext, side by side.

For each implementation (serf, Rumor) and each mode (plaintext, encrypted with one AES-256 key from `keygen`), it
starts an N-agent cluster on loopback (every node on its own IP, standard ports; serf on 127.0.55.x, Rumor on
127.0.56.x), waits until every node sees N alive members, lets it settle, and then measures over an idle window:

  cpu       utime+stime of each agent (/proc/PID/stat), as CPU-seconds per minute per agent (mean, max)
  udp       UDP payload bytes/s sent per node, packets/s and mean payload, from `tcpdump -i lo` (headers only)
  tcp       TCP payload bytes/s per node on the gossip port, both directions (push-pull; phase-dependent)
  other     host CPU busy during the window not used by the agents (should be ~0; anything else is noise)

Encryption adds 29 bytes per UDP packet (vsn 1: version byte, 12-byte nonce, 16-byte GCM tag; wire doc §5.1) and
the same per TCP frame, plus the AES-GCM work. Clusters run one at a time (never two at once); the order of the four
runs alternates between repeats. Only processes this script started are signalled, by PID.

Usage:
  bench/encryption.py                    # N=20, 1 repeat, 30 s idle window (~3 min)
  bench/encryption.py --n 20 --idle 60 --repeats 2 --keep-logs
  bench/encryption.py --impls rumor --rumor .build-bench/release/rumor --no-pcap

Build Rumor first: scripts/build-release .build-bench
Run as root for tcpdump (--no-pcap skips the network metrics). Reuses bench/membership.py's RPC client, pcap parser
and /proc helpers.
"""

import argparse
import importlib.util
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

_spec = importlib.util.spec_from_file_location("membership", os.path.join(HERE, "membership.py"))
mb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mb)


def agent_cmd(impl, exe, node, ip, join, key, log_level):
    if impl == "serf":
        cmd = [exe, "agent", f"-node={node}", f"-bind={ip}:7946", f"-rpc-addr={ip}:7373", f"-log-level={log_level}"]
        if key:
            cmd.append(f"-encrypt={key}")
        if join:
            cmd.append(f"-join={join}")
    else:
        cmd = [exe, "agent", "--node", node, "--bind", f"{ip}:7946", "--rpc-addr", f"{ip}:7373",
               "--log-level", log_level]
        if key:
            cmd += ["--encrypt", key]
        if join:
            cmd += ["--join", join]
    return cmd


class Run:
    """One cluster lifetime of one implementation in one mode."""

    def __init__(self, impl, exe, subnet, n, key, logdir, args, log):
        self.impl, self.exe, self.subnet, self.n, self.key = impl, exe, subnet, n, key
        self.logdir, self.args, self.log = logdir, args, log
        self.procs = {}
        self.clients = {}

    def ip(self, i):
        return f"{self.subnet}.{i}"

    def name(self, i):
        return f"{self.impl}-{i}"

    def launch(self, i, join):
        with open(os.path.join(self.logdir, f"{self.name(i)}.log"), "wb") as logf:
            self.procs[i] = subprocess.Popen(
                agent_cmd(self.impl, self.exe, self.name(i), self.ip(i), join, self.key, self.args.agent_log_level),
                stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def check_alive(self):
        for i, p in self.procs.items():
            if p.poll() is not None:
                raise mb.BenchError(f"{self.name(i)} exited with status {p.returncode}; log tail:\n{self.tail(i)}")

    def tail(self, i, lines=8):
        try:
            with open(os.path.join(self.logdir, f"{self.name(i)}.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def members(self, i):
        c = self.clients.get(i)
        try:
            if c is None:
                c = self.clients[i] = mb.RPCClient(self.ip(i), 7373, timeout=2.0)
            return c.members()
        except (OSError, ConnectionError, mb.BenchError):
            if c is not None:
                c.close()
            self.clients.pop(i, None)
            return None

    def wait_all_alive(self, observers, timeout):
        deadline = time.monotonic() + timeout
        pending = list(observers)
        while pending:
            pending = [i for i in pending
                       if sum(1 for s in (self.members(i) or {}).values() if s == "alive") < self.n]
            if not pending:
                return
            self.check_alive()
            if time.monotonic() > deadline:
                raise mb.BenchError(f"timeout after {timeout}s: {[self.name(i) for i in pending]} do not see "
                                    f"{self.n} alive")
            time.sleep(0.2)

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

    def measure(self):
        res = {}
        n = self.n
        capture = None
        try:
            for i in range(1, n + 1):
                for port in (7946, 7373):
                    deadline = time.monotonic() + 15
                    while not mb.port_free(self.ip(i), port):
                        if time.monotonic() > deadline:
                            raise mb.BenchError(f"{self.ip(i)}:{port} in use (a leftover agent?)")
                        time.sleep(0.1)
            self.launch(1, None)
            deadline = time.monotonic() + self.args.timeout
            while (self.members(1) or {}).get(self.name(1)) != "alive":
                self.check_alive()
                if time.monotonic() > deadline:
                    raise mb.BenchError("seed did not start")
                time.sleep(0.05)
            t0 = time.monotonic()
            for i in range(2, n + 1):
                self.launch(i, f"{self.ip(1)}:7946")
            self.wait_all_alive(range(1, n + 1), self.args.timeout)
            res["join"] = time.monotonic() - t0
            for c in list(self.clients.values()):
                c.close()
            self.clients.clear()
            time.sleep(self.args.settle)
            self.check_alive()
            pids = {i: p.pid for i, p in self.procs.items()}
            if not self.args.no_pcap:
                capture = mb.Capture(self.subnet, os.path.join(self.logdir, "idle.pcap"), self.log)
                try:
                    capture.start()
                except mb.BenchError as e:
                    self.log(f"    warning: no network capture: {e}")
                    capture = None
            cpu0 = {i: mb.proc_times(pid) for i, pid in pids.items()}
            host0 = mb.host_busy()
            w0 = time.monotonic()
            time.sleep(self.args.idle)
            cpu1 = {i: mb.proc_times(pid) for i, pid in pids.items()}
            window = time.monotonic() - w0
            host1 = mb.host_busy()
            net = capture.stop() if capture else None
            capture = None
            self.check_alive()
            per_min = [(cpu1[i] - cpu0[i]) * 60 / window for i in pids]
            res["cpu"] = statistics.mean(per_min)
            res["cpu_max"] = max(per_min)
            res["host_other"] = (host1 - host0) * 60 / window - sum(per_min)
            if net:
                res["udp_bps"] = net["udp_bytes"] / n / window
                res["udp_pps"] = net["udp_pkts"] / n / window
                res["udp_avg_pkt"] = net["udp_bytes"] / net["udp_pkts"] if net["udp_pkts"] else 0
                res["tcp_bps"] = net["tcp_bytes"] / n / window
                res["tcp_conns"] = net["tcp_conns"]
            # Still converged after the window (encryption must not make anyone flap).
            views = [self.members(i) for i in (1, n // 2 + 1, n)]
            res["alive_after"] = min(sum(1 for s in (v or {}).values() if s == "alive") for v in views)
            # Warnings about decryption in the agents' logs (should be none: all share the key).
            bad = 0
            for i in range(1, n + 1):
                with open(os.path.join(self.logdir, f"{self.name(i)}.log"), errors="replace") as f:
                    bad += sum(1 for line in f if "decrypt" in line.lower() or "No installed keys" in line)
            res["decrypt_errors"] = bad
            self.log("    " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in res.items()))
            return res
        except mb.BenchError as e:
            self.log(f"    ERROR: {e}")
            res["error"] = str(e)
            return res
        finally:
            if capture:
                capture.stop()
            self.shutdown()


ROWS = [
    ("join", "join: launch of nodes 2..N -> every node sees N alive", "s", "{:.2f}"),
    ("cpu", "idle CPU per agent, mean", "CPU-s/min", "{:.3f}"),
    ("cpu_max", "idle CPU per agent, max", "CPU-s/min", "{:.3f}"),
    ("udp_bps", "idle UDP payload sent per node", "B/s", "{:.0f}"),
    ("udp_pps", "idle UDP packets sent per node", "pkt/s", "{:.2f}"),
    ("udp_avg_pkt", "idle UDP mean payload per packet", "B", "{:.0f}"),
    ("tcp_bps", "idle TCP payload per node (push-pull, phase-dependent)", "B/s", "{:.0f}"),
    ("alive_after", "min alive members seen after the window (3 observers)", "", "{:.0f}"),
    ("decrypt_errors", "log lines about decryption failures, whole cluster", "", "{:.0f}"),
    ("host_other", "host CPU in the window NOT used by the agents (noise)", "CPU-s/min", "{:.1f}"),
]


def print_table(results, impls, n):
    cols = [(impl, mode) for impl in impls for mode in ("plain", "encrypted")]
    head = ["metric", "unit"] + [f"{i} {m}" for i, m in cols] + [f"{i} enc/plain" for i in impls]
    lines = []
    for key, title, unit, fmt in ROWS:
        row = [title, unit]
        vals = {}
        for c in cols:
            runs = [r[key] for r in results.get(c, []) if r.get(key) is not None]
            v = statistics.median(runs) if runs else None
            vals[c] = v
            row.append(fmt.format(v) if v is not None else "-")
        for impl in impls:
            p, e = vals.get((impl, "plain")), vals.get((impl, "encrypted"))
            row.append(f"{e / p:.2f}x" if p and e is not None and key not in ("alive_after", "decrypt_errors",
                                                                              "host_other") else "")
        lines.append(row)
    widths = [max(len(str(r[k])) for r in [head] + lines) for k in range(len(head))]
    print(f"\nN = {n} agents per cluster; median over repeats")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in lines:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |")
    errors = [(c, r["error"]) for c, rs in results.items() for r in rs if r.get("error")]
    for c, e in errors:
        print(f"ERROR in {c[0]} {c[1]}: {e.splitlines()[0]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20, help="agents per cluster (default 20)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--idle", type=float, default=30.0, help="idle window in seconds (default 30)")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds after convergence before measuring")
    ap.add_argument("--timeout", type=float, default=90.0, help="convergence timeout, seconds")
    ap.add_argument("--impls", default="serf,rumor")
    ap.add_argument("--serf", default=shutil.which("serf") or "/usr/bin/serf")
    ap.add_argument("--rumor", default=os.path.join(REPO, ".build-bench/release/rumor"))
    ap.add_argument("--serf-subnet", default="127.0.55")
    ap.add_argument("--rumor-subnet", default="127.0.56")
    ap.add_argument("--key", help="base64 key (default: a fresh one from `rumor keygen`)")
    ap.add_argument("--no-pcap", action="store_true", help="skip tcpdump (network metrics)")
    ap.add_argument("--agent-log-level", default="warn")
    ap.add_argument("--keep-logs", action="store_true")
    args = ap.parse_args()

    impls = [x for x in args.impls.split(",") if x]
    exes = {"serf": args.serf, "rumor": args.rumor}
    for impl in impls:
        if not os.access(exes[impl], os.X_OK):
            sys.exit(f"{impl} binary not found: {exes[impl]}")
    key = args.key or subprocess.run([exes.get("rumor", args.rumor), "keygen"], capture_output=True, text=True,
                                     check=True).stdout.strip()
    subnets = {"serf": args.serf_subnet, "rumor": args.rumor_subnet}
    logroot = tempfile.mkdtemp(prefix="rumor-bench-enc-")

    def log(msg):
        print(msg, flush=True)

    current = []

    def on_term(signum, frame):
        for r in current:
            r.shutdown()
        sys.exit(130)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    log(f"load average: {open('/proc/loadavg').read().split()[:3]}; cpus: {os.cpu_count()}")
    for impl in impls:
        log(f"{impl}: {exes[impl]} ({mb.run_text([exes[impl], 'version']).splitlines()[0] if impl else ''})")
    results = {}
    for rep in range(args.repeats):
        order = [(impl, mode) for impl in impls for mode in ("plain", "encrypted")]
        if rep % 2:
            order.reverse()
        for impl, mode in order:
            logdir = os.path.join(logroot, f"{impl}-{mode}-r{rep}")
            os.makedirs(logdir)
            log(f"== {impl} {mode}, N={args.n}, repeat {rep + 1}")
            run = Run(impl, exes[impl], subnets[impl], args.n, key if mode == "encrypted" else None, logdir, args,
                      log)
            current[:] = [run]
            results.setdefault((impl, mode), []).append(run.measure())
            current.clear()
    print_table(results, impls, args.n)
    if args.keep_logs:
        print(f"\nlogs and pcaps: {logroot}")
    else:
        shutil.rmtree(logroot, ignore_errors=True)
    return 1 if any(r.get("error") for rs in results.values() for r in rs) else 0


if __name__ == "__main__":
    sys.exit(main())
