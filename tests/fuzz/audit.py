"""`make audit`'s fuzzing half: the audit profile's steps split over one process per core.

    python -m tests.fuzz.audit [--jobs N]

Each shard is a `coverage run -p` of the stateful fuzzer with `BULKHEAD_FUZZ_SHARD=i/N`, so it
runs its 1/N of `BULKHEAD_FUZZ_STEPS` with its own random seeds; one more process runs the rest
of `tests/fuzz` (audit profile) and the attack catalogue. When all have finished, this adds their rule counts,
prints them and writes `.build/audit/fuzz_stats_audit.json`, then combines the coverage data
(`coverage report` reads it). Exits non-zero when any shard failed; its log is printed.
Ctrl-C or SIGTERM stops every shard.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".build" / "audit"
RC = "tests/audit/coverage.rc"


def _command(tests: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "coverage", "run", "-p", f"--rcfile={RC}",
        "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:ape_test", "-q", *tests,
    ]  # fmt: skip


# the property tests, regressions and attack catalogue: one more process beside the shards
REST = ["tests/fuzz", "--ignore=tests/fuzz/test_invariants.py", "tests/audit/test_catalogue.py"]


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()  # coverage.rc's sigterm = True keeps what it measured
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.audit", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2, help="shards, one per core (default 2)")
    jobs = parser.parse_args(argv).jobs
    if jobs < 1:
        parser.error("--jobs must be at least 1")
    OUT.mkdir(parents=True, exist_ok=True)
    for old in [*OUT.glob(".coverage*"), *OUT.glob("fuzz_stats_audit*.json")]:
        old.unlink()
    procs, logs = [], []
    runs = [
        (f"shard{i}", f"{i}/{jobs}", ["tests/fuzz/test_invariants.py"]) for i in range(1, jobs + 1)
    ]
    for name, shard, tests in [*runs, ("rest", "1/1", REST)]:
        env = {**os.environ, "BULKHEAD_FUZZ_PROFILE": "audit", "BULKHEAD_FUZZ_SHARD": shard}
        log = OUT / f"{name}.log"
        logs.append(log)
        with log.open("w") as sink:
            procs.append(
                subprocess.Popen(
                    _command(tests), cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
                )
            )
    print(
        f"audit: {jobs} fuzzer shards and the other tests running, logs in {OUT.relative_to(ROOT)}/",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        codes = [proc.wait() for proc in procs]
    finally:
        _stop(procs)
    totals: Counter[str] = Counter()
    for shard in range(1, jobs + 1):
        name = "fuzz_stats_audit.json" if jobs == 1 else f"fuzz_stats_audit.{shard}of{jobs}.json"
        stats = OUT / name
        if stats.exists():
            totals.update(
                {k: v for k, v in json.loads(stats.read_text()).items() if isinstance(v, int)}
            )
    (OUT / "fuzz_stats_audit.json").write_text(
        json.dumps({"profile": "audit", "shards": jobs, **dict(sorted(totals.items()))}, indent=2)
        + "\n"
    )
    print(
        f"fuzz: {totals['steps']} steps in {totals['campaigns']} campaigns"
        f" over {jobs} shards (rule/outcome: count)"
    )
    for key, count in sorted(totals.items()):
        if key not in ("steps", "campaigns"):
            print(f"  {key:50s} {count:8d}")
    subprocess.run(
        [sys.executable, "-m", "coverage", "combine", f"--rcfile={RC}"], cwd=ROOT, check=True
    )
    for code, log in zip(codes, logs):
        if code != 0:
            print(f"\naudit: {log.stem} failed (exit {code}); its log:\n{log.read_text()}")
    return 1 if any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
