"""A simulation's report: the summary table, the JSON file, the plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bulkhead import fmt
from bulkhead.risk import WAD
from bulkhead.simulate.schema import PoolReport, Report


def pool_summary(pool: PoolReport) -> dict[str, Any]:
    """The numbers of one pool's run, from its series."""
    s = pool["series"]
    prices = s["price"]
    lowest = [h for h in s["lowest_health"] if h is not None]
    gas = sum(s["keeper_gas_usd"])
    bounty = sum(s["bounty"])
    return {
        "name": pool["name"],
        "moving": pool["moving"],
        "price_start": prices[0],
        "price_end": prices[-1],
        "move": prices[-1] / prices[0] - 1 if prices[0] else 0.0,
        "worst_move": min(prices) / prices[0] - 1 if prices[0] else 0.0,
        "positions": s["positions_with_debt"][0],
        "debt_start": s["debt"][0],
        "debt_end": s["debt"][-1],
        "liquidations": sum(s["liquidations"]),
        "closed": sum(s["closed"]),
        "protections": sum(s["protections"]),
        "stop_losses": sum(s.get("stop_losses", [])),
        "haircut_start": s["haircut"][0] if s.get("haircut") else 0,
        "haircut_end": s["haircut"][-1] if s.get("haircut") else 0,
        "haircut_max": max(s["haircut"]) if s.get("haircut") else 0,
        "bounty": round(bounty, 2),
        "keeper_gas_usd": round(gas, 2),
        "keeper_profit": round(bounty - gas, 2),
        "keeper_reverted": sum(s["keeper_reverted"]),
        "reserve_start": int(pool["start"]["reserve"]) / WAD,
        "reserve_end": int(pool["end"]["reserve"]) / WAD,
        "bad_debt": (int(pool["end"]["bad_debt"]) - int(pool["start"]["bad_debt"])) / WAD,
        "bad_debt_wei": int(pool["end"]["bad_debt"]) - int(pool["start"]["bad_debt"]),
        "lowest_health": min(lowest) if lowest else None,
        "liquidatable_end": s["liquidatable"][-1],
        "latent_shortfall_end": s["latent_shortfall"][-1],
        "refused_blocks": sum(1 for o in s["oracle"] if o != "ok"),
    }


def _usd(value: float) -> str:
    return fmt.usd(round(value * 100) * 10**16)


def render(report: Report) -> str:
    """The summary table and the notes under it."""
    rows = []
    sums = [pool_summary(p) for p in report["pools"]]
    for x in sums:
        rows.append(
            [
                x["name"],
                f"{x['move'] * 100:+.1f}%"
                + (
                    f" (min {x['worst_move'] * 100:+.1f}%)"
                    if x["worst_move"] < x["move"] - 1e-9
                    else ""
                ),
                str(x["positions"]),
                _usd(x["debt_start"]),
                f"{x['liquidations']} ({x['closed']} closed)",
                str(x["protections"]),
                _usd(x["bounty"]),
                _usd(x["keeper_gas_usd"]),
                _usd(x["keeper_profit"]),
                f"{_usd(x['reserve_start'])} -> {_usd(x['reserve_end'])}",
                _usd(x["bad_debt"]),
                f"{x['lowest_health']:.3f}" if x["lowest_health"] is not None else "-",
                str(x["liquidatable_end"]),
            ]
        )
    total = {
        k: sum(x[k] for x in sums)
        for k in (
            "positions",
            "debt_start",
            "liquidations",
            "closed",
            "protections",
            "bounty",
            "keeper_gas_usd",
            "keeper_profit",
            "reserve_start",
            "reserve_end",
            "bad_debt",
            "liquidatable_end",
        )
    }
    rows.append(
        [
            "all",
            "",
            str(total["positions"]),
            _usd(total["debt_start"]),
            f"{total['liquidations']} ({total['closed']} closed)",
            str(total["protections"]),
            _usd(total["bounty"]),
            _usd(total["keeper_gas_usd"]),
            _usd(total["keeper_profit"]),
            f"{_usd(total['reserve_start'])} -> {_usd(total['reserve_end'])}",
            _usd(total["bad_debt"]),
            "",
            str(total["liquidatable_end"]),
        ]
    )
    headers = [
        "pool",
        "price move",
        "positions",
        "debt [bhUSD]",
        "liquidations",
        "protections",
        "bounties [USD]",
        "keeper gas [USD]",
        "keeper profit [USD]",
        "reserve [bhUSD]",
        "bad debt [bhUSD]",
        "lowest health",
        "left",
    ]
    scenario = report["scenario"]
    settings = report["settings"]
    chain = report["chain"]
    keepers = report["keepers"]
    lines = [
        (
            f"scenario {scenario['kind']}: {_scenario_text(scenario)}; {chain['blocks']} blocks of "
            f"{settings['block_time']} s, seed {report['seed']}"
        ),
        fmt.table(headers, rows),
        (
            f"keepers: {keepers['count']} x {keepers['implementation']}, "
            f"{keepers['capital_each']:,.0f} bhUSD of capital each; gas at "
            f"{settings['gas_price_gwei']:g} gwei"
        ),
    ]
    lines += _controls_lines(report, sums)
    for x in sums:
        if x["latent_shortfall_end"] > 0:
            lines.append(
                f"{x['name']}: {x['liquidatable_end']} position(s) still liquidatable at the end, "
                f"{_usd(x['latent_shortfall_end'])} bhUSD short of covering their debt "
                "(bad debt once liquidated, beyond what the reserve holds)"
            )
    for e in report["oracle_events"]:
        extra = f" ({e['response']})" if "response" in e else ""
        if "move" in e:
            extra = f" on a {e['move'] * 100:+.1f}% move, bound {e['max_jump_bps']} bps" + extra
        if "refused_blocks" in e:
            extra = f" after {e['refused_blocks']} block(s)"
        lines.append(f"oracle, block {e['block']}, {e['pool']}: {e['event']}{extra}")
    for name, iso in report["isolation"].items():
        same = iso["positions_unchanged"] and iso["reserve_unchanged"] and iso["bad_debt_unchanged"]
        lines.append(
            f"isolation: {name} (not moved) "
            + ("unchanged: positions, reserve and bad debt" if same else f"CHANGED: {iso}")
        )
    vault = report.get("savings_vault")
    if vault:
        held = int(vault["end"]["tracked_assets"]) / WAD
        lines.append(
            f"savings vault: holds {_usd(held)} bhUSD, "
            + (
                "unchanged (no deposit, withdrawal or cover during the scenario)"
                if vault["unchanged"]
                else f"CHANGED ({vault['covers']} cover(s))"
            )
        )
    acc = report["accounting"]
    lines.append(
        f"accounting: bhUSD supply + reserves = debts + bad debt "
        f"{'holds' if acc['ok'] else 'BROKEN'} (gap {acc['gap_wei']} wei)"
    )
    t = report["timings"]
    lines.append(
        f"time: the run took {t.get('total', 0):.1f} s (node {t.get('node', 0):.1f}, deploy "
        f"{t.get('deploy', 0):.1f}, prepare {t.get('prepare', 0):.1f}, blocks "
        f"{t.get('blocks', 0):.1f} = {t.get('per_block_ms', 0):.0f} ms per block, of which "
        f"keepers {t.get('keeper_steps', 0):.1f})"
    )
    return "\n".join(lines)


def _controls_lines(report: Report, sums: Sequence[dict[str, Any]]) -> list[str]:
    """The regime's phases, the haircuts (and the steward's moves), the stop-losses."""
    lines = []
    scenario = report["scenario"]
    phases = scenario.get("phases")
    if phases:
        regime = scenario["regime"]
        calm, rise, crash = phases["calm"], phases["rise"], phases["crash"]
        lines.append(
            f"regime: calm at {regime['calm_vol'] * 100:g}% in blocks {calm[0]}-{calm[1]}, "
            f"volatility rising in blocks {rise[0]}-{rise[1]}, crash in blocks "
            f"{crash[0]}-{crash[1]}"
        )
    steward = report.get("steward")
    if steward or any(x["haircut_max"] for x in sums):
        parts = []
        for x, pool in zip(sums, report["pools"], strict=True):
            text = f"{x['name']} {x['haircut_start'] / 100:g}% -> {x['haircut_end'] / 100:g}%"
            if steward:
                moves = sum(1 for c in steward["changes"] if c["pool"] == x["name"])
                text += f" ({moves} change{'' if moves == 1 else 's'}"
                if phases:
                    series = pool["series"]["haircut"]
                    at = series[min(phases["crash"][0], len(series) - 1)]
                    text += f"; {at / 100:g}% when the crash began"
                text += ")"
            parts.append(text)
        who = "the steward moved it" if steward else "set by governance"
        lines.append(f"haircut ({who}): " + ", ".join(parts))
    if any(x["stop_losses"] for x in sums):
        lines.append(
            "stop-losses executed: " + ", ".join(f"{x['name']} {x['stop_losses']}" for x in sums)
        )
    return lines


def _scenario_text(s: dict[str, Any]) -> str:
    """`WETH 90%`, `every pool 40%`, `every pool 40% (VOL 20%)`: what moves, by how much."""

    def amounts(table: dict[str, float]) -> str:
        def of(pool: str) -> float:
            found = [v for k, v in table.items() if k.lower() == pool.lower()]
            return found[0] if found else table.get("*", 0.0)

        if s.get("moving"):
            return ", ".join(f"{p} {of(p) * 100:g}%" for p in s["moving"])
        rest = {k: v for k, v in table.items() if k != "*"}
        text = f"every pool {table.get('*', 0.0) * 100:g}%"
        if rest:
            text += " (" + ", ".join(f"{k} {v * 100:g}%" for k, v in rest.items()) + ")"
        return text

    if s["kind"] == "drop":
        return f"single-block drop of {amounts(s['drop'])} in block {s['start']}"
    if s["kind"] == "staircase":
        return (
            f"fall of {amounts(s['drop'])} in {s['steps']} steps {s['step_every']} blocks apart "
            f"from block {s['start']}"
        )
    if s["kind"] == "gbm":
        text = f"GBM of {amounts(s['vol'])} volatility a year from block {s['start']}"
        if s.get("regime"):
            text += f" in a regime: calm, rising, then a crash of {amounts(s['drop'])}"
        return text
    moving = ", ".join(s["moving"]) if s.get("moving") else "every pool"
    return f"{moving} replays {s['file']} from block {s['start']}"


def write(report: Report, out: Path, plots: bool = True, prefix: str = "") -> list[Path]:
    """report.json (and the PNG plots) in `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{prefix}report.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    written = [path]
    if plots:
        from bulkhead.simulate import plots as plots_mod

        written += plots_mod.run_plots(report, out, prefix)
    return written


def summaries(report: Report) -> Sequence[dict[str, Any]]:
    return [pool_summary(p) for p in report["pools"]]
