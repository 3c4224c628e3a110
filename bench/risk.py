"""Speed and accuracy of the risk model (`bulkhead.monitor.risk_model`), chain-free.

python -m bench.risk                          # 10,000 paths x 10,000 positions, 3 cases
python -m bench.risk --paths 2000 --positions 500 --runs 1

A synthetic WETH book with the default pool's parameters: health 1 + Gamma(2, 0.15) (median
about 1.25, a few under 1.05), collateral log-normal around 1 WETH (at least 0.1), the reserve at its
default target. Each case is timed end to end (`make_book` excluded, reported apart):
paths, bridge minima, per-position probabilities, liquidation rounds, tails. Accuracy: the
model's probability for single positions against the closed-form first passage.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from bench.common import finish, summarize
from bulkhead.deploy import Config
from bulkhead.monitor import risk_model
from bulkhead.risk import SECONDS_PER_YEAR, WAD

PRICE = 3_000  # [USD]
RESERVE = 10_000  # [bhUSD]
CASES = (
    ("24h, vol 80 %, normal", 0.8, 86_400, "normal"),
    ("24h, vol 80 %, Student-t df 4", 0.8, 86_400, "t"),
    ("7d, vol 150 %, Student-t df 4 (stress)", 1.5, 7 * 86_400, "t"),
)
ACCURACY_HEALTHS = (1.02, 1.05, 1.1, 1.2)


def synthetic_book(positions: int, seed: int = 1) -> tuple[risk_model.Book, float]:
    """(book, seconds to build it) for `positions` WETH positions."""
    params = next(p for p in Config.load().pools if p.name == "WETH").params
    rng = np.random.default_rng(seed)
    health = 1.0 + rng.gamma(2.0, 0.15, positions)
    coll = np.maximum(rng.lognormal(0.0, 1.0, positions), 0.1)  # debt above the minimum
    threshold = params.liquidation_threshold / 10_000
    debt = coll * PRICE * threshold / health
    rows = [
        (i + 1, "0x" + "00" * 20, int(c * WAD), int(d * WAD))
        for i, (c, d) in enumerate(zip(coll, debt))
    ]
    start = time.perf_counter()
    book = risk_model.make_book("WETH", PRICE * WAD, rows, params, 1, RESERVE * WAD, 86_400)
    return book, time.perf_counter() - start


def accuracy(paths: int) -> list[dict[str, float]]:
    """Model vs closed form, one position at a time (24 h, vol 80 %)."""
    params = next(p for p in Config.load().pools if p.name == "WETH").params
    out = []
    for h in ACCURACY_HEALTHS:
        debt = int(PRICE * params.liquidation_threshold / 10_000 / h * WAD)
        book = risk_model.make_book(
            "WETH", PRICE * WAD, [(1, "0x", WAD, debt)], params, 1, 0, 86_400
        )
        got = risk_model.simulate(book, 0.8, 86_400, paths, 96).p_liquidation[0]
        want = risk_model.first_passage_probability(
            PRICE, float(book.liquidation_price[0]), 0.8, 86_400 / SECONDS_PER_YEAR
        )
        out.append({"health": h, "model": float(got), "closed_form": want, "error": got - want})
    return out


def run(
    paths: int = 10_000,
    positions: int = 10_000,
    steps: int = risk_model.DEFAULT_STEPS,
    runs: int = 3,
    accuracy_paths: int = 100_000,
    progress: Any = print,
) -> dict[str, Any]:
    book, build_s = synthetic_book(positions)
    cases = []
    for label, vol, horizon, dist in CASES:
        times, cpu, result = [], [], None
        for i in range(runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            result = risk_model.simulate(book, vol, horizon, paths, steps, dist, 4.0, seed=i)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        assert result is not None
        cases.append(
            {
                "case": label,
                "seconds": summarize(times),
                # the process's CPU time: what a shared, loaded machine does not inflate
                "cpu_seconds": summarize(cpu),
                "p_any": result.p_any,
                "expected_liquidations": result.expected_liquidations,
                "expected_bad_debt": result.expected_bad_debt,
                "var_99": result.var,
                "es_99": result.es,
            }
        )
        progress(f"{label}: median {summarize(times)['median']:.2f} s")
    return {
        "paths": paths,
        "positions": positions,
        "steps": steps,
        "book_seconds": build_s,
        "cases": cases,
        "accuracy_paths": accuracy_paths,
        "accuracy": accuracy(accuracy_paths),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.risk", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=risk_model.DEFAULT_STEPS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    data = run(args.paths, args.positions, args.steps, args.runs)
    finish("risk", data, argv, no_write=args.no_write)


if __name__ == "__main__":
    main()
