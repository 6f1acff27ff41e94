"""`make bench`: every benchmark in one run, one after the other (they share the 2 cores, so never in
parallel). Each script prints its JSON line(s) and merges its figures into benchmarks/results/*.json;
docs/benchmarks.md explains them.

    python benchmarks/run_all.py [--quick]      # --quick: shorter load levels (10 s each)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 s per load level instead of 30 s")
    args = parser.parse_args()
    steps: list[list[str]] = [
        ["intents.py", "--dataset", "clinc150"],
        ["intents.py", "--dataset", "banking77"],
        ["retrieval.py", "--dataset", "stackfaq"],
        ["retrieval.py", "--dataset", "stackfaq", "--alternates-from-group", "1"],
        ["retrieval.py", "--dataset", "stackfaq", "--abstention"],
        ["retrieval.py", "--perf"],
        ["conversations.py"],
        ["latency.py"],
        ["load.py", "--seconds", "10" if args.quick else "30"],
    ]
    failed = []
    for step in steps:
        started = time.perf_counter()
        print(f"== {' '.join(step)}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / step[0]), *step[1:]], check=False)
        print(f"   ({time.perf_counter() - started:.0f} s, exit {done.returncode})", flush=True)
        if done.returncode:
            failed.append(" ".join(step))
    if failed:
        print("failed: " + "; ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
