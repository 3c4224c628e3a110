"""`bulkhead simulate` and `bulkhead simulate sweep` end to end (each starts its own Anvil)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bulkhead.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PNGS = ("price_liquidations.png", "health.png", "reserve_bad_debt.png", "keeper_profit.png")


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:  # click 8.2 keeps stderr apart by itself
        return CliRunner()


def bulkhead(*args: str):
    return _runner().invoke(cli, list(args), catch_exceptions=False)


def test_simulate__small_drop__prints_summary_writes_report_and_plots(tmp_path):
    out = tmp_path / "run"
    result = bulkhead(
        "simulate", "--positions", "18", "--blocks", "6", "--start", "2",
        "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "scenario drop: single-block drop of every pool 40% in block 2; 6 blocks of 12 s, seed 7"
        in result.stdout
    )
    assert "accounting: bhUSD supply + reserves = debts + bad debt holds" in result.stdout
    # two durations, each named for what it covers (the run; the whole command)
    assert re.search(r"^time: the run took [0-9.]+ s \(node", result.stdout, re.M)
    assert re.search(
        r"report and plots in .+; the command took [0-9.]+ s \(start-up, the run, then the "
        r"plots and files\)",
        result.stderr,
    )
    report = json.loads((out / "report.json").read_text())
    assert [p["name"] for p in report["pools"]] == ["WETH", "WBTC", "VOL"]
    assert all(len(p["series"]["block"]) == 7 for p in report["pools"])
    for name in PNGS:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "keeper-0.jsonl").exists()


def test_simulate__black_thursday_replay_hourly__weth_follows_the_file(tmp_path):
    out = tmp_path / "replay"
    result = bulkhead(
        "simulate", "--scenario", "replay", "--file", str(ROOT / "data/black_thursday_eth.csv"),
        "--block-time", "3600", "--start", "1", "--positions", "15", "--out", str(out),
        "--no-progress", "--no-plots", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    weth, wbtc = report["pools"][0]["series"], report["pools"][1]["series"]
    assert len(weth["block"]) == 1 + 1 + 24 + 10
    assert weth["price"][25] / weth["price"][0] - 1 == pytest.approx(-0.43, abs=0.005)
    assert min(b / a - 1 for a, b in zip(weth["price"], weth["price"][1:], strict=False)) == (
        pytest.approx(-0.30, abs=0.005)
    )
    assert set(wbtc["price"]) == {wbtc["price"][0]}
    assert not list(out.glob("*.png"))


def test_simulate_sweep__one_parameter__writes_table_and_heatmap(tmp_path):
    out = tmp_path / "sweep"
    result = bulkhead(
        "simulate", "sweep", "--x", "bonus=3,8", "--y", "none", "--positions", "20",
        "--drops", "10,20,30,40,60", "--max-blocks", "5", "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "WETH: largest single-block drop with zero bad debt (20 positions, seed 7)" in (
        result.stdout
    )
    sweep = json.loads((out / "sweep.json").read_text())
    assert [c["x"] for c in sweep["cells"]] == [3.0, 8.0]
    for cell in sweep["cells"]:
        # the measured frontier is never below the mirror's bound without a reserve
        covered = [d for d in sweep["drops"] if d <= cell["analytic_no_reserve"]]
        assert cell["frontier"] >= (max(covered) if covered else 0.0)
        assert all(p["accounting_ok"] for p in cell["probes"])
        assert cell["params"]["WETH"]["liquidation_bonus"] == int(cell["x"] * 100)
    rows = list(csv.reader((out / "sweep.csv").open()))
    assert rows[0][:2] == ["liquidation bonus", "frontier"] and len(rows) == 3
    assert (out / "frontier.png").read_bytes()[:4] == b"\x89PNG"


def test_simulate_sweep__penalty_too_high_for_threshold__cell_marked_invalid(tmp_path):
    result = bulkhead(
        "simulate", "sweep", "--x", "threshold=90", "--y", "bonus=8", "--positions", "5",
        "--drops", "50", "--out", str(tmp_path), "--no-progress", "--no-plots", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (cell,) = json.loads(result.stdout)["cells"]
    assert "risk: penalty too high for threshold" in cell["error"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scenario", "replay"], "error: --scenario replay needs --file CSV"),
        (["--file", "x.csv"], "error: --file is for --scenario replay"),
        (["--drop", "forty"], "error: --drop 'forty' is not a number (e.g. 40 or WETH=90)"),
        (["--blocks", "5"], "error: the first move (block 10) is outside 1..5"),
        (["--anchor-reset", "soon"], "is neither a number of blocks nor `off`"),
        (["--positions", "5", "sweep"], "belong to the single run; put them after `sweep`"),
        (["sweep", "--x", "colour=1"], "write NAME=V1,V2,... with NAME one of threshold"),
        (["sweep", "--drops", "5:200:5"], "write START:STOP:STEP or a list"),
        (["sweep", "--x", "bonus=3", "--y", "bonus=5"], "the two swept parameters must differ"),
        (["--regime"], "error: --regime is for --scenario gbm"),
        (["--scenario", "gbm", "--regime", "--blocks", "30"], "the regime's crash ends in block"),
        (["--haircut", "60"], "error: --haircut 60% for *: whole basis points from 0 to 50%"),
        (["--haircut", "FOO=10"], "error: unknown pool(s) FOO; the config has"),
        (["--steward-window", "10"], "Invalid value for '--steward-window'"),
    ],
)
def test_simulate__bad_options__one_line_error(args, message):
    result = bulkhead("simulate", *args)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("simulate", "--pools", "FOO"),
            "error: unknown pool(s) FOO; the config has WETH, WBTC, VOL",
        ),
        (("simulate", "--drop", "BAR=50"), "error: unknown pool(s) BAR; the config has"),
        (("simulate", "sweep", "--pool", "XX"), "error: unknown pool(s) XX; the config has"),
        (("simulate", "--out", "/proc/nope"), "error: cannot write to --out /proc/nope"),
        (("simulate", "sweep", "--out", "/proc/nope"), "error: cannot write to --out /proc/nope"),
    ],
)
def test_simulate__unknown_pool_or_unwritable_out__one_line_error_before_running(args, message):
    """Refused before any node starts: `--pools FOO` used to run with every pool at +0.0 %
    and exit 0, and `--out /proc/nope` failed with a traceback after the whole run."""
    result = bulkhead(*args)
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "embedded Anvil" not in result.output


def test_simulate__gbm_regime_with_the_steward__haircut_rises_before_the_crash(tmp_path):
    out = tmp_path / "regime"
    result = bulkhead(
        "simulate", "--scenario", "gbm", "--regime", "--vol", "400", "--calm-blocks", "4",
        "--rise-blocks", "8", "--crash-blocks", "2", "--start", "2", "--drop", "30",
        "--block-time", "3600", "--steward", "--steward-window", "21600", "--positions", "15",
        "--out", str(out), "--no-progress", "--no-plots",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "regime: calm at 30% in blocks 2-5, volatility rising in blocks 6-13, crash in " in (
        result.stdout
    )
    assert "haircut (the steward moved it): WETH 0% -> " in result.stdout
    report = json.loads((out / "report.json").read_text())
    crash = report["scenario"]["phases"]["crash"][0]
    assert all(p["series"]["haircut"][crash] > 0 for p in report["pools"])
    decisions = [json.loads(x) for x in (out / "steward.jsonl").read_text().splitlines()]
    assert {d["pool"] for d in decisions} == {"WETH", "WBTC", "VOL"}
    assert all({"vol", "target_bps", "current_bps", "rules", "action"} <= set(d) for d in decisions)


def test_simulate_sweep__haircut_axis__frontier_with_a_haircut_not_below_without(tmp_path):
    result = bulkhead(
        "simulate", "sweep", "--x", "haircut=0,20", "--y", "none", "--positions", "20",
        "--drops", "30:70:5", "--max-blocks", "5", "--out", str(tmp_path), "--no-progress",
        "--no-plots", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    without, with_haircut = json.loads(result.stdout)["cells"]
    assert without["params"]["WETH"]["haircut"] == 0
    assert with_haircut["params"]["WETH"]["haircut"] == 2_000
    assert with_haircut["frontier"] > without["frontier"]
