#!/usr/bin/env python3
"""What seeing the cluster costs: idle agents' resident memory and CPU with the HTTP listener off, on, and on while
scraped every second on /metrics (as a Prometheus would), beside serf, in one run.

For each configuration it starts N agents on loopback (127.0.57.x, standard ports), waits until every node sees N
alive members, lets them settle, then measures over an idle window: CPU (utime+stime per agent, CPU-seconds per
minute, mean) and resident memory at its end (VmRSS and RssAnon, mean). Configurations run one after another, never
two at once. Only processes this script started are signalled, by PID.

Usage: bench/observe.py [--rumor PATH] [--n 5] [--idle 30]
Default binary: the release build of scripts/build-release (.build-release/release/rumor). Reuses
bench/membership.py's RPC client and /proc helpers.
"""

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
_spec = importlib.util.spec_from_file_location("membership", os.path.join(HERE, "membership.py"))
mb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mb)

SUBNET = "127.0.57"


def command(impl, exe, i, http):
    ip, node = f"{SUBNET}.{i}", f"{impl}-{i}"
    join = f"{SUBNET}.1:7946" if i > 1 else None
    if impl == "serf":
        return [exe, "agent", f"-node={node}", f"-bind={ip}:7946", f"-rpc-addr={ip}:7373", "-log-level=warn"] + \
            ([f"-join={join}"] if join else [])
    flag = [] if http is None else ["--http-addr", f"{ip}:7374" if http else ""]  # None: a build without the flag
    return [exe, "agent", "--node", node, "--bind", f"{ip}:7946", "--rpc-addr", f"{ip}:7373", "--log-level", "warn"] + \
        flag + (["--join", join] if join else [])


def run(impl, exe, n, idle, http, scrape, logdir):
    procs = []
    try:
        for i in range(1, n + 1):
            log = open(os.path.join(logdir, f"{impl}-{http}-{scrape}-{i}.log"), "wb")
            procs.append(subprocess.Popen(command(impl, exe, i, http), stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL))
            log.close()
            if i == 1:
                time.sleep(0.5)
        deadline = time.monotonic() + 30
        while True:
            views = []
            for i in range(1, n + 1):
                try:
                    c = mb.RPCClient(f"{SUBNET}.{i}", 7373, timeout=2.0)
                    views.append(c.members())
                    c.close()
                except (OSError, ConnectionError, mb.BenchError):
                    views.append(None)
            if all(v and sum(1 for s in v.values() if s == "alive") == n for v in views):
                break
            if time.monotonic() > deadline:
                with open(os.path.join(logdir, f"{impl}-{http}-{scrape}-{n}.log"), errors="replace") as f:
                    tail = "".join(f.readlines()[-5:])
                raise mb.BenchError(f"{impl}: not all {n} alive after 30 s: {views}\n{tail}")
            time.sleep(0.2)
        time.sleep(5)  # settle: joins' push-pulls and the first gossip rounds
        stop = threading.Event()
        scrapes = [0]

        def scraper():  # one GET of /metrics per agent per second, as Prometheus with scrape_interval 1s
            while not stop.wait(1.0):
                for i in range(1, n + 1):
                    with urllib.request.urlopen(f"http://{SUBNET}.{i}:7374/metrics", timeout=2) as r:
                        r.read()
                    scrapes[0] += 1

        t = threading.Thread(target=scraper, daemon=True)
        if scrape:
            t.start()
        before = [mb.proc_times(p.pid) for p in procs]
        time.sleep(idle)
        after = [mb.proc_times(p.pid) for p in procs]
        stop.set()
        mem = [mb.proc_mem(p.pid) for p in procs]
        cpu = [(b - a) * 60 / idle for a, b in zip(before, after)]
        return {"cpu": statistics.mean(cpu), "rss": statistics.mean(m[0] for m in mem),
                "anon": statistics.mean(m[1] for m in mem), "scrapes": scrapes[0]}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rumor", default=os.path.join(REPO, ".build-release/release/rumor"))
    ap.add_argument("--serf", default="/usr/bin/serf")
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--baseline", help="an earlier rumor build (before the listener) to run as one more row")
    a = ap.parse_args()
    configs = [("serf", a.serf, False, False, "serf (no HTTP listener; statsd off)"),
               ("rumor", a.rumor, False, False, "Rumor, HTTP listener off"),
               ("rumor", a.rumor, True, False, "Rumor, HTTP listener on"),
               ("rumor", a.rumor, True, True, "Rumor, on, /metrics scraped every 1 s")]
    if a.baseline:
        configs.append(("rumor", a.baseline, None, False, "Rumor before the listener (--baseline)"))
    rows = []
    with tempfile.TemporaryDirectory() as logdir:
        for impl, exe, http, scrape, label in configs:
            r = run(impl, exe, a.n, a.idle, http, scrape, logdir)
            rows.append((label, r))
            print(f"  {label}: {r}", file=sys.stderr)
    print(f"\nIdle agents, {a.n} per cluster, {a.idle:.0f} s window ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores)\n")
    print(f"rumor: {a.rumor}" + (f"; baseline: {a.baseline}" if a.baseline else ""))
    print(f"| {'configuration':40} | CPU-s/min | RSS MiB | anon MiB |")
    print(f"|{'-' * 42}|----------:|--------:|---------:|")
    for label, r in rows:
        print(f"| {label:40} | {r['cpu']:9.3f} | {r['rss']:7.1f} | {r['anon']:8.1f} |")
    off, on, scraped = rows[1][1], rows[2][1], rows[3][1]
    print(f"\nlistener on vs off: RSS {100 * (on['rss'] / off['rss'] - 1):+.1f} %, CPU {on['cpu'] - off['cpu']:+.3f} CPU-s/min; "
          f"scraped: RSS {100 * (scraped['rss'] / off['rss'] - 1):+.1f} %, CPU {scraped['cpu'] - off['cpu']:+.3f} CPU-s/min "
          f"({scraped['scrapes']} scrapes)")


main()
