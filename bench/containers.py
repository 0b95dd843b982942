#!/usr/bin/env python3
"""Container action benchmark: `docker kill` of an app container until its replacement serves through HAProxy.

One load-balancer agent (HAProxy action, `app: site`) and one worker agent (`--apps-dir`, 3 site containers) on
loopback, the real engine. For each of --kills rounds a container is killed (slots in turn) and the time is taken
until HAProxy's stats page shows that server UP again and the port answers from the new container. A request loop
runs through HAProxy the whole time and its failures are counted. Then the worker's resident memory with the action
on (3 containers) and an agent without it, both idle.

Anchors, printed beside Rumor's numbers: Docker Swarm restarts a failed task after its default restart delay of 5 s
(`docker service create --restart-delay`, default 5s), and Nebula's workers look at their containers on a 10 s
health-check poll. Neither can be run here without a registry and a Nebula manager with MongoDB, so their
documented defaults stand in for them.

Usage: bench/containers.py [--rumor PATH] [--kills 20]
Needs: rumor-site:v1 (scripts/build-site-images), haproxy, a running dockerd. Default binary: the release build of
scripts/build-release (.build-release/.../rumor).
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LB, WORKER, BARE = "127.0.0.71", "127.0.0.72", "127.0.0.73"
FRONTEND, STATS, PORT = 28200, 28201, 28210


def get(host, port, path="/", timeout=1.0):
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():  # HAProxy's stats page answers chunked even to HTTP/1.0
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return int(head.split()[1]), body.decode(errors="replace")


def up_servers():
    try:
        status, body = get(LB, STATS, "/;csv")
    except OSError:
        return set()
    lines = body.splitlines()
    if not lines or not lines[0].startswith("#"):
        return set()
    cols = lines[0].lstrip("# ").split(",")
    if "addr" not in cols:
        return set()
    ix = {c: i for i, c in enumerate(cols)}
    out = set()
    for line in lines[1:]:
        f = line.split(",")
        if len(f) > ix["addr"] and f[0] == "backends" and f[1].startswith("srv") and f[ix["status"]].startswith("UP"):
            out.add(f[ix["addr"]])
    return out


def wait(what, cond, timeout):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(0.02)
    raise SystemExit(f"timed out after {timeout}s: {what}")


def docker(*args):
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Loop(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.ok, self.failed = False, 0, []

    def run(self):
        while not self.stop:
            try:
                status, _ = get(LB, FRONTEND, timeout=5)
                if status == 200:
                    self.ok += 1
                else:
                    self.failed.append(f"HTTP {status}")
            except OSError as e:
                self.failed.append(str(e))
            time.sleep(0.005)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rumor", default=os.path.join(REPO, ".build-release/release/rumor"))
    ap.add_argument("--kills", type=int, default=20)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rumor-bench-containers-")
    apps = os.path.join(tmp, "apps")
    os.mkdir(apps)
    spec = {"docker_image": "rumor-site:v1", "containers_per": {"server": 3}, "starting_ports": [{str(PORT): "80"}],
            "host_ip": WORKER, "stop_grace": "2s", "drain": "1s"}
    json.dump(spec, open(os.path.join(apps, "site.json"), "w"))
    lb_config = {"actions": {"haproxy": {
        "app": "site", "template": os.path.join(REPO, "templates/haproxy.cfg.mustache"),
        "output": os.path.join(tmp, "haproxy.cfg"), "frontend_bind": f"{LB}:{FRONTEND}", "stats_bind": f"{LB}:{STATS}",
        "master_socket": os.path.join(tmp, "master.sock"), "stats_socket": os.path.join(tmp, "admin.sock"),
        "apply": "runtime"}}}
    json.dump(lb_config, open(os.path.join(tmp, "lb.json"), "w"))
    log = open(os.path.join(tmp, "agents.log"), "w")
    procs = []

    def agent(name, ip, *extra):
        p = subprocess.Popen([args.rumor, "agent", "--node", name, "--bind", f"{ip}:7946", "--rpc-addr", f"{ip}:7373",
                              *extra], stdout=log, stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    try:
        agent("bench-lb", LB, "--config-file", os.path.join(tmp, "lb.json"))
        time.sleep(0.5)
        worker = agent("bench-w1", WORKER, "--join", LB, "--apps-dir", apps)
        bare = agent("bench-bare", BARE, "--join", LB)
        addrs = {f"{WORKER}:{PORT + i}" for i in range(3)}
        try:
            wait("three containers UP in HAProxy", lambda: up_servers() == addrs, 60)
        except SystemExit:
            print("HAProxy's view:", up_servers(), get(LB, STATS, "/;csv")[1][:3000])
            raise
        loop = Loop()
        loop.start()
        times = []
        for k in range(args.kills):
            slot = k % 3 + 1
            name = f"rumor-site-bench-w1-{slot}"
            old = docker("ps", "-q", "--no-trunc", "--filter", f"name=^{name}$")
            addr = f"{WORKER}:{PORT + slot - 1}"
            t0 = time.monotonic()
            docker("kill", old)

            def serving():
                new = docker("ps", "-q", "--no-trunc", "--filter", f"name=^{name}$")
                if not new or new == old or addr not in up_servers():
                    return False
                try:
                    return new[:12] in get(WORKER, PORT + slot - 1)[1]
                except OSError:
                    return False

            wait(f"replacement of {name}", serving, 60)
            times.append(time.monotonic() - t0)
            wait("all three UP again", lambda: up_servers() == addrs, 30)
            # Each slot is killed again only after its restart window (10 s): kills closer together are a crash
            # loop, which Rumor answers with back-off on purpose.
            time.sleep(3)
        loop.stop = True
        loop.join()
        time.sleep(10)  # idle: the action's loops waiting on events and resync
        on, off = rss_kib(worker.pid), rss_kib(bare.pid)
        anon = rss_kib(worker.pid, "RssAnon") - rss_kib(bare.pid, "RssAnon")
        files = rss_kib(worker.pid, "RssFile") - rss_kib(bare.pid, "RssFile")
        threads = (rss_kib(worker.pid, "Threads"), rss_kib(bare.pid, "Threads"))
        print(f"docker kill -> replacement serving through HAProxy, {len(times)} kills:")
        print(f"  {'':28} {'p50 (s)':>8} {'max (s)':>8}")
        print(f"  {'Rumor':28} {statistics.median(times):8.2f} {max(times):8.2f}")
        print(f"  {'Swarm (default restart delay)':28} {5.0:8.2f} {'':>8}   documented default, not run here")
        print(f"  {'Nebula (health poll)':28} {10.0:8.2f} {'':>8}   documented default, not run here")
        print(f"requests through HAProxy meanwhile: {loop.ok + len(loop.failed)}, failed {len(loop.failed)} {loop.failed[:3]}")
        print(f"agent resident memory, idle: container action on (3 containers) {on / 1024:.1f} MiB, "
              f"off {off / 1024:.1f} MiB, difference {(on - off) / 1024:+.2f} MiB (anonymous {anon / 1024:+.2f}, "
              f"file-backed code {files / 1024:+.2f}; threads {threads[0]} vs {threads[1]})")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        ids = docker("ps", "-aq", "--filter", "label=io.rumor.node=bench-w1").split()
        if ids:
            docker("rm", "-f", *ids)


if __name__ == "__main__":
    main()
