#!/usr/bin/env python3
"""User-event and member-join latency benchmark: Rumor vs. HashiCorp serf, side by side on loopback.

For each cluster size N it starts an N-node serf cluster, measures, tears it down completely, then does the same
with an N-node Rumor cluster (the two never run at once; same default `lan` timings). Every agent runs one event
handler for the user event `bench`:

    serf  -event-handler  'user:bench=<dir>/handler.sh <node>'
    rumor --event-handler 'user:bench=<dir>/handler.sh <node>'

The handler first takes a CLOCK_REALTIME timestamp (`date +%s%N`; all agents share one host, so wall-clock
timestamps are comparable) and appends "<node> <ns> <payload>" to <dir>/<node>.log. Once every node lists N alive
members (and after --settle seconds), the script sends events from a random node through that node's CLI

    serf event  -coalesce=false  -rpc-addr=IP:7373 bench <seq>
    rumor event --coalesce=false --rpc-addr IP:7373 bench <seq>

recording time.time_ns() just before starting the CLI, and waits until all N handlers have logged <seq>. Per event
it records the time from "send" until the first handler ran (normally the sender's own: CLI + RPC + local handler
spawn), until 50 % and 90 % of the handlers ran, and until the LAST one ran (the headline number), plus how long
the CLI process took.

Two modes, each in the same cluster:
  nocoalesce  --repeats events (default 5) sent with coalescing off: dissemination + handler start
  coalesce    --coalesce-repeats events (default 1) with coalescing on (the CLI default): the agents' user-event
              coalescer holds the event until 1 s of quiet (at most 3 s), so expect ~1 s more; for reference only

Then --joins new members are started one at a time (each: launch -> member-join handler ran on all N others), and
a --burst of joins within one second (member-join handler runs per node: Rumor fires the first at once and coalesces
the rest, serf waits for 1 s of quiet).

Results: median and p90 over the events of each mode. Every node binds its own loopback IP with the standard ports
(serf on 127.0.53.x, Rumor on 127.0.54.x by default). Python 3 standard library only; cluster handling and the
RPC client are shared with bench/membership.py.

Usage:
  bench/events.py                                # N = 50, 5 events without coalescing + 1 with, both impls
  bench/events.py --sizes 5,20,50 --repeats 10
  bench/events.py --impls rumor --keep-logs --agent-log-level debug

Build Rumor first: scripts/build-release .build-bench
"""

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no bench/__pycache__ from the import below
import membership as mb  # noqa: E402  (same directory: Cluster, RPCClient, environment printout)

REPO = mb.REPO
BenchError = mb.BenchError

HANDLER = """#!/bin/sh
# bench/events.py handler: $1 = node name. Timestamp first, then the payload (the event's sequence number).
t=$(date +%s%N)
p=$(cat)
echo "$1 $t $p" >> "{dir}/$1.log"
"""

# member-join: one line per member in the event ("<node> <ns> <member>"), to <node>.join.log.
JOIN_HANDLER = """#!/bin/sh
t=$(date +%s%N)
while IFS="$(printf '\\t')" read -r name rest; do echo "$1 $t $name" >> "{dir}/$1.join.log"; done
"""


class EventImpl(mb.Impl):
    """An Impl whose agents run the bench handler for user events named `bench`."""

    def __init__(self, name, exe, subnet, log_level, handler):
        super().__init__(name, exe, subnet, log_level)
        self.handler = handler

    def agent_cmd(self, node, ip, join):
        cmd = super().agent_cmd(node, ip, join)
        flag = "-event-handler" if self.name == "serf" else "--event-handler"
        cmd += [flag, f"user:bench={self.handler} {node}"]
        cmd += [flag, f"member-join={self.join_handler} {node}"]
        return cmd

    def event_cmd(self, ip, seq, coalesce):
        if self.name == "serf":
            return [self.exe, "event", f"-coalesce={'true' if coalesce else 'false'}", f"-rpc-addr={ip}:7373",
                    "bench", str(seq)]
        return [self.exe, "event", f"--coalesce={'true' if coalesce else 'false'}", "--rpc-addr", f"{ip}:7373",
                "bench", str(seq)]


def read_marks(outdir, names, seq, suffix=".log"):
    """{node: ns} for the handlers that have logged payload seq (a member's name in .join.log) so far."""
    marks = {}
    want = str(seq)
    for name in names:
        try:
            with open(os.path.join(outdir, f"{name}{suffix}")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[2] == want:
                        marks[name] = int(parts[1])
                        break
        except OSError:
            pass
    return marks


def rank(sorted_vals, frac):
    """The value by which frac of the list has happened (nearest-rank: ceil(frac*n)-th smallest)."""
    k = max(1, -(-int(round(frac * 1000)) * len(sorted_vals) // 1000))
    return sorted_vals[min(k, len(sorted_vals)) - 1]


def send_event(cl, impl, outdir, sender, seq, coalesce, args, log):
    """Sends one event and waits for every handler. Returns a dict of seconds (None entries if some never ran)."""
    names = [cl.name(i) for i in range(1, cl.n + 1)]
    cmd = impl.event_cmd(cl.ip(sender), seq, coalesce)
    t_send = time.time_ns()
    cli = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    t_cli = time.time_ns()
    if cli.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} failed ({cli.returncode}): {(cli.stderr or cli.stdout).strip()}")
    deadline = time.monotonic() + args.event_timeout
    while True:
        marks = read_marks(outdir, names, seq)
        if len(marks) >= cl.n or time.monotonic() > deadline:
            break
        cl.check_alive()
        time.sleep(args.poll)
    res = {"cli": (t_cli - t_send) / 1e9, "handlers": len(marks)}
    lat = sorted((ns - t_send) / 1e9 for ns in marks.values())
    if lat:
        res["first"] = lat[0]
        res["sender"] = ((marks[cl.name(sender)] - t_send) / 1e9) if cl.name(sender) in marks else None
    if len(marks) < cl.n:
        missing = sorted(set(names) - set(marks))
        log(f"    event {seq}: only {len(marks)}/{cl.n} handlers ran within {args.event_timeout}s "
            f"(missing {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''})")
        res.update(p50=None, p90=None, last=None)
        if len(lat) >= (cl.n + 1) // 2:
            res["p50"] = rank(lat + [float("inf")] * (cl.n - len(lat)), 0.5)
        if len(lat) >= -(-9 * cl.n // 10):
            res["p90"] = rank(lat + [float("inf")] * (cl.n - len(lat)), 0.9)
        return res
    res["p50"] = rank(lat, 0.5)
    res["p90"] = rank(lat, 0.9)
    res["last"] = lat[-1]
    log(f"    event {seq} ({'coalesce' if coalesce else 'no coalesce'}) from {cl.name(sender)}: "
        f"first {res['first']:.3f}s, 50% {res['p50']:.3f}s, 90% {res['p90']:.3f}s, all {cl.n} {res['last']:.3f}s "
        f"(cli {res['cli']:.3f}s)")
    return res


def measure_join(cl, impl, outdir, n, k, args, log):
    """Starts node n+k joining node 1; seconds from its launch until every one of nodes 1..n ran its member-join
    handler for it (None if some never did)."""
    names = [cl.name(i) for i in range(1, n + 1)]
    new = cl.name(n + k)
    t_start = time.time_ns()
    cl.launch(n + k, f"{cl.ip(1)}:7946")
    deadline = time.monotonic() + args.event_timeout
    while True:
        marks = read_marks(outdir, names, new, ".join.log")
        if len(marks) >= n or time.monotonic() > deadline:
            break
        time.sleep(args.poll)
    if len(marks) < n:
        log(f"    join of {new}: only {len(marks)}/{n} member-join handlers ran within {args.event_timeout}s")
        return None
    lat = sorted((ns - t_start) / 1e9 for ns in marks.values())
    log(f"    join of {new}: first handler {lat[0]:.3f}s, 50% {rank(lat, 0.5):.3f}s, all {n} {lat[-1]:.3f}s after its start")
    return {"first": lat[0], "p50": rank(lat, 0.5), "last": lat[-1]}


def count_runs(outdir, names):
    """How many member-join handler runs each node made (one timestamp per run)."""
    runs = {}
    for name in names:
        try:
            with open(os.path.join(outdir, f"{name}.join.log")) as f:
                runs[name] = len({line.split()[1] for line in f if len(line.split()) >= 3})
        except OSError:
            runs[name] = 0
    return runs


def run_cluster(impl, n, args, logroot, log):
    """One cluster: start, converge, send the events. Returns {"nocoalesce": [..], "coalesce": [..]} or error."""
    logdir = os.path.join(logroot, f"{impl.name}-n{n}")
    outdir = impl.outdir
    os.makedirs(logdir, exist_ok=True)
    res = {"nocoalesce": [], "coalesce": []}
    rng = random.Random(args.seed * 1000 + n)
    cl = mb.Cluster(impl, n, logdir, args, log)
    try:
        cl.wait_ports_free(range(1, n + 1))
        cl.launch(1, None)
        cl.wait_views([1], lambda v: v.get(cl.name(1)) == "alive", args.timeout, "the seed to start", poll=0.01)
        t0 = time.monotonic()
        for i in range(2, n + 1):
            cl.launch(i, f"{cl.ip(1)}:7946")

        def all_alive(v):
            return sum(1 for s in v.values() if s == "alive") >= n
        # Full convergence: every node lists N alive members.
        cl.wait_views(list(range(1, n + 1)), all_alive, args.timeout, f"every node to see {n} alive",
                      watch=list(cl.procs), poll=0.2)
        log(f"    converged: all {n} nodes see {n} alive after {time.monotonic() - t0:.2f}s; settling {args.settle}s")
        for c in list(cl.clients.values()):
            c.close()
        cl.clients.clear()
        time.sleep(args.settle)
        cl.check_alive()
        seq = 0
        plan = [("nocoalesce", False)] * args.repeats + [("coalesce", True)] * args.coalesce_repeats
        for mode, coalesce in plan:
            seq += 1
            sender = rng.randint(1, n)
            r = send_event(cl, impl, outdir, sender, seq, coalesce, args, log)
            res[mode].append(r)
            # Let the broadcast queues drain (and the coalescer's window close) before the next event.
            time.sleep(args.gap)
        # Member joins, one at a time: launch -> member-join handler ran on all N others.
        for k in range(1, args.joins + 1):
            res.setdefault("join", [])
            r = measure_join(cl, impl, outdir, n, k, args, log)
            if r:
                res["join"].append(r)
            time.sleep(args.gap)
        # A burst: args.burst nodes started within a second; member-join handler runs per existing node.
        if args.burst:
            names = [cl.name(i) for i in range(1, n + 1)]
            before = count_runs(outdir, names)
            first = n + args.joins + 1
            for i in range(first, first + args.burst):
                cl.launch(i, f"{cl.ip(1)}:7946")
                time.sleep(1.0 / args.burst)
            deadline = time.monotonic() + args.event_timeout
            want = {cl.name(i) for i in range(first, first + args.burst)}
            while time.monotonic() < deadline:
                seen = all(want <= {line.split()[2] for line in open(os.path.join(outdir, f"{nm}.join.log"))
                                    if len(line.split()) >= 3} for nm in names
                           if os.path.exists(os.path.join(outdir, f"{nm}.join.log")))
                if seen:
                    break
                time.sleep(0.1)
            time.sleep(4)  # the coalescer's window (at most 3 s) closes
            after = count_runs(outdir, names)
            per_node = sorted(after[nm] - before[nm] for nm in names)
            res["burst"] = per_node
            log(f"    burst of {args.burst} joins in 1 s: member-join handler runs per node: max {per_node[-1]}, "
                f"median {per_node[len(per_node) // 2]}")
        # Sanity: no handler ran twice for one event, and no event leaked into another node's file late.
        extra = 0
        for i in range(1, n + 1):
            try:
                with open(os.path.join(outdir, f"{cl.name(i)}.log")) as f:
                    seqs = [line.split()[2] for line in f if len(line.split()) >= 3]
                extra += len(seqs) - len(set(seqs))
            except OSError:
                pass
        if extra:
            log(f"    warning: {extra} duplicate handler runs")
        return res
    except BenchError as e:
        log(f"    ERROR: {e}")
        res["error"] = str(e)
        return res
    finally:
        cl.shutdown()


# ---------------------------------------------------------------------------------------------------------------------
# Reporting

COLUMNS = [("first", "first handler"), ("p50", "50% handlers"), ("p90", "90% handlers"), ("last", "ALL handlers"),
           ("cli", "CLI run")]


def pct(vals, q):
    s = sorted(vals)
    return rank(s, q)


def fmt_cell(runs, key):
    vals = [r.get(key) for r in runs]
    ok = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    if not ok:
        return "FAILED"
    text = f"{statistics.median(ok):.3f} / {pct(ok, 0.9):.3f}"
    if len(ok) < len(vals):
        text += f" ({len(vals) - len(ok)} failed)"
    return text


def print_tables(results, sizes, impls):
    print()
    print("user event latency [s], send -> handler ran; each cell: median / p90 over the events")
    header = ["N", "mode", "impl", "events"] + [c[1] for c in COLUMNS] + ["ALL: rumor/serf"]
    table = [header]
    for n in sizes:
        for mode in ("nocoalesce", "coalesce"):
            meds = {}
            for impl in impls:
                r = results.get((impl.name, n))
                if r is None:
                    continue
                runs = r.get(mode, [])
                if not runs and "error" not in r:
                    continue
                line = [str(n), "coalesce=false" if mode == "nocoalesce" else "coalesce=true", impl.name,
                        str(len(runs))]
                line += [fmt_cell(runs, key) for key, _ in COLUMNS]
                last = [x["last"] for x in runs if x.get("last") is not None]
                meds[impl.name] = statistics.median(last) if last else None
                line.append("")
                table.append(line)
            if meds.get("serf") and meds.get("rumor") is not None:
                table[-1][-1] = f"{meds['rumor'] / meds['serf']:.2f}"
    widths = [max(len(r[c]) for r in table) for c in range(len(header))]
    for j, r in enumerate(table):
        print("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if j == 0:
            print("  " + "  ".join("-" * w for w in widths))
    print()
    print("new member -> member-join handler ran on every other node [s]; median over the joins; burst: runs per node")
    for n in sizes:
        for impl in impls:
            r = results.get((impl.name, n)) or {}
            joins = r.get("join", [])
            if joins:
                med = statistics.median(x["last"] for x in joins)
                p50 = statistics.median(x["p50"] for x in joins)
                burst = r.get("burst")
                btxt = f"; burst: at most {max(burst)} member-join runs per node" if burst else ""
                print(f"  N={n:<3} {impl.name:<5}  all others {med:.3f}  (50% {p50:.3f}, {len(joins)} joins){btxt}")
    for (name, n), r in sorted(results.items()):
        if "error" in r:
            print(f"  {name} N={n}: {r['error']}")
    print()


def print_env(impls, args):
    print("== environment")
    print(f"  date     {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"  nproc    {os.cpu_count()}")
    print(f"  kernel   {os.uname().release}")
    try:
        with open("/proc/loadavg") as f:
            print(f"  loadavg  {f.read().strip()}  (other load on the host skews every number: check it is ~0)")
    except OSError:
        pass
    for impl in impls:
        v = mb.run_text([impl.exe, "version"]).replace("\n", " | ")
        print(f"  {impl.name:<8} {impl.exe}: {v}  (subnet {impl.subnet}.0/24)")
    head = mb.run_text(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    dirty = mb.run_text(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"])
    print(f"  rumor git {head}{' (+uncommitted changes)' if dirty else ''}")
    print(f"  settings sizes={args.sizes} repeats={args.repeats} coalesce_repeats={args.coalesce_repeats} "
          f"settle={args.settle}s gap={args.gap}s poll={args.poll}s event_timeout={args.event_timeout}s", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="50", help="comma-separated cluster sizes (default 50)")
    p.add_argument("--repeats", type=int, default=5, help="events sent with coalescing off (default 5)")
    p.add_argument("--coalesce-repeats", type=int, default=1,
                   help="events sent with coalescing on, for reference (default 1; 0 skips)")
    p.add_argument("--settle", type=float, default=3.0, help="wait after full convergence before the first event")
    p.add_argument("--gap", type=float, default=2.0, help="wait after each event's last handler (default 2 s)")
    p.add_argument("--poll", type=float, default=0.005, help="handler-file poll interval, seconds")
    p.add_argument("--timeout", type=float, default=90.0, help="timeout for start-up and convergence, seconds")
    p.add_argument("--event-timeout", type=float, default=20.0, help="timeout for all handlers of one event")
    p.add_argument("--impls", default="serf,rumor", help="which implementations to run, in order (default serf,rumor)")
    p.add_argument("--serf", default=shutil.which("serf") or "/usr/bin/serf", help="serf binary")
    p.add_argument("--rumor", default=os.path.join(REPO, ".build-bench", "release", "rumor"), help="rumor binary")
    p.add_argument("--serf-subnet", default="127.0.53", help="first three octets for serf nodes")
    p.add_argument("--rumor-subnet", default="127.0.54", help="first three octets for rumor nodes")
    p.add_argument("--keep-logs", action="store_true", help="keep agent logs and handler files (path printed)")
    p.add_argument("--agent-log-level", default="warn", help="agents' log level (default warn)")
    p.add_argument("--seed", type=int, default=1, help="seed for choosing the sending node")
    p.add_argument("--joins", type=int, default=3, help="new members started one at a time, each timed to its "
                   "member-join handler on all others (default 3)")
    p.add_argument("--burst", type=int, default=20, help="then this many joins within 1 s: member-join handler runs "
                   "per node (default 20; 0: none)")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if any(n < 1 or n > 250 for n in sizes):
        p.error("sizes must be between 1 and 250")
    if args.repeats < 1:
        p.error("--repeats must be at least 1")

    logroot = tempfile.mkdtemp(prefix="rumor-bench-events-")
    known = {}
    for name, exe, subnet in (("serf", args.serf, args.serf_subnet), ("rumor", args.rumor, args.rumor_subnet)):
        outdir = os.path.join(logroot, f"{name}-handlers")
        os.makedirs(outdir, exist_ok=True)
        handler = os.path.join(outdir, "handler.sh")
        with open(handler, "w") as f:
            f.write(HANDLER.replace("{dir}", outdir))
        os.chmod(handler, 0o755)
        impl = EventImpl(name, exe, subnet, args.agent_log_level, handler)
        impl.join_handler = os.path.join(outdir, "join-handler.sh")
        with open(impl.join_handler, "w") as f:
            f.write(JOIN_HANDLER.replace("{dir}", outdir))
        os.chmod(impl.join_handler, 0o755)
        impl.outdir = outdir
        known[name] = impl
    impls = []
    for name in args.impls.split(","):
        if name not in known:
            p.error(f"unknown implementation {name!r}")
        if not (os.path.isfile(known[name].exe) and os.access(known[name].exe, os.X_OK)):
            p.error(f"{name} binary not found: {known[name].exe}")
        impls.append(known[name])

    def log(msg):
        print(msg, flush=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)

    print_env(impls, args)
    results = {}
    interrupted = False
    started = time.monotonic()
    try:
        for n in sizes:
            for impl in impls:
                log(f"== {impl.name} N={n}")
                # Handler files are per node name; a fresh directory per cluster keeps sequence numbers unique.
                for f in os.listdir(impl.outdir):
                    if f.endswith(".log"):
                        os.remove(os.path.join(impl.outdir, f))
                results[(impl.name, n)] = run_cluster(impl, n, args, logroot, log)
    except KeyboardInterrupt:
        interrupted = True
        log("\ninterrupted: agents stopped; partial results follow")
    finally:
        print(f"\n== results ({time.monotonic() - started:.0f}s total)")
        print_tables(results, sizes, impls)
        if args.keep_logs:
            print(f"logs kept in {logroot}")
        else:
            shutil.rmtree(logroot, ignore_errors=True)
    errors = sum(1 for r in results.values() if "error" in r)
    return 130 if interrupted else (1 if errors else 0)


if __name__ == "__main__":
    sys.exit(main())
