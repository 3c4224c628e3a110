"""Price paths and replay files: pure, no chain."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from bulkhead.simulate.scenario import (
    Scenario,
    ScenarioError,
    load_replay,
    parse_per_pool,
    paths,
    replay_blocks,
)

ROOT = Path(__file__).resolve().parents[2]
BLACK_THURSDAY = ROOT / "data" / "black_thursday_eth.csv"
POOLS = ["WETH", "WBTC", "VOL"]


def test_drop__flat_before_start__one_step_to_the_drop():
    s = Scenario(kind="drop", blocks=20, start=5, drop={"*": 0.4, "VOL": 0.9})
    p = paths(s, POOLS, seed=1, block_time=12)
    assert p["WETH"][:5] == [1.0] * 5
    assert p["WETH"][5:] == pytest.approx([0.6] * 16)
    assert p["VOL"][5] == pytest.approx(0.1)


def test_drop__pool_not_moving__stays_flat():
    s = Scenario(kind="drop", blocks=10, start=2, moving=("WETH",))
    p = paths(s, POOLS, seed=1, block_time=12)
    assert p["WBTC"] == [1.0] * 11 and p["VOL"] == [1.0] * 11
    assert p["WETH"][-1] == pytest.approx(0.6)


def test_staircase__steps_multiply_to_the_total_drop():
    s = Scenario(kind="staircase", blocks=40, start=3, drop={"*": 0.4}, steps=4, step_every=5)
    m = paths(s, ["WETH"], seed=1, block_time=12)["WETH"]
    changes = [b for b in range(1, 41) if m[b] != m[b - 1]]
    assert changes == [3, 8, 13, 18]
    assert m[-1] == pytest.approx(0.6)
    step = 0.6 ** (1 / 4)
    assert m[8] / m[7] == pytest.approx(step)


def test_gbm__same_seed__same_path_and_other_seed_differs():
    s = Scenario(kind="gbm", blocks=50, start=1, vol={"*": 2.0})
    a = paths(s, POOLS, seed=3, block_time=12)
    b = paths(s, POOLS, seed=3, block_time=12)
    c = paths(s, POOLS, seed=4, block_time=12)
    assert a == b
    assert a["WETH"] != c["WETH"]
    assert a["WETH"] != a["WBTC"]  # each pool has its own stream


def test_gbm__adding_a_pool__leaves_the_other_paths_unchanged():
    s = Scenario(kind="gbm", blocks=30, start=1)
    assert paths(s, ["WETH"], 3, 12)["WETH"] == paths(s, ["VOL", "WETH"], 3, 12)["WETH"]


def test_gbm__log_returns__have_the_chosen_volatility():
    s = Scenario(kind="gbm", blocks=20_000, start=1, vol={"*": 0.8})
    m = paths(s, ["WETH"], seed=11, block_time=3600)["WETH"]
    r = [math.log(m[b] / m[b - 1]) for b in range(2, len(m))]
    mean = sum(r) / len(r)
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / (len(r) - 1))
    expected = 0.8 * math.sqrt(3600 / (365 * 86400))
    assert sd == pytest.approx(expected, rel=0.03)


def test_parse_per_pool__number_and_pairs__fractions():
    assert parse_per_pool("40", "--drop") == {"*": 0.4}
    assert parse_per_pool("WETH=90, *=10", "--drop") == {"WETH": 0.9, "*": 0.1}
    # one rule for every command: `40`, `40%` and `0.4` are all 40 %
    assert parse_per_pool("40%", "--drop") == {"*": 0.4}
    assert parse_per_pool("0.4", "--drop") == {"*": 0.4}
    assert parse_per_pool("WETH=90%, *=0.1", "--drop") == {"WETH": 0.9, "*": 0.1}


def test_parse_share__percent_fraction_and_bare_percent__one_rule():
    from decimal import Decimal

    from bulkhead.fmt import parse_share

    assert parse_share("15%") == parse_share("0.15") == parse_share("15") == Decimal("0.15")
    assert parse_share("150%") == parse_share("150") == Decimal("1.5")
    assert parse_share("0.5%") == Decimal("0.005")


def test_parse_drops__percent_sign__same_grid():
    from bulkhead.simulate.sweep import parse_drops

    assert parse_drops("5%:15%:5%") == parse_drops("5:15:5") == (0.05, 0.1, 0.15)
    assert parse_drops("10%,20%") == (0.1, 0.2)


@pytest.mark.parametrize("text", ["", "abc", "WETH=x", "nan"])
def test_parse_per_pool__malformed__raises(text):
    with pytest.raises(ScenarioError):
        parse_per_pool(text, "--drop")


@pytest.mark.parametrize(
    "scenario, message",
    [
        (Scenario(kind="crash"), "unknown scenario"),
        (Scenario(blocks=5, start=6), "outside 1..5"),
        (Scenario(drop={"*": 1.5}), r"--drop 150% for \*: a drop is a percent of the price in"),
        (Scenario(kind="replay"), "needs a CSV file"),
        (Scenario(kind="staircase", steps=0), "at least one step"),
    ],
)
def test_validate__bad_scenario__raises_one_line(scenario, message):
    with pytest.raises(ScenarioError, match=message):
        scenario.validate()


def test_black_thursday__reconstruction__down_43pct_worst_hour_30pct():
    replay = load_replay(BLACK_THURSDAY)
    prices = replay.columns["WETH"]
    assert replay.key == "timestamp" and replay.span == 24 * 3600
    assert prices[-1] / prices[0] - 1 == pytest.approx(-0.43, abs=0.01)
    worst = min(b / a - 1 for a, b in itertools.pairwise(prices))
    assert worst == pytest.approx(-0.30, abs=0.01)
    assert any("RECONSTRUCTION" in line for line in replay.comments)


def test_replay__by_timestamp__interpolates_between_rows():
    replay = load_replay(BLACK_THURSDAY)
    s = Scenario(kind="replay", blocks=replay_blocks(replay, 1800, 1), start=1)
    m = paths(s, ["WETH", "VOL"], seed=0, block_time=1800, replay=replay)["WETH"]
    prices = replay.columns["WETH"]
    assert m[1] == 1.0
    assert m[3] == pytest.approx(prices[1] / prices[0])  # one hour later
    assert m[2] == pytest.approx((prices[0] + prices[1]) / 2 / prices[0])  # half an hour
    assert m[-1] == pytest.approx(prices[-1] / prices[0])  # held after the file ends
    assert len(m) == 1 + 1 + 48 + 10


def test_replay__column_missing_for_pool__pool_stays_flat():
    replay = load_replay(BLACK_THURSDAY)
    s = Scenario(kind="replay", blocks=30, start=1)
    assert paths(s, ["VOL"], 0, 3600, replay)["VOL"] == [1.0] * 31


@pytest.mark.parametrize(
    "text, message",
    [
        ("price,WETH\n1,2\n2,3\n", "first column must be `block` or `timestamp`"),
        ("block,WETH\n1,2\n1,3\n", ":3: the block does not increase"),
        ("block,WETH\n1,2\n2,-3\n", ":3: prices must be positive"),
        ("block,WETH\n1,2\n2\n", ":3: 1 fields, the header has 2"),
        ("block,WETH\n1,2\n", "at least two rows"),
        ("# only a comment\n", "no header"),
        ("block,WETH,weth\n1,2,3\n2,3,4\n", "distinct names"),
    ],
)
def test_load_replay__malformed_file__names_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=message):
        load_replay(path)


def test_load_replay__missing_file__raises_one_line(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read replay file"):
        load_replay(tmp_path / "nope.csv")


def test_cli_simulate__drop_of_150_percent__one_line_with_the_unit_before_any_node():
    from click.testing import CliRunner

    from bulkhead.cli import cli

    result = CliRunner().invoke(cli, ["simulate", "--drop", "150"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: --drop 150% for *: a drop is a percent of the price in [0, 100) (write 40 or 40%)"
    )
