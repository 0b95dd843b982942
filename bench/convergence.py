#!/usr/bin/env python3
"""The simulator at scale: Rumor's protocol core in clusters of 1,000 to 10,000 nodes, beside Serf's model.

Builds the `rumor-convergence` program (release) and runs it. It drives the real protocol core (every packet through
the real codec) on a virtual clock, in one process:

  converged start   every node starts as a long-settled member (one view of the cluster, shared copy-on-write):
                    10 s idle window, then one user event from node 0, then node n-1 killed
  cold join         nodes start 10 ms apart, each joining through a random earlier node, until all see all alive

The sizes in --tick (default 1,000 and 10,000) run a second time with memberlist's tick-only gossip (Rumor's
eager rounds and ring successor off), which is what Serf's model describes: the simulator checked against it.

It prints, per size: virtual time for the event to reach 50 %, 99 % and 99.99 % of handlers; Serf's convergence
model for 99.99 % (the formula of serf.io's convergence simulator, fanout 3, 200 ms rounds: 1,000 nodes 2.2 s,
10,000 nodes 2.6 s); virtual time until 99.99 % of the others saw the killed node failed; packets and bytes sent
per node per second while idle; wall time and resident memory of the run.

Usage:
  bench/convergence.py                                   # 1k, 2k, 5k, 10k converged (+ tick only); 2k cold join
  bench/convergence.py --sizes 1000 --tick "" --cold ""  # one size, nothing else
"""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    scratch = os.environ.get("SCRATCH", ".build-bench")
    build = ["swift", "build", "-c", "release", "--product", "rumor-convergence", "--scratch-path", scratch]
    subprocess.run(build, cwd=REPO, check=True, stdout=sys.stderr)
    binary = subprocess.run(build + ["--show-bin-path"], cwd=REPO, check=True, capture_output=True, text=True)
    program = os.path.join(binary.stdout.strip(), "rumor-convergence")
    return subprocess.run([program] + sys.argv[1:]).returncode


if __name__ == "__main__":
    sys.exit(main())
