"""Write docs/PERFORMANCE.md from the results under bench/results/.

python -m bench.report
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, load_result
from bench.reaction import crash_fraction
from bulkhead.deploy import Config

DOC = ROOT / "docs" / "PERFORMANCE.md"

# our operation -> the Morpho Blue operation it is compared with (execution gas)
MORPHO_ROWS = (
    ("deposit", "deposit", 57_000),
    ("borrow", "borrow", 85_000),
    ("repay (partial)", "repay", 82_000),
    ("repay (full)", "repay", 82_000),
    ("withdraw (with debt)", "withdraw", 82_000),
    ("withdraw (no debt)", "withdraw", 82_000),
    ("liquidate (partial)", "liquidate", 121_000),
    ("liquidate (full)", "liquidate", 121_000),
    ("liquidate (bad debt)", "liquidate", 121_000),
)


GOAL_RATIO = 0.8  # issue 13: every repeat row at most 0.8x Morpho Blue


def _crash_drop() -> str:
    """The reaction benchmark's price drop in the WETH pool, from the default parameters."""
    weth = next(p for p in Config.load().pools if p.name == "WETH")
    return f"{(1 - crash_fraction(weth.params)) * 100:.1f} % (WETH: max LTV {weth.params.max_ltv / 100:g} %, threshold {weth.params.liquidation_threshold / 100:g} %)"


def _k(gas: float) -> str:
    return f"{gas / 1000:.1f}k"


def _s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def _spread(summary: dict[str, float], fmt=_s) -> str:
    return f"{fmt(summary['median'])} ({fmt(summary['min'])} – {fmt(summary['max'])}, n={summary['runs']})"


def _machine(m: dict[str, Any]) -> str:
    return (
        f"{m['nproc']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM, {m['os']}; Python {m['python']}, "
        f"Vyper {m['vyper']}, {m['anvil']}; load average {m.get('load_1min', '?')} at the start; "
        f"commit `{m['commit']}`; {m['date']}"
    )


def _gas_section(
    gas: dict[str, Any], ablate: dict[str, Any] | None, batch: dict[str, Any] | None
) -> list[str]:
    out = ["## Gas per operation", ""]
    out.append(f"Measured on: {_machine(gas['machine'])}.")
    out.append("")
    out.append(f"Reproduce: `{gas['command']}` (writes `bench/results/gas.json`).")
    out.append("")
    out += [
        (
            "Receipt gas (net of refunds) and execution gas = receipt gas − 21,000 − calldata "
            "(4 gas per zero byte, 16 per other byte), which is how the peers publish. One block per "
            f"transaction, {gas['block_interval']} s apart, so every operation also pays the lazy "
            "accrual of the stability fee (in a busy pool only the first transaction of a block does). "
            "The pool is live (a seeded position, a non-zero reserve) before anything is measured; "
            "each market has its own fresh accounts."
        ),
        "",
        (
            "- **first**: the account's first time in that pool. What differs is storage going from "
            "zero to non-zero (22.1k instead of 5k): the borrower's first bhUSD balance (borrow, open "
            "with borrow), the withdrawer's, liquidator's, keeper's or closer's first collateral "
            "token balance (withdraw with debt, liquidate, auto_deleverage, close with debt), a new "
            "protection rule (set_protection)."
        ),
        "- **repeat**: the same operation again by the same account: the steady state.",
        (
            "- `open` always writes two new words (the position and its owner); `open (pool's first "
            "position)` also starts the pool's counters and totals (once per pool)."
        ),
        "",
    ]
    records = gas["records"]
    markets = [m["name"] for m in gas["markets"]]
    decimals = {m["name"]: m["decimals"] for m in gas["markets"]}
    by_key = {(r["operation"], r["variant"], r["market"]): r for r in records}
    operations = list(dict.fromkeys(r["operation"] for r in records))
    header = (
        "| operation | variant | "
        + " | ".join(f"{m} ({decimals[m]} dec) execution | {m} total" for m in markets)
        + " |"
    )
    out.append(header)
    out.append("|---|---|" + "---:|---:|" * len(markets))
    for op in operations:
        for variant in ("first", "repeat"):
            cells = []
            for m in markets:
                r = by_key.get((op, variant, m))
                cells += [f"{r['execution']:,}", f"{r['gas_used']:,}"] if r else ["–", "–"]
            if all(c == "–" for c in cells):
                continue
            out.append(f"| {op} | {variant} | " + " | ".join(cells) + " |")
    out.append("")

    out += ["### Against the peers (execution gas)", ""]
    out.append(
        "Ours: the larger of the two markets. Peers as collected in issue #7 (published or measured "
        "figures, not re-measured here)."
    )
    out.append("")
    out.append(
        "| operation | ours, repeat | ours, first | Morpho Blue | ratio (repeat) | goal: repeat ≤ 0.8× | vs Morpho (repeat) | vs Morpho (first) | other peers |"
    )
    out.append("|---|---:|---:|---:|---:|---|---:|---:|---|")
    missed = []
    peers = gas.get("peers", {})
    for op, morpho_op, morpho in MORPHO_ROWS:
        values = {}
        for variant in ("first", "repeat"):
            rs = [by_key.get((op, variant, m)) for m in markets]
            rs = [r for r in rs if r]
            values[variant] = max(r["execution"] for r in rs) if rs else None
        if values["repeat"] is None:
            continue
        others = "; ".join(
            f"{k} {v}" for k, v in peers.get(morpho_op, {}).items() if k != "Morpho Blue"
        )
        morpho_text = peers.get(morpho_op, {}).get("Morpho Blue", _k(morpho))

        def delta(v: int | None, morpho: int = morpho) -> str:
            if v is None:
                return "–"
            d = v - morpho
            return f"{'+' if d > 0 else '−'}{_k(abs(d))} ({d / morpho:+.0%})"

        ratio = values["repeat"] / morpho
        goal = "met" if values["repeat"] <= GOAL_RATIO * morpho else "missed"
        if goal == "missed":
            missed.append(op)
        out.append(
            f"| {op} | {values['repeat']:,} | {values['first']:,} | {morpho_text} | "
            f"{ratio:.2f}× | {goal} (≤ {GOAL_RATIO * morpho:,.0f}) | "
            f"{delta(values['repeat'])} | {delta(values['first'])} | {others} |"
        )
    out.append("")
    out.append(
        f"Goal (every everyday operation's repeat row at most {GOAL_RATIO}× Morpho Blue's "
        "execution gas, every feature on; Morpho's liquidation at the low end of its range): "
        + (f"**missed** by {', '.join(missed)}." if missed else "**met** by every operation.")
    )
    out.append("")
    above = []
    for op, _morpho_op, morpho in MORPHO_ROWS:
        for r in records:
            if r["operation"] == op and r["execution"] > morpho:
                above.append(
                    f"{op} ({r['variant']}, {r['market']}): {r['execution']:,} vs {morpho:,}"
                )
    if above:
        out.append("Above Morpho Blue: " + "; ".join(sorted(set(above))) + ".")
        gaps = []
        for op in sorted({a.split(" (first")[0].split(" (repeat")[0] for a in above}):
            first = [
                r["execution"] for r in records if r["operation"] == op and r["variant"] == "first"
            ]
            repeat = [
                r["execution"] for r in records if r["operation"] == op and r["variant"] == "repeat"
            ]
            if first and repeat:
                gaps.append(f"{op} {max(first) - max(repeat):,}")
        out.append("")
        out.append(
            "First time minus repeat: "
            + "; ".join(gaps)
            + " (a storage word going from zero to non-zero costs 22,100 instead of 5,000, "
            "a difference of 17,100: here the receiver's first balance in the token contract)."
        )
    else:
        out.append("Every compared operation is at or below Morpho Blue.")
    out.append("")

    if ablate:
        out += _ablate_section(ablate)

    out += _batch_section(batch)

    return out


BATCH_KINDS = {
    "partial": "partial (health back to the target)",
    "whole": "whole (remainder under the minimum debt), no shortfall",
    "shortfall": "whole, collateral worth 95 % of the debt (shortfall to reserve and bad debt)",
}


def _batch_section(batch: dict[str, Any] | None) -> list[str]:
    out = ["### Batched liquidation", ""]
    if batch is None:
        out += [
            "Not measured yet: run `python -m bench.batch` (writes `bench/results/batch.json`).",
            "",
        ]
        return out
    goal = batch["goal_marginal"]
    out.append(f"Measured on: {_machine(batch['machine'])}.")
    out.append("")
    out.append(f"Reproduce: `{batch['command']}` (writes `bench/results/batch.json`).")
    out.append("")
    sizes = batch["sizes"]
    out += [
        (
            f"`liquidate_many(ids, max_repay, 0)` over the first N of {max(sizes)} positions of one "
            "kind, all opened at the same LTV (0.1 % inside max LTV) and made liquidatable by one "
            f"price drop (as in `liquidate` above); N in {{{', '.join(map(str, sizes))}}}, each N from "
            "the same `evm_snapshot` with the same block timestamp, so each pays the same accrual, "
            "price read, burn and transfer. Every transaction is checked: one `Liquidate` per id and "
            "each position left as its kind says. The liquidator already holds bhUSD and collateral "
            "tokens (no first balance write); the shortfall kind pays the pool's first bad debt "
            "(a zero to non-zero write) once per transaction, N = 1 included. Each measured "
            "transaction is the first after the price drop, so it also moves the pool's price "
            "anchor (one storage write, once per transaction): a single `liquidate` here costs a "
            "few k more than the `repeat` rows above, where an earlier liquidation had moved it. "
            "Receipt gas is net of refunds (a whole liquidation clears the position's word)."
        ),
        "",
        (
            "- **marginal per position** = (gas(N) − gas(1)) / (N − 1) with N the largest size: "
            "*with calldata* from receipt gas (one more id is 32 more calldata bytes and nothing "
            "else: no extra 21,000), *execution* from execution gas (receipt − 21,000 − calldata). "
            "The goal and the peer compare the figure with calldata."
        ),
        (
            "- **average per position** = receipt gas(N) / N: the 21,000 and the one-off part "
            "shared over N."
        ),
        (
            "- **single `liquidate`**: one `liquidate(id, max, 0)` of the first position from the "
            "same snapshot (execution gas), for comparison with `liquidate_many` of one id."
        ),
        "",
    ]
    rows = batch["rows"]
    markets = batch["markets"]
    kinds = batch["kinds"]
    header = "| kind | N | " + " | ".join(
        f"{m['name']} ({m['decimals']} dec) execution | {m['name']} total" for m in markets
    )
    out.append(header + " |")
    out.append("|---|---:|" + "---:|---:|" * len(markets))
    by = {(r["market"], r["kind"], r["function"], r["n"]): r for r in rows}
    for kind in kinds:
        lines = [("`liquidate` (single)", "liquidate", 1)]
        lines += [(f"`liquidate_many`, N = {n}", "liquidate_many", n) for n in sizes]
        for label, function, n in lines:
            cells = []
            for m in markets:
                r = by.get((m["name"], kind, function, n))
                cells += [f"{r['execution']:,}", f"{r['gas_used']:,}"] if r else ["–", "–"]
            out.append(f"| {kind}: {label} | {n} | " + " | ".join(cells) + " |")
    out.append("")

    out.append(
        f"| market | kind | marginal per position, with calldata | marginal, execution only | "
        f"calldata per id | average per position (N = {max(sizes)}) | single `liquidate` "
        f"(execution) | goal (marginal ≤ {goal / 1000:.0f}k) | Liquity v1 (batch) |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|---|---|")
    verdicts = []
    for s in batch["summary"]:
        marginal = s["marginal_receipt"]
        met = marginal is not None and marginal <= goal
        verdicts.append(met)
        out.append(
            f"| {s['market']} ({s['decimals']} dec) | {BATCH_KINDS.get(s['kind'], s['kind'])} | "
            f"{marginal:,.0f} | {s['marginal_execution']:,.0f} | {s['calldata_per_id']:,.0f} | "
            f"{s['average_receipt']:,.0f} | {s['single_liquidate_execution']:,} | "
            f"{'met' if met else 'not met'} | {batch['peers'].get('Liquity v1', '54-69k')} |"
        )
    out.append("")
    if verdicts:
        worst = max(batch["summary"], key=lambda s: s["marginal_receipt"] or 0)
        verdict = "met" if all(verdicts) else "not met"
        out.append(
            f"Goal (marginal gas per position in a batched liquidation ≤ {goal:,}): **{verdict}**: "
            f"at most {worst['marginal_receipt']:,.0f} with calldata "
            f"({worst['market']}, {worst['kind']}), against Liquity v1's 54-69k per position and "
            f"one `liquidate` per position (above)."
        )
        out.append("")
        by_n = [
            f"{s['market']} {s['kind']}: "
            + ", ".join(f"N = {n}: {v:,.0f}" for n, v in s["marginal_by_n"].items())
            for s in batch["summary"]
        ]
        out.append(
            "Marginal per position (with calldata) from gas(1) to each N: " + "; ".join(by_n) + "."
        )
        out.append("")
        if "shortfall" in batch["kinds"]:
            out.append(
                "Where the marginal grows with N (shortfall): a liquidation that takes all the "
                "collateral clears the position's storage word, a refund of 4,800, and from some N "
                "on the refunds reach their cap of one fifth of the transaction's gas (EIP-3529)."
            )
            out.append("")
    return out


def _ablate_section(ablate: dict[str, Any]) -> list[str]:
    out = ["### Where the gas goes", ""]
    out.append(
        "Measured by removing one feature at a time in a scratch copy of the contracts (never "
        "committed) and re-running the gas benchmark; each cell is the saving in execution gas "
        "(repeat rows, 18-decimals market) against the unchanged contracts; n/a where the "
        "variant cannot run that scenario. "
        f"Reproduce: `{ablate['command']}`. Measured on commit `{ablate['machine']['commit']}`, "
        f"{ablate['machine']['date']}."
    )
    out.append("")
    ops = ablate["operations"]
    out.append("| feature removed | " + " | ".join(ops) + " |")
    out.append("|---|" + "---:|" * len(ops))
    base = ablate["baseline"]
    out.append("| (baseline execution gas) | " + " | ".join(f"{base[o]:,}" for o in ops) + " |")
    for variant in ablate["variants"]:
        if variant.get("skipped"):
            out.append(f"| {variant['description']} | " + " | ".join("n/a" for _ in ops) + " |")
            continue
        cells = []
        for o in ops:
            value = variant["execution"].get(o)
            cells.append("n/a" if value is None else f"{base[o] - value:,}")
        out.append(f"| {variant['description']} | " + " | ".join(cells) + " |")
    out.append("")
    skipped = [v for v in ablate["variants"] if v.get("skipped")]
    if skipped:
        out.append(
            "n/a: the patch no longer applies to the current source: "
            + "; ".join(v["description"] for v in skipped)
            + "."
        )
        out.append("")
    return out


def _sizes_section(sizes: dict[str, Any]) -> list[str]:
    out = ["## Bytecode size", ""]
    out.append(f"Measured on: {_machine(sizes['machine'])}.")
    out.append("")
    out.append(f"Reproduce: `{sizes['command']}`.")
    out.append("")
    out.append("| contract | what | bytes | limit | headroom | initcode bytes (limit 49,152) |")
    out.append("|---|---|---:|---:|---:|---:|")
    for r in sizes["rows"]:
        init = f"{r['initcode']:,}" if r["initcode"] is not None else "–"
        out.append(
            f"| {r['contract']} | {r['what']} | {r['bytes']:,} | {r['limit']:,} | {r['headroom']:,} | {init} |"
        )
    out.append("")
    return out


def _scan_section(scan: dict[str, Any]) -> list[str]:
    out = ["## Keeper discovery speed", ""]
    out.append(f"Measured on: {_machine(scan['machine'])}.")
    out.append("")
    out.append(f"Reproduce: `{scan['command']}`.")
    out.append("")
    out += [
        (
            f"One pool ({scan['pool']}, {scan['collateral_decimals']} decimals) with N positions, about "
            f"{scan['liquidatable_share']:.0%} of them liquidatable, on one Anvil with `--prune-history`. "
            "Same run, same lean JSON-RPC client (keep-alive HTTP, calldata encoded once) for every path:"
        ),
        "",
        (
            f"- **paginated** (the keeper's path): `positions_to_liquidate(start, {scan['page']})`, one "
            "eth_call per page, sequential;"
        ),
        "- **naive**: one `health(id)` eth_call per position, sequential;",
        "- **naive, batched**: the same per-position calls as JSON-RPC batches of 5,000;",
        "- **paginated via web3.py**: the paginated path through web3.py's contract call.",
        "",
        (
            "Every path must return exactly the ids the Python mirror (`bulkhead.risk`) predicts. "
            "Times: median (min – max, n runs)."
        ),
        "",
        (
            "Positions are written into the pool's storage (`anvil_setStorageAt`): `_positions[id]` = "
            "collateral << 128 | normalised debt and `owner_of[id]` at keccak256(slot . id) with the "
            "slots from `vyper -f layout`, plus `position_count`, `total_collateral` and the total "
            "normalised debt (the low half of `_debt_totals`); the pool is minted the "
            "collateral. The encoder is first checked against two positions opened by real `open` "
            "transactions, and after each write the pool's own views (`position_count`, "
            "`total_collateral` vs the token balance, `owner_of`, `collateral_of`, "
            "`normalised_debt_of`, `debt_of`, `health`) are checked on a sample. bhUSD is not minted "
            "for the written debt (this throw-away chain's supply does not match the debt; no scanned "
            "view reads it)."
        ),
        "",
    ]
    out.append(
        "| positions | liquidatable | paginated | positions/s | naive | naive / paginated | "
        "naive, batched | batched / paginated | paginated via web3.py | gas of one page | "
        "gas per position scanned |"
    )
    out.append("|---:|---:|---|---:|---|---:|---|---:|---|---:|---:|")
    for row in scan["sizes"]:
        sec = row["seconds"]
        out.append(
            f"| {row['positions']:,} | {row['liquidatable']:,} | {_spread(sec['paginated'])} | "
            f"{row['positions_per_second']['paginated']:,.0f} | {_spread(sec['naive'])} | "
            f"{row['speedup_vs_naive']:,.0f}× | {_spread(sec['naive_batched'])} | "
            f"{row['speedup_vs_naive_batched']:,.0f}× | {_spread(sec['paginated_web3'])} | "
            f"{row['first_page_gas']:,} | "
            f"{row['first_page_gas'] / min(row['positions'], scan['page']):,.0f} |"
        )
    out.append("")
    big = [r for r in scan["sizes"] if r["positions"] >= 100_000]
    if big:
        r = big[-1]
        t = r["seconds"]["paginated"]["median"]
        verdict = "met" if t < 1 else "not met"
        out.append(
            f"Goal (100,000 positions scanned in under one second): **{verdict}**: "
            f"{r['positions']:,} positions in {_s(t)} (median; max {_s(r['seconds']['paginated']['max'])})."
        )
        out.append("")
    return out


def _reaction_section(reaction: dict[str, Any] | None) -> list[str]:
    out = ["## Keeper reaction", ""]
    if reaction is None or reaction.get("status") != "measured":
        reason = reaction["reason"] if reaction else "not run"
        out += [
            f"**TODO — pending on the keeper**: {reason}. Nothing is measured and no number is given.",
            "",
            (
                "The harness is ready: `python -m bench.reaction` opens 1,000 positions by real "
                "transactions, starts the keeper as its own process (`bulkhead keeper run --rpc-url … "
                "--manifest … --account 9`; the command is a template, `--keeper-cmd`), crashes the "
                f"feed by {_crash_drop()}, and counts blocks and seconds until the last position is liquidated, "
                "under automine and under a 2-second block time (3 runs each, median, min, max). It "
                "reports pending as long as `bulkhead.keeper` is missing."
            ),
            "",
            (
                "Goal: all 1,000 within one block of the crash under automine. Under automine every "
                "transaction is its own block, so that goal needs the batched `liquidate_many` "
                "(see above) or the keeper's liquidations in one block."
            ),
            "",
        ]
        return out
    out.append(f"Measured on: {_machine(reaction['machine'])}.")
    out.append("")
    out.append(f"Reproduce: `{reaction['command']}`. Keeper: `{reaction['keeper_cmd']}`.")
    out.append("")
    out.append(
        "| mode | positions | blocks after the crash | seconds (wall) | chain seconds | timed out |"
    )
    out.append("|---|---:|---|---|---|---:|")
    for m in reaction["modes"]:
        if "blocks" not in m:
            out.append(
                f"| {m['mode']} | {reaction['positions']:,} | – | – | – | {m['timed_out']} |"
            )
            continue
        out.append(
            f"| {m['mode']} | {reaction['positions']:,} | {_spread(m['blocks'], lambda v: f'{v:g}')} | "
            f"{_spread(m['seconds'])} | {_spread(m['chain_seconds'], lambda v: f'{v:g} s')} | {m['timed_out']} |"
        )
    out.append("")
    out += [
        (
            "Each run: a fresh Anvil (`--prune-history`), 1,000 positions opened by real `open` "
            "transactions at 0.1 % inside max LTV (1,000 USD of collateral each), the keeper "
            "started as its own process with its defaults (including its 2-second poll interval) "
            "and funded with bhUSD by its own position, then the feed drops by "
            f"{_crash_drop()} in one transaction (to 3 % below the price at which a position "
            "at max LTV reaches health 1.0). Blocks: from the crash block to the block of the last `Liquidate` of "
            "those positions. Seconds (wall): from the crash receipt until the harness saw none "
            "of them liquidatable (it polls every 50 ms). The crash is sent just after the keeper "
            "logs a `cycle`, so every run's seconds hold about one poll interval (the keeper "
            "waits 2 s after each pass) and then the keeper's own work. Under automine Anvil mines one block per arriving transaction or batch, "
            "so the block count depends on how the keeper groups its sends."
        ),
        "",
    ]
    auto = [m for m in reaction["modes"] if m["mode"] == "automine" and "blocks" in m]
    if auto:
        median = auto[0]["blocks"]["median"]
        verdict = "met" if median <= 1 and not auto[0]["timed_out"] else "not met"
        out.append(
            f"Goal (all {reaction['positions']:,} liquidated within one block of the crash under "
            f"automine): **{verdict}**: median {median:g} blocks "
            f"(min {auto[0]['blocks']['min']:g}, max {auto[0]['blocks']['max']:g})."
        )
        out.append("")
    return out


def render(directory: Path = RESULTS) -> str:
    gas = load_result("gas", directory)
    sizes = load_result("sizes", directory)
    scan = load_result("scan", directory)
    reaction = load_result("reaction", directory)
    ablate = load_result("ablate", directory)
    batch = load_result("batch", directory)
    lines = [
        "# Bulkhead performance",
        "",
        (
            "Generated by `make bench` (`python -m bench`) from `bench/results/*.json`; do not edit by "
            "hand. Each section names the machine it ran on and the command that reproduces it. The "
            "machine is shared by several jobs, so wall-clock numbers carry noise: compare the min "
            "columns across runs."
        ),
        "",
    ]
    summary = []
    if gas:
        liq = [r for r in gas["records"] if r["operation"].startswith("liquidate")]
        if liq:
            lo = min(r["execution"] for r in liq)
            hi = max(r["execution"] for r in liq)
            summary.append(f"liquidate: {lo:,} – {hi:,} execution gas (Morpho Blue 121-126k)")
    if batch and batch["summary"]:
        marginals = [s["marginal_receipt"] for s in batch["summary"] if s["marginal_receipt"]]
        if marginals:
            summary.append(
                f"liquidate_many: {min(marginals):,.0f} – {max(marginals):,.0f} gas per additional "
                f"position, calldata included (goal ≤ {batch['goal_marginal']:,}; Liquity v1 "
                "54-69k)"
            )
    if scan:
        big = [r for r in scan["sizes"] if r["positions"] >= 100_000]
        if big:
            r = big[-1]
            summary.append(
                f"{r['positions']:,} positions scanned in {_s(r['seconds']['paginated']['median'])} "
                f"(median), {r['speedup_vs_naive']:,.0f}× faster than one eth_call per position"
            )
    if summary:
        lines += ["Headlines: " + "; ".join(summary) + ".", ""]
    if gas:
        lines += _gas_section(gas, ablate, batch)
    if sizes:
        lines += _sizes_section(sizes)
    if scan:
        lines += _scan_section(scan)
    lines += _reaction_section(reaction)
    lines += _compare_section(load_result("compare", directory))
    lines += _risk_section(load_result("risk", directory))
    fleet = load_result("fleet", directory)
    if fleet:
        from bench.fleet import section

        lines += section(fleet)
    return "\n".join(lines).rstrip() + "\n"


def _compare_section(compare: dict[str, Any] | None) -> list[str]:
    """`bench.compare`: the keeper's scan and reaction of two commits, same machine, same
    session; a refactor must not be slower."""
    if not compare:
        return []
    base, head = compare["base"], compare["head"]
    out = ["## Speed against an earlier commit", ""]
    out.append(f"Measured on: {_machine(compare['machine'])}.")
    out += ["", f"Reproduce: `{compare['command']}`.", ""]
    out.append(
        f"Base `{base['commit']}` ({base['ref']}), head `{head['commit']}` ({head['ref']}): "
        "each commit's own code in its own git worktree, in one session. "
        "Times: median (min – max, n runs)."
    )
    out += ["", "| benchmark | base | head | head / base (min) |", "|---|---|---|---:|"]
    for b, h in zip(compare["scan"]["base"], compare["scan"]["head"], strict=True):
        for path, label in (("paginated", "paginated"), ("paginated_web3", "via web3.py")):
            ratio = h[path]["min"] / b[path]["min"]
            out.append(
                f"| scan {b['positions']:,} positions, {label} | {_spread(b[path])} | "
                f"{_spread(h[path])} | {ratio:.2f} |"
            )
    positions = compare["reaction_positions"]
    for b, h in zip(compare["reaction"]["base"], compare["reaction"]["head"], strict=True):
        for key, label, fmt in (
            ("blocks", f", {positions:,} positions: blocks", lambda v: f"{v:g}"),
            ("seconds", ": seconds (wall)", _s),
        ):
            cells = [
                _spread(x[key], fmt) if x[key] else f"all {x['timed_out']} timed out"
                for x in (b, h)
            ]
            ratio = f"{h[key]['min'] / b[key]['min']:.2f}" if b[key] and h[key] else "–"
            out.append(f"| reaction {b['mode']}{label} | {cells[0]} | {cells[1]} | {ratio} |")
    unaligned = sum(
        m.get("unaligned", 0) for side in ("base", "head") for m in compare["reaction"][side]
    )
    if unaligned:
        out += ["", f"**{unaligned} reaction attempts were not aligned to a keeper cycle.**"]
    out += [
        "",
        (
            "Scan: each commit's own harness and JSON-RPC client. Reaction: the head's harness "
            "for both, each running its own commit's keeper (`env -C <worktree> python -m "
            "bulkhead keeper run ...`), one attempt at a time with the sides taking turns, the "
            "crash sent just after a keeper `cycle`; the seconds hold one 2-second poll "
            "interval, the rest is the keeper's work."
        ),
        "",
    ]
    return out


def _risk_section(risk: dict[str, Any] | None) -> list[str]:
    """The risk model's speed (bench.risk) and its accuracy against the closed form."""
    if not risk:
        return []
    out = ["## Risk model (Monte-Carlo)", ""]
    out.append(f"Measured on: {_machine(risk['machine'])}.")
    out += ["", f"Reproduce: `{risk['command']}` (writes `bench/results/risk.json`).", ""]
    out.append(
        f"`bulkhead risk report`'s model ({risk['paths']:,} paths × {risk['positions']:,} "
        f"positions × {risk['steps']} steps, one pool, docs/RISK.md), timed end to end after "
        f"the book is built ({_s(risk['book_seconds'])} for the book from contract integers). "
        "The target is under 10 s on 2 cores for the first two rows; the stress row shows "
        "how the time grows with the number of liquidations to work out (thousands per path). "
        "Wall time depends on what else the machine runs (see the load average); CPU time "
        "is the process's own (numpy runs these steps on one core)."
    )
    out += [
        "",
        "| case | wall time (median, min – max) | CPU time (median) | P(any) | E[liquidations] "
        "| ES 99 % [bhUSD] |",
        "|---|---|---|---|---|---|",
    ]
    for c in risk["cases"]:
        cpu = _s(c["cpu_seconds"]["median"]) if "cpu_seconds" in c else "-"
        out.append(
            f"| {c['case']} | {_spread(c['seconds'])} | {cpu} | {c['p_any']:.2%} | "
            f"{c['expected_liquidations']:,.1f} | {c['es_99']:,.2f} |"
        )
    out += [
        "",
        f"Accuracy ({risk['accuracy_paths']:,} paths, 24 h, vol 80 %, one position): the "
        "model's probability of liquidation against the closed-form first passage of a GBM.",
        "",
        "| health | model | closed form | error |",
        "|---|---|---|---|",
    ]
    for a in risk["accuracy"]:
        out.append(
            f"| {a['health']:g} | {a['model']:.4%} | {a['closed_form']:.4%} | {a['error']:+.4%} |"
        )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", default=str(DOC))
    args = parser.parse_args(argv)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
