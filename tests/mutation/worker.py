"""One worker of `make mutate`: a fork server over its own copy of contracts/.

`python -m tests.mutation.worker <copy of contracts> <boa cache dir> <log dir>` imports the
test stack once and compiles the pristine contracts once; then, for each mutant id read
from stdin, it seeds the mutant into its copy, forks, and the child runs the fast suites
with pytest (every contract the mutant does not touch comes precompiled from the
parent). It answers one JSON line per mutant: exit code and seconds. A child that runs
longer than the timeout is killed (exit code null).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
import time
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

STILLBORN = 97  # the exit code of a run whose mutated contracts do not compile
PRISTINE = (
    "Stablecoin",
    "MarginPool",
    "PoolFactory",
    "PoolLens",
    "SavingsVault",
    "PositionAutomation",
    "mocks/MockToken",
    "mocks/MockAggregator",
    "mocks/MockFeeToken",
    "mocks/MockNoReturnToken",
    "mocks/MockHookToken",
)


def _preload() -> None:
    """Import what every run imports, so a forked child starts at once."""
    for ep in entry_points(group="pytest11"):
        if ep.name != "ape_test":
            # a plugin that cannot load here will not load in the child
            with contextlib.suppress(Exception):
                ep.load()
    for name in ("pytest", "hypothesis", "hypothesis.stateful", "eth_account", "boa.test"):
        importlib.import_module(name)


def _child(mutant, files: list[str], log: Path, system, pristine) -> int:
    """In the forked child: run the suites against the mutated copy; the exit code."""
    import pytest

    from tests.mutation.mutate import deployables

    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    touched = set(deployables(mutant))

    @cache
    def deployer(name: str):
        if name in touched:
            return system.boa.load_partial(str(system.CONTRACTS / f"{name}.vy"))
        return pristine(name)

    system.deployer = deployer
    try:
        for name in touched:
            deployer(name)
    except Exception:
        import traceback

        traceback.print_exc()
        return STILLBORN
    args = ["-p", "no:cacheprovider", "-p", "no:ape_test", "-x", "-q", "-rfE", "--no-header"]
    return int(pytest.main([*args, *files]))


def main() -> None:
    contracts, cache_dir, logs, timeout = (
        Path(sys.argv[1]),
        sys.argv[2],
        Path(sys.argv[3]),
        int(sys.argv[4]),
    )
    os.environ["BULKHEAD_CONTRACTS"] = str(contracts)
    import boa

    boa.interpret.set_cache_dir(cache_dir)
    from tests.fuzz import system
    from tests.mutation.catalogue import MUTANTS
    from tests.mutation.mutate import CONTRACTS, mutate, suite_files

    _preload()
    for name in PRISTINE:
        system.deployer(name)
    pristine = system.deployer
    by_id = {m.id: m for m in MUTANTS}
    child = 0

    def stop(signum, frame) -> None:
        """Stopped (the campaign was interrupted): take the running child along."""
        if child:
            os.kill(child, signal.SIGKILL)
        os._exit(1)

    signal.signal(signal.SIGTERM, stop)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        mutant = by_id[line.strip()]
        target = contracts / mutant.file
        target.write_text(mutate(mutant, CONTRACTS))
        start = time.monotonic()
        pid = child = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = 1
            try:
                code = _child(
                    mutant, suite_files(mutant), logs / f"{mutant.id}.log", system, pristine
                )
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        code: int | None = None
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - start > timeout:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.05)
        child = 0
        target.write_text((CONTRACTS / mutant.file).read_text())
        print(
            json.dumps({"id": mutant.id, "code": code, "seconds": time.monotonic() - start}),
            flush=True,
        )


if __name__ == "__main__":
    main()
