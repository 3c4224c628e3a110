"""Sweep: the largest single-block drop with zero bad debt, over one or two parameters.

For each cell (a value of each swept parameter) the sweep starts from one snapshot of the
deployment, lets governance set the cell's risk parameters, opens the population, funds
the keepers and lets the warm-up pass, and snapshots that state. It then searches the grid
of drops by bisection (bad debt grows with the drop): each probe reverts to the cell's
snapshot, drops the swept pools' prices in one block, lets the keepers work until nothing
is left to liquidate (at most `max_blocks`), and counts as bad debt what the reserve did
not absorb plus the shortfall of any underwater position still open. A drop beyond a
pool's jump bound is refused by the oracle guard until governance resets the anchor one
block later (the run's `anchor_reset`), and the probe then continues.

With `drop` itself as a swept parameter, the cells hold the bad debt at that drop instead.
With `haircut` as a swept parameter, governance sets the cell's haircut before the
population opens, so its positions borrow within max LTV x (1 - haircut): `--y
haircut=0,20` shows the frontier without and with a 20 % haircut side by side.

Each cell also carries the analytic bound without a reserve: the smallest, over positions,
of 1 - K x debt / collateral value (K the pool's penalty factor), the drop at which the
first position's collateral stops covering what a liquidation must pay.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bulkhead import fmt
from bulkhead.risk import WAD
from bulkhead.simulate import analysis
from bulkhead.simulate.driver import DriverError
from bulkhead.simulate.engine import Settings, Simulation, SimulationError, _stderr
from bulkhead.simulate.scenario import Scenario
from bulkhead.simulate.schema import SweepResult


@dataclass(frozen=True)
class Param:
    key: str
    label: str
    fmt: str
    percent: bool  # typed in percent, stored in bps (or as a fraction for drop)


PARAMS = {
    "threshold": Param(
        "threshold", "liquidation threshold (max LTV follows at the same gap)", "{:g}%", True
    ),
    "max_ltv": Param("max_ltv", "max LTV", "{:g}%", True),
    "bonus": Param("bonus", "liquidation bonus", "{:g}%", True),
    "fee": Param("fee", "liquidation fee", "{:g}%", True),
    "keepers": Param("keepers", "keepers", "{:g}", False),
    "block_time": Param("block_time", "block time [s]", "{:g} s", False),
    "drop": Param("drop", "single-block drop", "{:g}%", True),
    "haircut": Param("haircut", "haircut (the positions open under it)", "{:g}%", True),
}
DEFAULT_DROPS = tuple(round(0.025 * k, 3) for k in range(2, 39))  # 5 % .. 95 %, 2.5 % apart


@dataclass(frozen=True)
class Axis:
    param: Param
    values: tuple[float, ...]  # as typed (percent for percent parameters)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.param.key,
            "label": self.param.label,
            "format": self.param.fmt,
            "values": list(self.values),
        }


def parse_axis(text: str) -> Axis:
    """`bonus=3,5,8` (percent), `keepers=1,2,4`, `block_time=2,12`, `drop=30,50,90`."""
    name, sep, values = text.partition("=")
    name = name.strip().lower().replace("-", "_")
    if not sep or name not in PARAMS:
        raise SimulationError(
            f"sweep parameter {text!r}: write NAME=V1,V2,... with NAME one of {', '.join(PARAMS)}"
        )
    try:
        numbers = tuple(float(v) for v in values.split(",") if v.strip())
    except ValueError:
        raise SimulationError(f"sweep parameter {text!r}: values must be numbers") from None
    if not numbers:
        raise SimulationError(f"sweep parameter {text!r} has no values")
    if len(set(numbers)) != len(numbers):
        raise SimulationError(f"sweep parameter {text!r} repeats a value")
    if name in ("keepers", "block_time") and any(v < 1 or v != int(v) for v in numbers):
        raise SimulationError(f"sweep parameter {text!r}: whole numbers of at least 1")
    if name == "drop" and any(not 0 < v < 100 for v in numbers):
        raise SimulationError(f"sweep parameter {text!r}: drops are percentages in (0, 100)")
    if PARAMS[name].percent and name != "drop" and any(not 0 <= v <= 100 for v in numbers):
        raise SimulationError(f"sweep parameter {text!r}: percentages in [0, 100]")
    return Axis(PARAMS[name], numbers)


def parse_drops(text: str) -> tuple[float, ...]:
    """`5:95:5` (start:stop:step, percent) or `10,20,40`: the grid of drops searched."""
    try:
        # each number as every command reads a share: `5`, `5%` and `0.05` alike
        if ":" in text:
            start, stop, step = (float(fmt.parse_share(x)) * 100 for x in text.split(":"))
            if step <= 0 or start <= 0 or stop >= 100 or stop < start:
                raise ValueError
            count = round((stop - start) / step) + 1
            values = [round((start + k * step) / 100, 6) for k in range(count)]
        else:
            values = sorted(float(fmt.parse_share(x)) for x in text.split(",") if x.strip())
    except ValueError:
        raise SimulationError(
            f"drops {text!r}: write START:STOP:STEP or a list, in percent within (0, 100)"
        ) from None
    if not values or any(not 0 < v < 1 for v in values):
        raise SimulationError(f"drops {text!r}: percentages within (0, 100)")
    return tuple(values)


def _cell_settings(
    sim: Simulation, combo: dict[str, float], pools: Sequence[str]
) -> tuple[dict[str, dict[str, int]], int, int, float | None, dict[str, int]]:
    """Risk overrides per pool, keepers, block time, drop and haircuts [bps] of one cell."""
    overrides: dict[str, dict[str, int]] = {}
    for name in pools:
        base = sim.pools[name].params
        changes: dict[str, int] = {}
        if "threshold" in combo:
            threshold = round(combo["threshold"] * 100)
            changes["liquidation_threshold"] = threshold
            changes["max_ltv"] = threshold - (base.liquidation_threshold - base.max_ltv)
        if "max_ltv" in combo:
            changes["max_ltv"] = round(combo["max_ltv"] * 100)
        if "bonus" in combo:
            changes["liquidation_bonus"] = round(combo["bonus"] * 100)
        if "fee" in combo:
            changes["liquidation_fee"] = round(combo["fee"] * 100)
        if changes:
            overrides[name] = changes
    keepers = int(combo.get("keepers", sim.s.keepers))
    block_time = int(combo.get("block_time", sim.s.block_time))
    drop = combo["drop"] / 100 if "drop" in combo else None
    haircuts = {name: round(combo["haircut"] * 100) for name in pools} if "haircut" in combo else {}
    return overrides, keepers, block_time, drop, haircuts


def analytic_bound(sim: Simulation, pools: Sequence[str]) -> float | None:
    """Smallest 1 - K x debt / value over the positions of `pools` (no reserve counted)."""
    drops = [b.safe_drop() for b in analysis.books(sim, tuple(pools)).values()]
    bounds = [d for d in drops if d is not None]
    return min(bounds) if bounds else None


def _probe(
    sim: Simulation,
    snapshot: str,
    drop: float,
    pools: Sequence[str],
    keepers: int,
    block_time: int,
    max_blocks: int,
) -> tuple[str, dict[str, Any]]:
    """One single-block drop from the cell's snapshot; returns a new snapshot id and the
    outcome."""
    assert sim.driver is not None
    sim.driver.revert(snapshot)
    snapshot = sim.driver.snapshot()
    scenario = Scenario(
        kind="drop", blocks=max_blocks, start=1, drop={"*": drop}, moving=tuple(pools)
    )
    report = sim.run(scenario, keepers=keepers, block_time=block_time, progress=False)
    bad = latent = reserve_used = 0.0
    liquidations = 0
    for pool in report["pools"]:
        if pool["name"] not in pools:
            continue
        bad += (int(pool["end"]["bad_debt"]) - int(pool["start"]["bad_debt"])) / WAD
        latent += pool["series"]["latent_shortfall"][-1]
        liquidations += sum(pool["series"]["liquidations"])
    reserve_used = sum(e["reserve_used"] for e in report["events"] if e["kind"] == "liquidate")
    outcome = {
        "drop": drop,
        "bad_debt": round(bad, 2),
        "latent_shortfall": round(latent, 2),
        "reserve_used": round(reserve_used, 2),
        "liquidations": liquidations,
        "blocks": report["chain"]["blocks"],
        "keeper": report["keepers"]["implementation"],
        "accounting_ok": report["accounting"]["ok"],
    }
    outcome["zero_bad_debt"] = bad == 0 and latent == 0
    return snapshot, outcome


def run(
    settings: Settings,
    axes: Sequence[Axis],
    drops: Sequence[float] = DEFAULT_DROPS,
    max_blocks: int = 12,
    out: Path | None = None,
    progress: bool = True,
    plots: bool = True,
    log: Callable[[str], None] = _stderr,
) -> SweepResult:
    """Run the sweep; returns the table (and writes sweep.json, sweep.csv and
    frontier.png in `out`)."""
    if not 1 <= len(axes) <= 2:
        raise SimulationError("a sweep takes one or two parameters")
    if len({a.param.key for a in axes}) != len(axes):
        raise SimulationError("the two swept parameters must differ")
    started = time.monotonic()
    settings = replace(settings, stop_when_settled=True)
    pools = tuple(settings.pools or ("WETH",))
    settings = replace(settings, pools=pools)
    keeper_counts = [int(v) for a in axes if a.param.key == "keepers" for v in a.values]
    n_keepers = max(keeper_counts + [settings.keepers])
    metric = "bad_debt" if any(a.param.key == "drop" for a in axes) else "frontier"
    combos = list(itertools.product(*(a.values for a in axes)))
    cells: list[dict[str, Any]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(combos), desc="sweep", unit="cell", leave=False)
    with Simulation(settings, log) as sim:
        try:
            sim.start(keepers=n_keepers)
            sim.deploy()
            for name in pools:
                if name not in sim.pools:
                    raise SimulationError(
                        f"unknown pool {name} (known: {', '.join(p.name for p in sim.sim_pools)})"
                    )
            assert sim.driver is not None
            sim.checkpoint()
            for values in combos:
                combo = {a.param.key: v for a, v in zip(axes, values, strict=True)}
                cell: dict[str, Any] = {"x": values[0], "y": values[1] if len(values) > 1 else None}
                cells.append(cell)
                sim.rewind()
                overrides, keepers, block_time, drop, haircuts = _cell_settings(sim, combo, pools)
                cell_started = time.monotonic()
                try:
                    sim.set_params(overrides)
                    sim.set_haircuts(haircuts)
                except SimulationError as exc:
                    cell["error"] = str(exc)
                    if bar is not None:
                        bar.update(1)
                    continue
                cell["params"] = {
                    name: {
                        k: getattr(sim.pools[name].params, k)
                        for k in (
                            "max_ltv",
                            "liquidation_threshold",
                            "liquidation_bonus",
                            "liquidation_fee",
                        )
                    }
                    | {"haircut": sim.pools[name].haircut}
                    for name in pools
                }
                sim.open_population()
                sim.fund_keepers()
                sim.warmup()
                cell["analytic_no_reserve"] = analytic_bound(sim, pools)
                snapshot = sim.driver.snapshot()
                probes: list[dict[str, Any]] = []
                if drop is not None:
                    snapshot, outcome = _probe(
                        sim, snapshot, drop, pools, keepers, block_time, max_blocks
                    )
                    probes.append(outcome)
                    cell["bad_debt"] = outcome["bad_debt"] + outcome["latent_shortfall"]
                else:
                    lo, hi = -1, len(drops)
                    while hi - lo > 1:
                        mid = (lo + hi) // 2
                        snapshot, outcome = _probe(
                            sim, snapshot, drops[mid], pools, keepers, block_time, max_blocks
                        )
                        probes.append(outcome)
                        if outcome["zero_bad_debt"]:
                            lo = mid
                        else:
                            hi = mid
                    cell["frontier"] = drops[lo] if lo >= 0 else 0.0
                    cell["below_grid"] = lo < 0
                    cell["at_top"] = lo == len(drops) - 1
                    cell["first_bad_drop"] = drops[hi] if hi < len(drops) else None
                cell["probes"] = sorted(probes, key=lambda o: o["drop"])
                cell["seconds"] = round(time.monotonic() - cell_started, 2)
                if bar is not None:
                    bar.update(1)
        except DriverError as exc:
            raise SimulationError(str(exc)) from None
        finally:
            if bar is not None:
                bar.close()
        keeper_impl = next((p["keeper"] for c in cells for p in c.get("probes", [])), None)
    result: SweepResult = {
        "version": 1,
        "metric": metric,
        "title": _title(metric, pools, settings),
        "pools": list(pools),
        "axes": [a.as_json() for a in axes],
        "drops": list(drops),
        "max_drop": max(drops),
        "max_blocks": max_blocks,
        "seed": settings.seed,
        "positions": settings.population.positions,
        "keepers_default": settings.keepers,
        "keeper_implementation": keeper_impl,
        "anchor_reset": settings.anchor_reset,
        "cells": cells,
        "seconds": round(time.monotonic() - started, 2),
    }
    if out is not None:
        write(result, out, plots)
    return result


def _title(metric: str, pools: Sequence[str], s: Settings) -> str:
    what = (
        "largest single-block drop with zero bad debt"
        if metric == "frontier"
        else "bad debt [bhUSD] after a single-block drop"
    )
    return f"{', '.join(pools)}: {what} ({s.population.positions} positions, seed {s.seed})"


def table_rows(result: SweepResult) -> tuple[list[str], list[list[str]]]:
    axes = result["axes"]
    headers = [a["label"].split(" (")[0] for a in axes]
    if result["metric"] == "frontier":
        headers += [
            "frontier",
            "first drop with bad debt",
            "analytic (no reserve)",
            "probes",
            "seconds",
        ]
    else:
        headers += ["bad debt [bhUSD]", "analytic (no reserve)", "seconds"]
    rows = []
    for c in result["cells"]:
        row = [axes[0]["format"].format(c["x"])]
        if len(axes) > 1:
            row.append(axes[1]["format"].format(c["y"]))
        analytic = c.get("analytic_no_reserve")
        analytic_text = f"{max(analytic, 0) * 100:.1f}%" if analytic is not None else "-"
        if c.get("error"):
            row += [f"invalid ({_reason(c['error'])})"]
            row += [""] * (len(headers) - len(row))
        elif result["metric"] == "frontier":
            frontier = c["frontier"]
            text = f"< {result['drops'][0] * 100:g}%" if c["below_grid"] else f"{frontier * 100:g}%"
            if c["at_top"]:
                text += " (top of grid)"
            first = c["first_bad_drop"]
            row += [
                text,
                f"{first * 100:g}%" if first is not None else "-",
                analytic_text,
                str(len(c["probes"])),
                f"{c['seconds']:.1f}",
            ]
        else:
            row += [f"{c['bad_debt']:,.2f}", analytic_text, f"{c['seconds']:.1f}"]
        rows.append(row)
    return headers, rows


def _reason(error: str) -> str:
    """`pool WETH: risk: penalty too high for threshold (...)` -> `penalty too high for
    threshold`."""
    return error.rsplit(": ", 1)[-1].split(" (")[0]


def render(result: SweepResult) -> str:
    from bulkhead import fmt

    headers, rows = table_rows(result)
    lines = [result["title"], fmt.table(headers, rows)]
    reset = (
        f"a refused jump is reset by governance {result['anchor_reset']} block(s) later"
        if result["anchor_reset"] is not None
        else "a refused jump waits for the heartbeat"
    )
    lines.append(
        f"keepers: {result['keeper_implementation']}; drops searched: "
        f"{result['drops'][0] * 100:g}% to {result['drops'][-1] * 100:g}% "
        f"({len(result['drops'])} values, bisection); at most {result['max_blocks']} blocks "
        f"per probe; {reset}"
    )
    lines.append(f"sweep finished in {result['seconds']:.1f} s")
    return "\n".join(lines)


def write(result: SweepResult, out: Path, plots: bool = True, prefix: str = "") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / f"{prefix}sweep.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    written.append(path)
    headers, rows = table_rows(result)
    table = out / f"{prefix}sweep.csv"
    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    written.append(table)
    if plots:
        from bulkhead.simulate import plots as plots_mod

        written.append(plots_mod.frontier_heatmap(result, out / f"{prefix}frontier.png"))
    return written
