#!/usr/bin/env python3
"""Containers: Rumor beside Docker Swarm, both run here, on one engine, with the same image and policies.

Same image (rumor-site:v1/v2: a static-busybox web server that ignores SIGTERM), the same health check (1 s
interval, 2 retries), 6 replicas, restart delay 1 s, update parallelism 1, delay 0, monitor 2 s, stop grace 10 s,
failure action rollback. Swarm: `docker swarm init --advertise-addr 127.0.0.1` and a `docker service` of the local
image. Rumor: one worker agent against the same engine, then three worker agents (`--rumor-workers 1,3`), deploying
signed specs with `rumor apps deploy`. The systems never run at once: Rumor's runs first (no swarm on the engine),
then Swarm's, and the script leaves the swarm at the end.

Every time is taken the same way for both: from the command to the moment the engine's container list (its API on
the unix socket, polled every 50 ms) shows the wanted containers healthy. Rows:

  create -> N healthy     a first deploy; "cold": right after `swarm init` / right after the worker agents
                          started (their RPC answers); "warm": the app stopped and created again
  kill -> N healthy       `docker kill` of one container (slots in turn, 1 s after the last healed; a slot comes
                          round again after ~20 s, past the restart window): p50 and max over --kills
  same slot again         one slot killed again 2 s after it healed, --repeat-kills times (back-off, docs/containers.md)
  update stop-first       v1 -> v2, until N healthy on v2 (old containers may still be in their stop grace)
  update start-first      v1 -> v2 (after an untimed roll back to v1), the same
  scale 6 -> 12 -> 3      until 12 healthy; then until only 3 run (the others are stopped: 10 s of stop grace)
  failing update          v2 whose health check fails (start-first, failure action rollback) until the service is
                          back on v1, N healthy and nothing else running (Swarm: UpdateStatus rollback_completed;
                          Rumor: `deploy --wait` exits 1 with the reason)
  memory                  the agents' VmRSS; dockerd's VmRSS with Rumor's containers vs with Swarm's service

Usage: bench/containers.py [--rumor PATH] [--kills 10] [--rumor-workers 1,3] [--no-swarm]
Needs: rumor-site:v1 and :v2 (scripts/build-site-images), a running dockerd with swarm mode inactive. Default
binary: the release build of scripts/build-release (.build-release/release/rumor); `--rumor .build/debug/rumor`
runs the debug build (the table says which).
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SOCK = "/var/run/docker.sock"
V1, V2 = "rumor-site:v1", "rumor-site:v2"
HEALTH = "wget -q -O /dev/null http://127.0.0.1/health || exit 1"
SERVICE = "rumor-bench-site"
APP = "bench-site"
RUMOR_IPS = ["127.0.0.91", "127.0.0.92", "127.0.0.93", "127.0.0.94", "127.0.0.95"]
TIMEOUT = 180


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=30)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(SOCK)


def api(path):
    c = UnixHTTP()
    try:
        c.request("GET", path)
        r = c.getresponse()
        return json.loads(r.read() or b"null")
    finally:
        c.close()


def running(label):
    """Running containers with this label: (id, image, healthy, slot)."""
    q = urllib.parse.quote(json.dumps({"label": [label], "status": ["running"]}))
    out = []
    for c in api(f"/containers/json?filters={q}"):
        labels = c.get("Labels") or {}
        slot = labels.get("io.rumor.slot") or (labels.get("com.docker.swarm.task.name", "x.0").split(".") + ["0"])[1]
        out.append((c["Id"], c["Image"].split("@")[0], "(healthy)" in c["Status"], int(slot)))
    return out


def healthy(label, image, n, only=False):
    """n healthy on image (only: and nothing else running)."""
    def check():
        cs = running(label)
        good = [c for c in cs if c[1] == image and c[2]]
        return len(good) == n and (not only or len(cs) == n)
    return check


def wait(cond, timeout=TIMEOUT):
    """Seconds until cond() holds, or None after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def timed(start, cond, timeout=TIMEOUT):
    t = wait(cond, timeout)
    return None if t is None else time.monotonic() - start


def run(*args, check=True, env=None):
    p = subprocess.run(list(args), capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    return p


def kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def dockerd_pid():
    p = run("pidof", "dockerd", check=False).stdout.split()
    return int(p[0]) if p else None


def kills(label, image, n, rounds, same_slot=False, pause=1.0):
    """docker kill one container, time until n healthy again (and the killed one gone)."""
    times = []
    for k in range(rounds):
        if wait(healthy(label, image, n, only=True), 60) is None:
            break
        time.sleep(2.0 if same_slot else pause)
        cs = sorted(running(label), key=lambda c: c[3])
        victim = cs[0] if same_slot else cs[k % len(cs)]
        t0 = time.monotonic()
        run("docker", "kill", victim[0])
        t = timed(t0, lambda: (lambda cs: victim[0] not in [c[0] for c in cs]
                               and len([c for c in cs if c[1] == image and c[2]]) == n)(running(label)), 60)
        if t is None:
            break
        times.append(t)
    return times


# --- Swarm ------------------------------------------------------------------------------------------------------

def swarm(args, results, notes):
    label = f"com.docker.swarm.service.name={SERVICE}"
    state = run("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
    if state != "inactive":
        notes.append(f"Swarm not run: this engine's swarm mode is '{state}' (the bench only runs on an engine it may init)")
        return
    run("docker", "swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        common = ["--restart-condition", "any", "--restart-delay", "1s", "--update-parallelism", "1",
                  "--update-delay", "0s", "--update-monitor", "2s", "--update-failure-action", "rollback",
                  "--update-max-failure-ratio", "0", "--rollback-parallelism", "1", "--rollback-delay", "0s",
                  "--rollback-monitor", "2s", "--rollback-order", "start-first", "--stop-grace-period", "10s",
                  "--health-cmd", HEALTH, "--health-interval", "1s", "--health-timeout", "3s", "--health-retries", "2"]

        def create():
            t0 = time.monotonic()
            run("docker", "service", "create", "-d", "--name", SERVICE, "--replicas", "6", *common, V1)
            return timed(t0, healthy(label, V1, 6))

        def remove():
            run("docker", "service", "rm", SERVICE)
            wait(lambda: not running(label), 60)

        def update(*flags):
            run("docker", "service", "update", "-d", *flags, SERVICE)

        results["create cold"] = create()
        remove()
        results["create warm"] = create()
        wait(healthy(label, V1, 6, only=True))
        results["kill"] = kills(label, V1, 6, args.kills)
        results["kill same"] = kills(label, V1, 6, args.repeat_kills, same_slot=True)
        wait(healthy(label, V1, 6, only=True))
        t0 = time.monotonic()
        update("--image", V2, "--update-order", "stop-first")
        results["update stop-first"] = timed(t0, healthy(label, V2, 6))
        wait(lambda: service_state() == "completed")
        update("--image", V1, "--update-order", "start-first")
        wait(healthy(label, V1, 6, only=True))
        wait(lambda: service_state() == "completed")
        t0 = time.monotonic()
        update("--image", V2)
        results["update start-first"] = timed(t0, healthy(label, V2, 6))
        wait(lambda: service_state() == "completed")
        update("--image", V1)
        wait(healthy(label, V1, 6, only=True))
        wait(lambda: service_state() == "completed")
        t0 = time.monotonic()
        run("docker", "service", "scale", "-d", f"{SERVICE}=12")
        results["scale up"] = timed(t0, healthy(label, V1, 12))
        t0 = time.monotonic()
        run("docker", "service", "scale", "-d", f"{SERVICE}=3")
        results["scale down"] = timed(t0, healthy(label, V1, 3, only=True))
        run("docker", "service", "scale", "-d", f"{SERVICE}=6")
        wait(healthy(label, V1, 6, only=True))
        results["dockerd rss"] = kib(dockerd_pid()) if dockerd_pid() else None
        t0 = time.monotonic()
        update("--image", V2, "--health-cmd", "exit 1")
        results["rollback"] = timed(t0, lambda: service_state() == "rollback_completed" and healthy(label, V1, 6, only=True)())
        remove()
    finally:
        run("docker", "service", "rm", SERVICE, check=False)
        run("docker", "swarm", "leave", "--force", check=False)


def service_state():
    p = run("docker", "service", "inspect", SERVICE, "--format", "{{json .UpdateStatus}}", check=False)
    try:
        return (json.loads(p.stdout) or {}).get("State", "")
    except ValueError:
        return ""


# --- Rumor ------------------------------------------------------------------------------------------------------

def rumor_spec(image=V1, order="start-first", replicas=6, health=HEALTH):
    return json.dumps({
        "docker_image": image, "replicas": replicas, "advertise": {"network": "bridge", "port": 80},
        "healthcheck": {"cmd": health, "interval": "1s", "timeout": "3s", "retries": 2},
        "restart": {"delay": "1s"}, "stop_grace": "10s", "drain": "0s",
        "update": {"parallelism": 1, "delay": "0s", "monitor": "2s", "order": order, "failure_action": "rollback"},
    })


def rumor(args, workers, results, notes):
    label = f"io.rumor.app={APP}"
    tmp = tempfile.mkdtemp(prefix="rumor-bench-containers-")
    key = os.path.join(tmp, "deploy.key")
    public = run(args.rumor, "apps", "keygen", "--out", key).stdout.strip().splitlines()[-1]
    env = dict(os.environ, RUMOR_APPS_SIGN_KEY=key)
    apps = os.path.join(tmp, "apps")
    os.mkdir(apps)
    log = open(os.path.join(tmp, "agents.log"), "w")
    procs = []
    rpc = f"{RUMOR_IPS[0]}:7373"

    def cli(*words, check=True):
        return run(args.rumor, "apps", *words, "--rpc-addr", rpc, check=check, env=env)

    def deploy(text, *flags, check=True):
        path = os.path.join(tmp, "spec.json")
        with open(path, "w") as f:
            f.write(text)
        return cli("deploy", *flags, path, APP, check=check)

    try:
        launched = time.monotonic()
        for i in range(workers):
            ip = RUMOR_IPS[i]
            join = ["--join", RUMOR_IPS[0]] if i else []
            procs.append(subprocess.Popen(
                [args.rumor, "agent", "--node", f"bench-w{i + 1}", "--bind", f"{ip}:7946", "--rpc-addr", f"{ip}:7373",
                 "--apps-dir", apps, "--apps-trust", public, *join], stdout=log, stderr=subprocess.STDOUT))
        members = lambda: run(args.rumor, "members", "--rpc-addr", rpc, check=False).stdout.count(" alive") == workers
        if wait(members, 30) is None:
            raise RuntimeError(f"the {workers} worker agents did not form a cluster: see {log.name}")
        up = time.monotonic() - launched
        # Right after the workers started: no node has been alive for stable_after yet.
        t0 = time.monotonic()
        deploy(rumor_spec())
        results["create cold"] = timed(t0, healthy(label, V1, 6))
        notes.append(f"Rumor {workers} worker(s): cold create deployed {up:.2f} s after the agents were launched")
        cli("stop", "--wait", APP)
        t0 = time.monotonic()
        p = deploy(rumor_spec(), "--wait")
        wait_returned = time.monotonic() - t0
        results["create warm"] = timed(t0, healthy(label, V1, 6))
        results["deploy --wait"] = wait_returned
        results["kill"] = kills(label, V1, 6, args.kills)
        results["kill same"] = kills(label, V1, 6, args.repeat_kills, same_slot=True)
        wait(healthy(label, V1, 6, only=True))
        t0 = time.monotonic()
        deploy(rumor_spec(V2, "stop-first"))
        results["update stop-first"] = timed(t0, healthy(label, V2, 6))
        deploy(rumor_spec(V1), "--wait")
        wait(healthy(label, V1, 6, only=True))
        t0 = time.monotonic()
        deploy(rumor_spec(V2))
        results["update start-first"] = timed(t0, healthy(label, V2, 6))
        deploy(rumor_spec(V1), "--wait")
        wait(healthy(label, V1, 6, only=True))
        t0 = time.monotonic()
        cli("scale", APP, "12")
        results["scale up"] = timed(t0, healthy(label, V1, 12))
        t0 = time.monotonic()
        cli("scale", APP, "3")
        results["scale down"] = timed(t0, healthy(label, V1, 3, only=True))
        cli("scale", "--wait", APP, "6")
        wait(healthy(label, V1, 6, only=True))
        time.sleep(5)  # settled: the agents idle with 6 containers
        results["agent rss"] = [kib(p.pid) for p in procs]
        results["dockerd rss"] = kib(dockerd_pid()) if dockerd_pid() else None
        t0 = time.monotonic()
        p = deploy(rumor_spec(V2, health="exit 1"), "--wait", check=False)
        returned = time.monotonic() - t0
        results["rollback"] = timed(t0, healthy(label, V1, 6, only=True))
        reason = (p.stderr.strip() or p.stdout.strip()).splitlines()[-1:] or [""]
        notes.append(f"Rumor {workers} worker(s): the failing deploy's --wait exited {p.returncode} after "
                     f"{returned:.1f} s: {reason[0]}")
        cli("stop", "--wait", APP, check=False)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        ids = run("docker", "ps", "-aq", "--filter", f"label={label}").stdout.split()
        if ids:
            run("docker", "rm", "-f", *ids, check=False)


# --- Table ------------------------------------------------------------------------------------------------------

def cell(v, key):
    if key in ("kill", "kill same"):
        if not v:
            return "–"
        if key == "kill same":
            return ", ".join(f"{t:.1f}" for t in v)
        return f"{statistics.median(v):.2f} / {max(v):.2f} ({len(v)})"
    if v is None:
        return "timed out"
    return f"{v:.2f}"


ROWS = [
    ("create cold", "create → 6 healthy, cold (s)"),
    ("create warm", "create → 6 healthy, warm (s)"),
    ("kill", "`docker kill` one → 6 healthy, p50 / max (kills)"),
    ("kill same", "same slot killed 2 s after healing (s)"),
    ("update stop-first", "v1 → v2 stop-first, 6 healthy on v2 (s)"),
    ("update start-first", "v1 → v2 start-first, 6 healthy on v2 (s)"),
    ("scale up", "scale 6 → 12, 12 healthy (s)"),
    ("scale down", "scale 12 → 3, 3 running (s)"),
    ("rollback", "failing update → rolled back, 6 healthy on v1 (s)"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rumor", default=os.path.join(REPO, ".build-release/release/rumor"))
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--repeat-kills", type=int, default=4)
    ap.add_argument("--rumor-workers", default="1,3")
    ap.add_argument("--no-swarm", action="store_true")
    args = ap.parse_args()
    for image in (V1, V2):
        if run("docker", "image", "inspect", image, check=False).returncode != 0:
            sys.exit(f"missing image {image}: run scripts/build-site-images")
    columns, notes = [], []
    base = dockerd_pid() and kib(dockerd_pid())
    for w in [int(x) for x in args.rumor_workers.split(",") if x]:
        r = {}
        columns.append((f"Rumor, {w} worker{'s' if w > 1 else ''}", r))
        rumor(args, w, r, notes)
    if not args.no_swarm:
        s = {}
        columns.insert(0, ("Swarm", s))
        swarm(args, s, notes)
    build = "release" if ".build-release" in args.rumor else "debug" if "debug" in args.rumor else args.rumor
    print(f"Containers, one engine, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, rumor {build} build")
    print()
    print("| | " + " | ".join(name for name, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for key, title in ROWS:
        print(f"| {title} | " + " | ".join(cell(r.get(key), key) for _, r in columns) + " |")
    rss = ["–" if "agent rss" not in r else "+".join(f"{k / 1024:.1f}" for k in r["agent rss"]) + " MiB (agents)"
           for _, r in columns]
    for i, (_, r) in enumerate(columns):
        if "agent rss" not in r and r.get("dockerd rss") and base:
            rss[i] = f"dockerd {r['dockerd rss'] / 1024:.1f} MiB"
        elif r.get("dockerd rss"):
            rss[i] += f"; dockerd {r['dockerd rss'] / 1024:.1f} MiB"
    print("| memory with 6 running | " + " | ".join(rss) + " |")
    print()
    if base:
        print(f"dockerd VmRSS before the run: {base / 1024:.1f} MiB (swarm mode inactive).")
    for n in notes:
        print(n)


if __name__ == "__main__":
    main()
