"""Run every benchmark and write docs/PERFORMANCE.md: `python -m bench` (or `make bench`).

python -m bench                      # sizes, gas, batch, scan, reaction, ablate, risk, fleet, report
python -m bench --skip ablate,scan   # leave some out (their last results stay in the report)
"""

from __future__ import annotations

import argparse
import time

from bench import ablate, batch, fleet, gas, reaction, report, risk, scan, sizes
from bench.common import write_result

BENCHMARKS = {
    "sizes": (sizes.run, "python -m bench.sizes"),
    "gas": (gas.run, "python -m bench.gas"),
    "batch": (batch.run, "python -m bench.batch"),
    "scan": (scan.run, "python -m bench.scan"),
    "reaction": (reaction.run, "python -m bench.reaction"),
    "ablate": (ablate.run, "python -m bench.ablate"),
    "risk": (risk.run, "python -m bench.risk"),
    "fleet": (fleet.run, "python -m bench.fleet"),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--skip", default="", help=f"comma-separated, from: {', '.join(BENCHMARKS)}"
    )
    args = parser.parse_args(argv)
    skip = {s for s in args.skip.split(",") if s}
    unknown = skip - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    for name, (run, command) in BENCHMARKS.items():
        if name in skip:
            continue
        start = time.monotonic()
        data = run()
        data["command"] = command
        write_result(name, data)
        print(f"== {name}: {time.monotonic() - start:.0f} s")
    report.main([])


if __name__ == "__main__":
    main()
