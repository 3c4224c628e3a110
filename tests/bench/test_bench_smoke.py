"""Smoke runs of every benchmark at a tiny size, so `bench/` cannot rot.

No timing is asserted: these check that each benchmark still runs against the current
contracts and that what it measures is what it says (the benchmarks assert their own
preconditions: the liquidation kinds, the storage encoding, the scan results).
Real numbers: `make bench` (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import shutil

import pytest

from bench import ablate, batch, compare, gas, reaction, report, scan, sizes
from bench.common import (
    CODE_SIZE_LIMIT,
    Node,
    calldata_gas,
    execution_gas,
    load_result,
    write_result,
)


def _quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every benchmark once at a tiny size, its results written to a scratch directory."""
    directory = tmp_path_factory.mktemp("bench-results")
    runs = {
        "sizes": lambda: sizes.run(progress=_quiet),
        "gas": lambda: gas.run(progress=_quiet, decimals=(8,)),
        "batch": lambda: batch.run(progress=_quiet, decimals=(8,), sizes=(1, 3)),
        # 1,500 positions, 90 % liquidatable: the first page hits the 1,000-id cap
        "scan": lambda: scan.run(
            sizes=(60, 1_500),
            runs=1,
            naive_runs={60: 1, 1_500: 1},
            liquidatable_share=0.9,
            progress=_quiet,
        ),
        "reaction": lambda: reaction.run(count=20, modes=("automine",), runs=1, progress=_quiet),
    }
    for name, run in runs.items():
        data = run()
        data["command"] = f"python -m bench.{name}"
        write_result(name, data, directory)
    return directory


def test_calldata_gas__zero_and_non_zero_bytes__4_and_16_each():
    assert calldata_gas(b"\x00\x01\x00\xff") == 4 + 16 + 4 + 16
    assert calldata_gas("0x0001") == 20
    assert execution_gas(21_000 + 20 + 500, "0x0001") == 500


def test_gas__8_decimals_market__every_operation_and_variant_recorded(results):
    data = load_result("gas", results)
    seen = {(r["operation"], r["variant"]) for r in data["records"]}
    for operation in (
        "open",
        "deposit",
        "borrow",
        "repay (partial)",
        "repay (full)",
        "withdraw (with debt)",
        "withdraw (no debt)",
        "close (with debt)",
        "close (no debt)",
        "open (with borrow)",
        "set_protection",
        "auto_deleverage",
        "liquidate (partial)",
        "liquidate (full)",
        "liquidate (bad debt)",
    ):
        assert {(operation, "first"), (operation, "repeat")} <= seen, operation
    for r in data["records"]:
        assert r["decimals"] == 8
        assert r["execution"] == r["gas_used"] - 21_000 - r["calldata"]
        assert 0 < r["execution"] < 1_000_000


def test_batch__8_decimals_market__every_position_liquidated_and_marginal_positive(results):
    data = load_result("batch", results)
    rows = data["rows"]
    for kind in batch.KINDS:
        mine = {(r["function"], r["n"]): r for r in rows if r["kind"] == kind}
        assert set(mine) == {("liquidate", 1), ("liquidate_many", 1), ("liquidate_many", 3)}
        for r in mine.values():
            # the benchmark checked one Liquidate event per id and each position's state
            assert r["liquidated"] == r["n"]
            assert r["execution"] == r["gas_used"] - 21_000 - r["calldata"]
        # one more id is 32 more calldata bytes
        assert mine[("liquidate_many", 3)]["calldata"] > mine[("liquidate_many", 1)]["calldata"]
    summary = {s["kind"]: s for s in data["summary"]}
    assert set(summary) == set(batch.KINDS)
    for s in summary.values():
        assert s["n"] == 3
        assert 0 < s["marginal_execution"] < s["marginal_receipt"]
        # sharing the fixed part: the average per position falls below one single liquidate
        assert s["average_receipt"] < s["single_liquidate_receipt"]


def test_batch__sizes_not_starting_at_one__refused():
    with pytest.raises(ValueError, match="start at 1"):
        batch.run(progress=_quiet, sizes=(3, 10))


def test_sizes__deployment__every_contract_under_the_limit(results):
    rows = {r["contract"]: r for r in load_result("sizes", results)["rows"]}
    assert {"MarginPool", "MarginPool blueprint", "Stablecoin", "PoolFactory", "PoolLens"} <= set(
        rows
    )
    for row in rows.values():
        assert 0 < row["bytes"] <= CODE_SIZE_LIMIT


def test_scan__tiny_pools__every_path_finds_the_predicted_positions(results):
    data = load_result("scan", results)
    by_size = {row["positions"]: row for row in data["sizes"]}
    assert set(by_size) == {60, 1_500}
    # more liquidatable ids than one page returns: the paginated scan went past the cap
    assert by_size[1_500]["liquidatable"] > scan.PAGE_RESULTS_CAP
    for row in by_size.values():
        assert set(row["seconds"]) == {"paginated", "paginated_web3", "naive", "naive_batched"}
        assert row["first_page_gas"] > 0


def test_reaction__crash__every_prepared_position_liquidatable():
    with Node() as node:
        market = node.market("WETH")
        ids = reaction.prepare(node, market, 12)
        assert reaction.still_liquidatable(node, market, ids) == []
        reaction.check_crash_bites(node, market, ids)
        reaction.crash(node, market)
        assert reaction.still_liquidatable(node, market, ids) == ids


def test_reaction__tiny_run__pending_without_keeper_else_all_liquidated(results):
    data = load_result("reaction", results)
    if not reaction.keeper_available():
        assert data["status"] == "pending"
        return
    assert data["status"] == "measured"
    (mode,) = data["modes"]
    (attempt,) = mode["attempts"]
    assert not attempt["timed_out"] and attempt["left"] == 0 and attempt["liquidated"] == 20


def test_ablate__variants__each_patch_applies_once_to_the_sources():
    for variant in ablate.VARIANTS:
        text = (ablate.ROOT / variant.path).read_text()
        assert text.count(variant.old) == 1, f"update bench/ablate.py: {variant.description}"


def test_report__smoke_results__renders_every_section(results):
    text = report.render(results)
    for heading in (
        "## Gas per operation",
        "### Against the peers",
        "### Batched liquidation",
        "## Bytecode size",
        "## Keeper discovery speed",
        "## Keeper reaction",
    ):
        assert heading in text
    assert "python -m bench.gas" in text
    assert "python -m bench.batch" in text
    assert "Goal (marginal gas per position in a batched liquidation ≤ 55,000): **" in text


def test_compare__one_run_as_both_sides__renders_each_benchmark_with_its_ratio(results, tmp_path):
    """`bench.compare`'s summaries of real (tiny) results, the same run as base and head:
    every scan size and reaction mode gets its rows, each at a ratio of 1.00."""
    scanned, reacted = load_result("scan", results), load_result("reaction", results)
    data = {
        "base": {"ref": "base", "commit": "aaaaaaa"},
        "head": {"ref": "HEAD", "commit": "bbbbbbb"},
        "scan": {side: compare._scan_summary(scanned) for side in ("base", "head")},
        "reaction": {
            side: [compare._reaction_summary(m["mode"], m["attempts"]) for m in reacted["modes"]]
            for side in ("base", "head")
        },
        "reaction_positions": reacted["positions"],
        "command": "python -m bench.compare --base base",
    }
    directory = shutil.copytree(results, tmp_path / "results")
    write_result("compare", data, directory)
    text = report.render(directory)
    section = text.split("## Speed against an earlier commit", 1)[1].split("\n## ", 1)[0]
    rows = [
        line
        for line in section.splitlines()
        if line.startswith("| scan") or line.startswith("| reaction")
    ]
    assert len(rows) == 2 * len(scanned["sizes"]) + 2 * len(reacted["modes"])
    assert all(row.endswith("| 1.00 |") for row in rows), rows
    assert "`aaaaaaa` (base)" in section and "python -m bench.compare --base base" in section
