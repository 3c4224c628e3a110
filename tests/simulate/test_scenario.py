"""Price paths and replay files: pure, no chain."""

from __future__ import annotations

import itertools
import math
import re
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


# ------------------------------------------------------------------ volatility regime


def _realised(m: list[float], first: int, last: int, block_time: int) -> float:
    """Annual volatility of the path's log moves into blocks first..last, from first
    principles: the root mean square of the moves, scaled by sqrt(blocks a year)."""
    moves = [math.log(m[b] / m[b - 1]) for b in range(first, last + 1)]
    return math.sqrt(sum(r * r for r in moves) / len(moves) * 365 * 86400 / block_time)


def test_gbm_regime__calm_rise_crash__volatility_climbs_then_the_price_falls():
    from bulkhead.simulate.scenario import Regime

    regime = Regime(calm_vol=0.3, calm_blocks=200, rise_blocks=200, crash_blocks=4)
    s = Scenario(kind="gbm", blocks=420, start=5, vol={"*": 3.0}, drop={"*": 0.4}, regime=regime)
    phases = s.phases()
    assert phases == {"calm": (5, 204), "rise": (205, 404), "crash": (405, 408)}
    m = paths(s, ["WETH"], seed=9, block_time=3600)["WETH"]
    assert m[:5] == [1.0] * 5
    calm = _realised(m, 5, 204, 3600)
    early_rise, late_rise = _realised(m, 205, 304, 3600), _realised(m, 305, 404, 3600)
    assert calm == pytest.approx(0.3, rel=0.15)
    assert calm < early_rise < late_rise
    # the second half of the rise ramps from 1.65 to 3.0: its root mean square volatility
    # is sqrt((a^2 + ab + b^2) / 3) for a ramp from a to b
    a, b = 1.65, 3.0
    assert late_rise == pytest.approx(math.sqrt((a * a + a * b + b * b) / 3), rel=0.15)
    # the crash: four equal log steps of ln(0.6) / 4 on top of the noise at 300 % a year
    # (a move's noise is 3.0 x sqrt(1 / 8760) = 3.2 % a block)
    assert m[408] / m[404] == pytest.approx(0.6, rel=0.2)
    assert m[408] / m[404] < 0.8


def test_gbm_regime__no_regime__the_plain_gbm_path():
    """A regime that never leaves its calm phase at the pool's volatility is the plain GBM:
    the regime changes no draw."""
    from bulkhead.simulate.scenario import Regime

    plain = Scenario(kind="gbm", blocks=30, start=2, vol={"*": 1.2})
    same = Scenario(
        kind="gbm", blocks=40, start=2, vol={"*": 1.2},
        regime=Regime(calm_vol=1.2, calm_blocks=29, rise_blocks=1, crash_blocks=1),
        drop={"*": 0.0},
    )  # fmt: skip
    a = paths(plain, POOLS, seed=5, block_time=12)
    b = paths(same, POOLS, seed=5, block_time=12)
    for pool in POOLS:
        assert a[pool][:31] == pytest.approx(b[pool][:31], rel=1e-12)


@pytest.mark.parametrize(
    ("kind", "blocks", "message"),
    [
        ("drop", 100, "a volatility regime is for the gbm scenario"),
        ("gbm", 40, "the regime's crash ends in block 73, after the last block (40)"),
    ],
)
def test_gbm_regime__bad_shape__refused(kind, blocks, message):
    from bulkhead.simulate.scenario import Regime

    s = Scenario(kind=kind, blocks=blocks, start=10, regime=Regime())
    with pytest.raises(ScenarioError, match=re.escape(message)):
        s.validate()
