"""pytest plugin of `make mutate`, loaded with `-p tests.mutation.plugin` in each mutant's run.

It points titanoboa's compile cache at the campaign's own directory and compiles the
mutated contracts before any test, so that a mutant the compiler refuses is told apart
(exit code `STILLBORN`) from one the tests kill.
"""

from __future__ import annotations

import os
import sys
import traceback

import boa

STILLBORN = 97  # the exit code of a run whose mutated contracts do not compile


def pytest_sessionstart(session) -> None:
    cache = os.environ.get("BULKHEAD_MUTATE_CACHE")
    if cache:
        boa.interpret.set_cache_dir(cache)
    names = [n for n in os.environ.get("BULKHEAD_MUTATE_COMPILE", "").split(",") if n]
    if not names:
        return
    from tests.fuzz.system import deployer

    for name in names:
        try:
            deployer(name)
        except Exception:
            traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(STILLBORN)
