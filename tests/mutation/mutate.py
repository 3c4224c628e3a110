"""Mutation testing of the contracts: `make mutate` (`python -m tests.mutation`).

Each mutant of `tests/mutation/catalogue.py` is seeded, one at a time, into a worker's own
copy of contracts/ (the real tree is never written), and the fast titanoboa suites run
against that copy (`BULKHEAD_CONTRACTS`, read by tests/fuzz/system.py): first the test
files the mutant names, then the rest, stopping at the first failure. A mutant is killed
when a test fails, stillborn when the compiler refuses it, and survives when every test
passes. Prints the kill rate and the survivors; exits non-zero when a mutant that is not
marked equivalent survives, or when the catalogue is stale (a snippet that no longer
occurs exactly once).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.mutation.catalogue import FAST_SUITES, KINDS, MUTANTS, Mutant
from tests.mutation.worker import STILLBORN

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
WORK = ROOT / ".build" / "mutate"
TIMEOUT = 900  # [seconds] per mutant; a run that hangs this long counts as killed
# the deployables that compile a module's code
IMPORTERS = {
    "modules/risk.vy": ("MarginPool", "PoolFactory", "PoolLens"),
    "modules/oracle_guard.vy": ("MarginPool",),
}


class StaleMutant(ValueError):
    """A catalogue entry whose snippet does not occur exactly once in its file."""


def mutate(m: Mutant, contracts: Path = CONTRACTS) -> str:
    """The mutated text of `m.file`; raises StaleMutant unless the snippet occurs once."""
    source = (contracts / m.file).read_text()
    count = source.count(m.original)
    if count != 1:
        raise StaleMutant(f"{m.id}: snippet occurs {count} times in {m.file}, expected once")
    return source.replace(m.original, m.replacement)


def line_of(m: Mutant, contracts: Path = CONTRACTS) -> int:
    """The line of `m.file` where the mutated snippet starts (1-based)."""
    source = (contracts / m.file).read_text()
    return source[: source.index(m.original)].count("\n") + 1


def deployables(m: Mutant) -> tuple[str, ...]:
    """The deployable contracts whose bytecode the mutant changes (compiled anew)."""
    return IMPORTERS.get(m.file, (m.file.removesuffix(".vy"),))


def check(mutants: tuple[Mutant, ...] = MUTANTS) -> list[str]:
    """Problems of the catalogue itself: stale snippets, bad kinds, duplicate ids."""
    problems = []
    seen: set[str] = set()
    for m in mutants:
        if m.id in seen:
            problems.append(f"{m.id}: duplicate id")
        seen.add(m.id)
        if m.kind not in KINDS:
            problems.append(f"{m.id}: unknown kind {m.kind!r}")
        if m.original == m.replacement:
            problems.append(f"{m.id}: the replacement equals the original")
        try:
            mutate(m)
        except StaleMutant as exc:
            problems.append(str(exc))
    return problems


def suite_files(m: Mutant) -> list[str]:
    """Tests in the order they run for `m`: its own (files or node ids) first, then the
    fast suites."""
    files: list[str] = []
    for pattern in (*m.tests, *FAST_SUITES):
        for path in sorted(glob.glob(pattern, root_dir=ROOT)) or [pattern]:
            if path not in files and (ROOT / path.split("::")[0]).is_file():
                files.append(path)
    return files


@dataclass
class Outcome:
    id: str
    file: str
    line: int
    kind: str
    description: str
    equivalent: str
    status: str  # killed, survived, stillborn, timeout, error
    by: str  # the first failing test, for a killed mutant
    seconds: float


def _outcome(m: Mutant, code: int | None, seconds: float, log: Path) -> Outcome:
    by = ""
    if code is None:
        status = "timeout"
    elif code == 0:
        status = "survived"
    elif code == 1:
        status = "killed"
        found = re.search(r"^(?:FAILED|ERROR) (\S+)", log.read_text(), re.M)
        by = found.group(1) if found else "?"
    elif code == STILLBORN:
        status = "stillborn"
    else:
        status = "error"
        by = f"pytest exit code {code}, see {log.relative_to(ROOT)}"
    return Outcome(
        m.id, m.file, line_of(m), m.kind, m.description, m.equivalent, status, by, seconds
    )


def run(mutants: list[Mutant], jobs: int) -> list[Outcome]:
    """Run every mutant on `jobs` fork-server workers (tests/mutation/worker.py)."""
    if WORK.exists():
        shutil.rmtree(WORK)
    cache, logs = WORK / "boa-cache", WORK / "logs"
    logs.mkdir(parents=True)
    # the slowest first (an equivalent mutant runs every suite), so no worker idles at the end
    todo: queue.Queue[Mutant] = queue.Queue()
    for m in sorted(mutants, key=lambda m: not m.equivalent):
        todo.put(m)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    width = max(len(m.id) for m in mutants)
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def work(index: int) -> None:
        worker = WORK / f"w{index}" / "contracts"
        shutil.copytree(CONTRACTS, worker)
        cmd = [sys.executable, "-m", "tests.mutation.worker"]
        args = [str(worker), str(cache), str(logs), str(TIMEOUT)]
        with subprocess.Popen(
            [*cmd, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            workers.append(proc)
            assert proc.stdin and proc.stdout
            proc.stdout.readline()  # ready: the pristine contracts are compiled
            while not stopping.is_set():
                try:
                    m = todo.get_nowait()
                except queue.Empty:
                    break
                proc.stdin.write(m.id + "\n")
                proc.stdin.flush()
                answer = json.loads(proc.stdout.readline())
                outcome = _outcome(m, answer["code"], answer["seconds"], logs / f"{m.id}.log")
                with lock:
                    outcomes.append(outcome)
                    print(
                        f"[{len(outcomes):3d}/{len(mutants)}] {outcome.status:9s} "
                        f"{m.id:{width}s} {m.file}:{outcome.line} {outcome.seconds:5.1f} s "
                        f"{outcome.by}",
                        flush=True,
                    )
            proc.stdin.close()

    workers: list[subprocess.Popen] = []
    stopping = threading.Event()
    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(jobs)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(timeout=1)
    except KeyboardInterrupt:
        stopping.set()
        for proc in workers:
            proc.terminate()  # the worker kills the mutant's run it has under way
        raise
    return outcomes


def report(outcomes: list[Outcome], seconds: float) -> int:
    """Print the kill rate and the survivors; the exit code of `make mutate`."""
    real = [o for o in outcomes if not o.equivalent]
    killed = [o for o in real if o.status in ("killed", "timeout", "stillborn")]
    survivors = [o for o in real if o.status == "survived"]
    errors = [o for o in outcomes if o.status == "error"]
    stillborn = [o for o in outcomes if o.status == "stillborn"]
    equivalent = [o for o in outcomes if o.equivalent]
    rate = 100 * len(killed) / len(real) if real else 100.0
    print(
        f"\nmutation testing: {len(outcomes)} mutants in {seconds / 60:.1f} min; "
        f"killed {len(killed)} of {len(real)} non-equivalent ({rate:.1f} %); "
        f"{len(equivalent)} marked equivalent"
    )
    for o in equivalent:
        note = (
            "survived, as expected" if o.status == "survived" else f"{o.status} (not equivalent?)"
        )
        print(f"  equivalent {o.file}:{o.line} {o.id}: {note}")
    for o in stillborn:
        print(f"  stillborn (the compiler refuses it; fix the catalogue) {o.file}:{o.line} {o.id}")
    for o in errors:
        print(f"  error {o.file}:{o.line} {o.id}: {o.by}")
    if survivors:
        print("survivors:")
        for o in sorted(survivors, key=lambda o: (o.file, o.line)):
            print(f"  {o.file}:{o.line} {o.id} [{o.kind}]: {o.description}")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "report.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=2) + "\n")
    return 1 if survivors or errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers (default 2)")
    parser.add_argument("ids", nargs="*", help="run only these mutants (default: all)")
    args = parser.parse_args(argv)
    problems = check()
    if problems:
        print("make mutate: the catalogue is stale:", *problems, sep="\n  ")
        return 2
    chosen = [m for m in MUTANTS if not args.ids or m.id in args.ids]
    unknown = set(args.ids) - {m.id for m in MUTANTS}
    if unknown:
        print(f"make mutate: unknown mutant ids: {', '.join(sorted(unknown))}")
        return 2
    print(f"make mutate: {len(chosen)} mutants, {args.jobs} workers, logs in .build/mutate/logs")
    start = time.monotonic()
    outcomes = run(chosen, max(1, min(args.jobs, len(chosen))))
    return report(outcomes, time.monotonic() - start)
