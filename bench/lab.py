#!/usr/bin/env python3
"""A lab of hosts on one machine: network namespaces on a bridge, one agent per host, faults by script.

Each host is a network namespace with one veth (`eth0`, 198.18.0.<i>/24, the benchmarking range) on a bridge that
lives in a namespace of its own, so nothing in the machine's own namespace changes. Every host runs a Rumor agent
(gossip 7946) and, for the membership scenarios, a serf agent (gossip 7947) beside it, so both see exactly the
same faults at the same time. RPC listens on each host's own loopback (127.0.0.1:7373 Rumor, :7374 serf), which
no fault touches; the lab reads membership with `rumor members -format json` / `serf members -format json` run
inside the host's namespace.

Faults are iptables rules in a chain `LAB` of each host's namespace (dropped with the namespace), always on a
packet's arrival (a DROP on the way out fails the sender's sendto, which no real network does), or link state:

    lab.cut(["h1", "h2", "h3"])      symmetric partition: the group and the rest drop each other's packets
    lab.deaf("h5")                   asymmetric: h5 sends, but receives nothing from the other hosts
    lab.loss(0.10)                   random loss on every host's outgoing packets (iptables statistic match)
    lab.flap("h2", 5, 5, 120)        link down 5 s, up 5 s, for 120 s (a thread; lab.heal() stops it)
    lab.heal()                       every rule and flap gone, every link up

Usage (root, iproute2, iptables; serf on PATH for the serf half):

    scripts/lab                      the CI scenarios (2, 3, 4), one line each
    scripts/lab 2 4 --keep-logs      chosen scenarios; logs kept under /tmp
    scripts/lab 1 7                  the long ones, script only: 10 % loss for 10 minutes, a flapping link
    scripts/lab --ci                 exit status 1 when an invariant breaks (scripts/test passes short holds)

Each scenario prints `PASS: <scenario>: <invariant> ...` or `FAIL: <scenario>: <why>`, with Rumor's figure and
serf's beside it; scripts/test counts those lines.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SUBNET = "198.18.0"
PORTS = {"rumor": (7946, 7373), "serf": (7947, 7374)}
HTTP_PORT = 7380  # Rumor's /metrics and cluster page on each host's loopback


class LabError(Exception):
    pass


def run(*cmd, check=True, capture=False, timeout=20):
    """Runs a command; a failure names the command and its output."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise LabError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout if capture else r.returncode


def rumor_binary():
    env = os.environ.get("RUMOR_BIN")
    if env:
        return env
    path = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    exe = os.path.join(path, "rumor")
    if not os.path.exists(exe):
        raise LabError(f"no rumor binary at {exe}: run `swift build` first (or set RUMOR_BIN)")
    return exe


class Lab:
    """N hosts h1..hN in namespaces on one bridge. Use as a context manager: everything it made goes on exit."""

    def __init__(self, n, logdir):
        self.id = f"rlab{os.getpid() % 100000}"
        self.hosts = [f"h{i}" for i in range(1, n + 1)]
        self.logdir = logdir
        self.procs = {}          # (kind, host) -> Popen
        self.made = []           # namespaces created, in order
        self.flappers = []       # (thread, stop event)

    # -- topology ------------------------------------------------------------------------------------------------

    def ns(self, host):
        return f"{self.id}-{host}"

    def ip(self, host):
        return f"{SUBNET}.{self.hosts.index(host) + 1}"

    def __enter__(self):
        try:
            sw = self.ns("sw")
            self._netns(sw)
            run("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
            run("ip", "-n", sw, "link", "set", "br0", "up")
            for h in self.hosts:
                ns = self.ns(h)
                self._netns(ns)
                run("ip", "-n", sw, "link", "add", h, "type", "veth", "peer", "name", "eth0", "netns", ns)
                run("ip", "-n", sw, "link", "set", h, "master", "br0", "up")
                run("ip", "-n", ns, "addr", "add", f"{self.ip(h)}/24", "dev", "eth0")
                run("ip", "-n", ns, "link", "set", "eth0", "up")
                run("ip", "-n", ns, "link", "set", "lo", "up")
                self.iptables(h, "-N", "LAB")
                self.iptables(h, "-I", "INPUT", "-j", "LAB")
                self.iptables(h, "-I", "OUTPUT", "-j", "LAB")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _netns(self, ns):
        run("ip", "netns", "add", ns)
        self.made.append(ns)

    def __exit__(self, *exc):
        self.stop_flapping()
        self.stop_agents()
        for ns in reversed(self.made):  # its veths, bridge and iptables rules go with it
            run("ip", "netns", "del", ns, check=False)
        self.made = []

    def stop_agents(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def iptables(self, host, *args):
        run("ip", "netns", "exec", self.ns(host), "iptables", "-w", *args)

    # -- faults --------------------------------------------------------------------------------------------------

    def drop(self, a, b, probability=None):
        """Drops packets between hosts a and b, both ways (with `probability`, that share of them at random)."""
        odds = ["-m", "statistic", "--mode", "random", "--probability", str(probability)] if probability else []
        # Dropped on arrival, never on the way out: a local DROP in OUTPUT fails the sender's sendto with EPERM,
        # which no real network does, and memberlist then skips the probe instead of suspecting the target.
        # One rule per agent's gossip port first, so counted_drops can tell Rumor's traffic from serf's.
        for x, y in ((a, b), (b, a)):
            for kind, (port, _) in PORTS.items():
                for proto in ("udp", "tcp"):
                    self.iptables(x, "-A", "LAB", "-i", "eth0", "-s", self.ip(y), "-p", proto, "-m", "multiport",
                                  "--ports", str(port), *odds, "-j", "DROP", "-m", "comment", "--comment", kind)
            self.iptables(x, "-A", "LAB", "-i", "eth0", "-s", self.ip(y), *odds, "-j", "DROP")

    def cut(self, group):
        """Symmetric partition: `group` and the other hosts no longer hear each other."""
        for a in group:
            for b in self.hosts:
                if b not in group:
                    self.drop(a, b)

    def deaf(self, host):
        """Asymmetric partition: `host` still sends, but every packet to it is dropped on arrival."""
        self.iptables(host, "-A", "LAB", "-i", "eth0", "-j", "DROP")

    def loss(self, probability, hosts=None):
        """Random loss of `probability` on every packet each host receives (so on each direction of every link)."""
        for h in hosts or self.hosts:
            self.iptables(h, "-A", "LAB", "-i", "eth0", "-m", "statistic", "--mode", "random",
                          "--probability", str(probability), "-j", "DROP")

    def link(self, host, up):
        run("ip", "-n", self.ns(host), "link", "set", "eth0", "up" if up else "down")

    def flap(self, host, down_s, up_s, total_s):
        """Takes `host`'s link down for down_s, up for up_s, over total_s, on a thread (heal() stops it)."""
        stop = threading.Event()

        def flapping():
            end = time.monotonic() + total_s
            while not stop.is_set() and time.monotonic() < end:
                self.link(host, False)
                stop.wait(down_s)
                self.link(host, True)
                stop.wait(up_s)
            self.link(host, True)

        t = threading.Thread(target=flapping, daemon=True)
        t.start()
        self.flappers.append((t, stop))

    def stop_flapping(self):
        for t, stop in self.flappers:
            stop.set()
            t.join(30)
        self.flappers = []

    def delay(self, ms, jitter_ms=0):
        """netem where the kernel has it; here it does not (`tc qdisc ... netem`: unknown qdisc), so say so."""
        for h in self.hosts:
            r = subprocess.run(["ip", "netns", "exec", self.ns(h), "tc", "qdisc", "replace", "dev", "eth0", "root",
                                "netem", "delay", f"{ms}ms", f"{jitter_ms}ms"], capture_output=True, text=True)
            if r.returncode != 0:
                raise LabError(f"no delay on this kernel (tc netem: {r.stderr.strip()})")

    def heal(self):
        self.stop_flapping()
        for h in self.hosts:
            self.iptables(h, "-F", "LAB")
            self.link(h, True)

    def counted_drops(self):
        """{kind: (packets, bytes)} the LAB rules dropped since zero_counters, over all hosts: what tried to
        cross a cut, by agent ("other": anything else)."""
        out = {}
        for h in self.hosts:
            listing = run("ip", "netns", "exec", self.ns(h), "iptables", "-w", "-L", "LAB", "-n", "-v", "-x",
                          capture=True)
            for line in listing.splitlines()[2:]:
                f = line.split()
                if len(f) > 2 and f[2] == "DROP":
                    kind = next((k for k in PORTS if f"/* {k} */" in line), "other")
                    packets, octets = out.get(kind, (0, 0))
                    out[kind] = (packets + int(f[0]), octets + int(f[1]))
        return out

    def zero_counters(self):
        for h in self.hosts:
            self.iptables(h, "-Z", "LAB")

    # -- agents --------------------------------------------------------------------------------------------------

    def start(self, kind, host, join=(), config=None, user_events=False):
        """Starts a Rumor or serf agent on `host`; with `user_events`, each user event's name and arrival time is
        appended to <log>.events by a handler."""
        gossip, rpc = PORTS[kind]
        name = f"{kind}-{host}"
        exe = rumor_binary() if kind == "rumor" else shutil.which("serf")
        if not exe:
            raise LabError("serf is not on PATH")
        cmd = [exe, "agent", f"-node={host}", f"-bind={self.ip(host)}:{gossip}", f"-rpc-addr=127.0.0.1:{rpc}",
               f"-log-level={os.environ.get('LAB_LOG_LEVEL', 'info')}"]
        if kind == "rumor":  # its HTTP listener's default, 127.0.0.1:7374, is serf's RPC here
            cmd.append(f"-http-addr=127.0.0.1:{HTTP_PORT}")
        if user_events:
            events_log = os.path.join(self.logdir, f"{name}.events")
            script = os.path.join(self.logdir, "user-event.sh")
            with open(script, "w") as f:
                f.write('#!/bin/sh\necho "$SERF_USER_EVENT $(date +%s.%N)" >> "$1"\n')
            os.chmod(script, 0o755)
            cmd.append(f"-event-handler=user={script} {events_log}")
        cmd += [f"-join={self.ip(j)}:{gossip}" for j in join]
        if config:
            path = os.path.join(self.logdir, f"{name}.json")
            with open(path, "w") as f:
                json.dump(config, f)
            cmd.append(f"-config-file={path}")
        with open(os.path.join(self.logdir, f"{name}.log"), "wb") as log:
            self.procs[(kind, host)] = subprocess.Popen(["ip", "netns", "exec", self.ns(host), *cmd], stdout=log,
                                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def start_cluster(self, kinds, config=None, user_events=False):
        for kind in kinds:
            self.start(kind, self.hosts[0], config=config.get(kind) if config else None, user_events=user_events)
        # The others join the seed at start and exit if it does not answer: wait for it first.
        deadline = time.monotonic() + 30
        while not all(self.members(k, self.hosts[0]) for k in kinds):
            self.check_running()
            if time.monotonic() > deadline:
                raise LabError(f"the seed's agents did not answer RPC within 30 s")
            time.sleep(0.2)
        for kind in kinds:
            for h in self.hosts[1:]:
                self.start(kind, h, join=[self.hosts[0]], config=config.get(kind) if config else None,
                           user_events=user_events)

    def members(self, kind, host):
        """name -> status as `host`'s agent sees it, or None when its RPC does not answer."""
        exe = rumor_binary() if kind == "rumor" else shutil.which("serf")
        r = subprocess.run(["ip", "netns", "exec", self.ns(host), exe, "members", "-format=json",
                            f"-rpc-addr=127.0.0.1:{PORTS[kind][1]}"], capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            return None
        try:
            return {m["name"]: m["status"] for m in json.loads(r.stdout)["members"]}
        except (ValueError, KeyError):
            return None

    def views(self, kind, hosts=None):
        hosts = hosts or self.hosts
        with concurrent.futures.ThreadPoolExecutor(len(hosts)) as pool:
            return dict(zip(hosts, pool.map(lambda h: self.members(kind, h), hosts)))

    def user_event(self, kind, host, name):
        """Sends user event `name` (never coalesced) through `host`'s agent."""
        exe = rumor_binary() if kind == "rumor" else shutil.which("serf")
        run("ip", "netns", "exec", self.ns(host), exe, "event", f"-rpc-addr=127.0.0.1:{PORTS[kind][1]}",
            "-coalesce=false", name)

    def event_arrivals(self, kind, host):
        """{event name: arrival time (epoch seconds)} from `host`'s handler log, first arrival of each."""
        out = {}
        try:
            with open(os.path.join(self.logdir, f"{kind}-{host}.events")) as f:
                for line in f:
                    name, _, at = line.strip().partition(" ")
                    if at and name not in out:
                        out[name] = float(at)
        except OSError:
            pass
        return out

    def check_running(self):
        for (kind, host), p in self.procs.items():
            if p.poll() is not None:
                raise LabError(f"{kind} on {host} exited with status {p.returncode}: {self.tail(kind, host)}")

    def tail(self, kind, host, lines=5):
        try:
            with open(os.path.join(self.logdir, f"{kind}-{host}.log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:]).strip()
        except OSError:
            return "(no log)"

    def failed_events(self, kind, host):
        """The members `host`'s agent declared failed, once per EventMemberFailed line of its log (both agents log
        serf's line; member-event handlers would not do: coalescing drops a failure followed by a join)."""
        out = []
        with open(os.path.join(self.logdir, f"{kind}-{host}.log"), errors="replace") as f:
            for line in f:
                if "EventMemberFailed: " in line:
                    out.append(line.split("EventMemberFailed: ", 1)[1].split()[0])
        return out

    def await_view(self, kinds, condition, timeout, poll=0.5):
        """Polls each kind's views until `condition(views)` holds; returns {kind: seconds or None if it never did}."""
        start = time.monotonic()
        took = {k: None for k in kinds}
        while any(v is None for v in took.values()):
            self.check_running()
            for k in kinds:
                views = self.views(k)
                if took[k] is None and condition(views):
                    took[k] = time.monotonic() - start
                if os.environ.get("LAB_TRACE"):
                    odd = {o: {n: s for n, s in (v or {}).items() if s != "alive"} for o, v in views.items()}
                    print(f"  {time.monotonic() - start:5.1f} s {k}: {odd}", file=sys.stderr)
            if time.monotonic() - start > timeout:
                break
            time.sleep(poll)
        return took


# -- view predicates ---------------------------------------------------------------------------------------------

def sees(observers, targets, statuses):
    """Every observer answers and sees every target in one of `statuses` (None in statuses: not listed at all)."""
    def check(views):
        return all(views.get(o) is not None and all(views[o].get(t) in statuses for t in targets) for o in observers)
    return check


def converge(lab, kinds, name, report, timeout=60, **start):
    """Starts `kinds` on every host and waits until each agent sees every host alive; when they never do, reports
    scenario `name` failed and returns False."""
    lab.start_cluster(kinds, **start)
    up = lab.await_view(kinds, sees(lab.hosts, lab.hosts, {"alive"}), timeout)
    if None in up.values():
        report(name, False, f"the cluster never converged ({up})")
        return False
    return True


def fmt(seconds):
    return "never" if seconds is None else f"{seconds:.1f} s"


# -- scenarios ---------------------------------------------------------------------------------------------------

class Scenario:
    def __init__(self, lab, args, out):
        self.lab, self.args, self.out = lab, args, out

    def result(self, name, ok, text):
        line = f"{'PASS' if ok else 'FAIL'}: {name}: {text}"
        print(line, flush=True)
        self.out.append(ok)


def scenario_2(lab, args, report):
    """Partition 3 | 2, held past gossip to the dead, then healed: both sides see the other failed, then every node
    sees every node alive again; Rumor within 10 s of the heal."""
    kinds = ["rumor", "serf"]
    if not converge(lab, kinds, "partition-heal", report):
        return
    a, b = lab.hosts[:3], lab.hosts[3:]
    lab.cut(a)
    cut_at = time.monotonic()
    split = lab.await_view(kinds, lambda v: sees(a, b, {"failed"})(v) and sees(b, a, {"failed"})(v), 60)
    # Held on past gossip to the dead (30 s after each failure), so that only the reconnect loops cross the cut
    # after the heal, as after any long partition; what they send meanwhile is counted over the hold's last part.
    # The length is the scenario: nothing to poll for.
    quiet = max(5.0, args.hold - 35)
    time.sleep(args.hold - quiet)
    lab.zero_counters()
    time.sleep(quiet)
    drops = lab.counted_drops()
    per_min = {k: "%d packets / %d bytes" % tuple(x * 60 / quiet for x in drops.get(k, (0, 0))) for k in kinds}
    held = time.monotonic() - cut_at
    lab.heal()
    healed = lab.await_view(kinds, sees(lab.hosts, lab.hosts, {"alive"}), args.heal_limit)
    ok = split["rumor"] is not None and healed["rumor"] is not None and healed["rumor"] < 10
    report("partition-heal", ok,
           f"3|2 cut {held:.0f} s, each side saw the other failed (rumor {fmt(split['rumor'])}, serf "
           f"{fmt(split['serf'])}); after the heal all alive everywhere: rumor {fmt(healed['rumor'])} (goal < 10 s), "
           f"serf {fmt(healed['serf'])}; crossing attempts per minute in the last {quiet:.0f} s of the cut: rumor "
           f"{per_min['rumor']}, serf {per_min['serf']}")


def scenario_3(lab, args, report):
    """A partition past reconnect_timeout: each half reaps the other, and after the heal they find each other
    again with no operator (serf's reaped members are forgotten)."""
    kinds = ["rumor", "serf"]
    config = {"rumor": {"reconnect_timeout": f"{args.reconnect_timeout}s"},
              "serf": {"reconnect_timeout": f"{args.reconnect_timeout}s"}}
    if not converge(lab, kinds, "partition-past-reap", report, config=config):
        return
    a, b = lab.hosts[:3], lab.hosts[3:]
    lab.cut(a)
    cut_at = time.monotonic()
    # Reaped: no longer listed at all (failed, then erased after reconnect_timeout by the 15 s reap tick).
    reaped = lab.await_view(kinds, lambda v: sees(a, b, {None})(v) and sees(b, a, {None})(v),
                            args.reconnect_timeout + 90)
    # And past gossip to the dead (30 s after each failure, memberlist's own memory of a dead node): before that,
    # serf's memberlist still gossips to the reaped nodes, and a heal then is not the case this scenario is about.
    time.sleep(max(0.0, 65 - (time.monotonic() - cut_at)))
    lab.heal()
    healed = lab.await_view(kinds, sees(lab.hosts, lab.hosts, {"alive"}), args.rejoin_limit)
    ok = reaped["rumor"] is not None and healed["rumor"] is not None
    report("partition-past-reap", ok,
           f"reconnect_timeout {args.reconnect_timeout} s, halves reaped each other (rumor {fmt(reaped['rumor'])}, "
           f"serf {fmt(reaped['serf'])}); after the heal all alive everywhere: rumor {fmt(healed['rumor'])}, serf "
           f"{fmt(healed['serf'])} (within {args.rejoin_limit} s)")


def scenario_4(lab, args, report):
    """Asymmetric partition: one host sends but cannot receive. No healthy node may be declared failed."""
    kinds = ["rumor", "serf"]
    if not converge(lab, kinds, "asymmetric-partition", report):
        return
    deaf, healthy = lab.hosts[-1], lab.hosts[:-1]
    lab.deaf(deaf)
    deaf_at = time.monotonic()
    seen = lab.await_view(kinds, sees(healthy, [deaf], {"failed"}), 60)
    time.sleep(args.deaf_hold)  # the deaf host keeps probing and gossiping into the cluster: the scenario's point
    held = time.monotonic() - deaf_at
    lab.heal()
    counts = {}
    for k in kinds:
        false = [f"{o} saw {n}" for o in healthy for n in lab.failed_events(k, o) if n in healthy]
        counts[k] = false
    ok = seen["rumor"] is not None and not counts["rumor"]
    report("asymmetric-partition", ok,
           f"{deaf} deaf for {held:.0f} s, seen failed by the others (rumor {fmt(seen['rumor'])}, serf "
           f"{fmt(seen['serf'])}); false failures of healthy nodes: rumor {len(counts['rumor'])}, serf "
           f"{len(counts['serf'])}" + (f" ({', '.join(counts['rumor'][:4])})" if counts["rumor"] else ""))


def scenario_1(lab, args, report):
    """Loss on every link for a long time (script only): no healthy node is ever declared failed, and user events
    reach every handler, p99 within 2 s. Delay is applied only where the kernel has netem."""
    kinds = ["rumor", "serf"]
    if not converge(lab, kinds, "loss", report, timeout=90, user_events=True):
        return
    try:
        lab.delay(50, 20)
        delay = "50 ms ± 20 ms delay (netem)"
    except LabError as e:
        delay = f"no delay ({e})"
    lab.loss(args.loss)
    sent = {k: {} for k in kinds}
    interval = args.duration / args.events
    start = time.monotonic()
    for i in range(args.events):
        for k in kinds:
            name = f"lab{i}"
            sent[k][name] = time.time()
            lab.user_event(k, lab.hosts[i % len(lab.hosts)], name)
        time.sleep(max(0.0, start + (i + 1) * interval - time.monotonic()))
    time.sleep(5)  # the last events' gossip
    lab.heal()
    figures, ok = {}, True
    for k in kinds:
        lat, missing = [], 0
        for h in lab.hosts:
            arrived = lab.event_arrivals(k, h)
            for name, at in sent[k].items():
                if name in arrived:
                    lat.append(arrived[name] - at)
                else:
                    missing += 1
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else None
        false = sum(len(lab.failed_events(k, h)) for h in lab.hosts)
        figures[k] = f"{false} failures, {missing} of {len(sent[k]) * len(lab.hosts)} deliveries missing, p99 " + \
            ("n/a" if p99 is None else f"{p99:.2f} s")
        if k == "rumor":
            ok = false == 0 and missing == 0 and p99 is not None and p99 <= 2.0
    report("loss", ok, f"{len(lab.hosts)} hosts, {args.loss:.0%} loss, {delay}, {args.duration:.0f} s, "
                       f"{args.events} events: rumor {figures['rumor']}; serf {figures['serf']}")


def scenario_7(lab, args, report):
    """A flapping link (script only): after it, membership converges; the flaps cost a bounded number of
    member-failed events about the flapping host."""
    kinds = ["rumor", "serf"]
    if not converge(lab, kinds, "flapping-link", report):
        return
    flapper = lab.hosts[1]
    lab.flap(flapper, 5, 5, args.flap_for)
    time.sleep(args.flap_for)
    lab.heal()
    healed = lab.await_view(kinds, sees(lab.hosts, lab.hosts, {"alive"}), 90)
    churn = {k: sum(1 for h in lab.hosts for n in lab.failed_events(k, h) if n == flapper) for k in kinds}
    others = {k: sum(1 for h in lab.hosts for n in lab.failed_events(k, h) if n != flapper and h != flapper)
              for k in kinds}
    ok = healed["rumor"] is not None and others["rumor"] == 0
    report("flapping-link", ok,
           f"{flapper} down 5 s / up 5 s for {args.flap_for:.0f} s: converged after it in rumor "
           f"{fmt(healed['rumor'])}, serf {fmt(healed['serf'])}; member-failed events about {flapper}: rumor "
           f"{churn['rumor']}, serf {churn['serf']}; about healthy nodes: rumor {others['rumor']}, serf "
           f"{others['serf']}")


def containers(app, node, healthy=False):
    """Ids of `app`'s containers that `node`'s agent made (its io.rumor.node label); running and healthy only, or
    in any state. The lab's workers share the machine's one dockerd through its socket."""
    cmd = ["docker", "ps", "-q" if healthy else "-aq", "--filter", f"label=io.rumor.app={app}",
           "--filter", f"label=io.rumor.node={node}"] + (["--filter", "health=healthy"] if healthy else [])
    return run(*cmd, capture=True, timeout=30).split()


def scenario_5(lab, args, report):
    """Replicas 6 over 3 workers, one cut off past lost_after: the other two take its share; after the heal exactly
    6 run, 2 per worker (rebalance), and none is left behind on the returning worker, within 60 s."""
    workers, ops = lab.hosts[:3], lab.hosts[3]
    app = f"lab{os.getpid() % 100000}"  # container names and labels of this run only
    key = os.path.join(lab.logdir, "deploy.key")
    public = run(rumor_binary(), "apps", "keygen", "--out", key, capture=True).split()[-1]
    apps_dir = os.path.join(lab.logdir, "apps")
    os.makedirs(apps_dir)
    spec = os.path.join(lab.logdir, f"{app}.json")
    with open(spec, "w") as f:
        json.dump({"docker_image": "rumor-site:v1", "replicas": 6, "rebalance": True,
                   "advertise": {"network": "bridge", "port": 80},
                   "healthcheck": {"cmd": "wget -q -O /dev/null http://127.0.0.1/health", "interval": "500ms", "retries": 2},
                   "stable_after": "2s", "lost_after": f"{args.lost_after:g}s", "drain": "200ms", "stop_grace": "1s"}, f)

    def spread(healthy=True):
        return {w: len(containers(app, w, healthy)) for w in workers}

    def await_spread(condition, timeout):
        start = time.monotonic()
        while True:
            lab.check_running()
            now = spread(), spread(False)
            if condition(*now):
                return time.monotonic() - start, now
            if time.monotonic() - start > timeout:
                return None, now
            time.sleep(0.5)

    try:
        lab.start("rumor", ops, config={"apps_trust": [public]})
        lab.await_view(["rumor"], sees([ops], [ops], {"alive"}), 30)
        for w in workers:
            lab.start("rumor", w, join=[ops], config={"apps_trust": [public], "apps_dir": apps_dir})
        up = lab.await_view(["rumor"], sees(lab.hosts, lab.hosts, {"alive"}), 60)["rumor"]
        if up is None:
            return report("replicas-partition", False, "the cluster never converged")
        deployed = subprocess.run(["ip", "netns", "exec", lab.ns(ops), rumor_binary(), "apps", "deploy", "--wait", spec,
                                   app, "-rpc-addr=127.0.0.1:7373"], capture_output=True, text=True, timeout=120,
                                  env={**os.environ, "RUMOR_APPS_SIGN_KEY": key})
        if deployed.returncode != 0:
            return report("replicas-partition", False, f"deploy failed: {deployed.stderr.strip()}")
        even = lambda healthy, _all: healthy == {w: 2 for w in workers} and _all == healthy
        took, seen = await_spread(even, 60)
        if took is None:
            return report("replicas-partition", False, f"6 replicas never ran 2-2-2 after the deploy: {seen}")
        cut = workers[2]
        lab.cut([cut])
        others = workers[:2]
        took_over, seen = await_spread(lambda h, _: sum(h[w] for w in others) == 6, args.lost_after + 60)
        if took_over is None:
            return report("replicas-partition", False, f"{', '.join(others)} never ran all 6 while {cut} was cut off: {seen}")
        during = seen
        lab.heal()
        healed, seen = await_spread(even, 60)
        ok = healed is not None
        report("replicas-partition", ok,
               f"6 replicas on 3 workers, {cut} cut off: the others ran all 6 {took_over:.1f} s after the cut "
               f"(lost_after {args.lost_after:g} s; {cut} kept {during[0][cut]} meanwhile); after the heal exactly 6, "
               f"2 per worker, none left behind: {fmt(healed)} (within 60 s; last seen {seen[1]})")
    finally:
        # The agents first (a live worker would replace what is removed), then the containers they made.
        lab.stop_agents()
        for w in workers:
            ids = containers(app, w)
            if ids:
                run("docker", "rm", "-f", *ids, check=False, timeout=60)


SCENARIOS = {"1": (scenario_1, 10), "2": (scenario_2, 5), "3": (scenario_3, 5), "4": (scenario_4, 5),
             "5": (scenario_5, 4), "7": (scenario_7, 5)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", default=["2", "3", "4"], help="scenario numbers (default: 2 3 4)")
    p.add_argument("--hold", type=float, default=60,
                   help="scenario 2: seconds the partition lasts after both sides saw it (default 60)")
    p.add_argument("--deaf-hold", type=float, default=40,
                   help="scenario 4: seconds the host stays deaf after it was seen failed (default 40)")
    p.add_argument("--heal-limit", type=float, default=90, help="seconds to wait for a heal (default 90)")
    p.add_argument("--reconnect-timeout", type=int, default=10, help="reconnect_timeout in scenario 3 (s)")
    p.add_argument("--rejoin-limit", type=float, default=60, help="seconds to wait for reaped halves (default 60)")
    p.add_argument("--loss", type=float, default=0.10, help="scenario 1: loss on every link (default 0.10)")
    p.add_argument("--duration", type=float, default=600, help="scenario 1: seconds under loss (default 600)")
    p.add_argument("--events", type=int, default=200, help="scenario 1: user events sent (default 200)")
    p.add_argument("--flap-for", type=float, default=120, help="scenario 7: seconds of flapping (default 120)")
    p.add_argument("--lost-after", type=float, default=10, help="scenario 5: the app's lost_after (default 10 s)")
    p.add_argument("--keep-logs", action="store_true")
    p.add_argument("--ci", action="store_true", help="exit 1 when any invariant breaks")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("scripts/lab: needs root (network namespaces and iptables)")
    for s in args.scenarios:
        if s not in SCENARIOS:
            sys.exit(f"scripts/lab: no scenario {s!r} (have {', '.join(SCENARIOS)})")
    results = []
    logroot = tempfile.mkdtemp(prefix="rumor-lab-")
    for s in args.scenarios:
        fn, n = SCENARIOS[s]
        logdir = os.path.join(logroot, f"scenario-{s}")
        os.makedirs(logdir)
        scenario = Scenario(None, args, results)
        try:
            with Lab(n, logdir) as lab:
                scenario.lab = lab
                fn(lab, args, scenario.result)
        except (LabError, subprocess.TimeoutExpired) as e:
            scenario.result(f"scenario {s}", False, str(e))
    if args.keep_logs or not all(results):
        print(f"logs: {logroot}", file=sys.stderr)
    else:
        shutil.rmtree(logroot, ignore_errors=True)
    if args.ci and not all(results):
        sys.exit(1)


if __name__ == "__main__":
    main()
