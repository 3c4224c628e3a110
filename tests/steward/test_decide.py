"""The steward's pure parts, without a chain: the volatility estimate checked against hand
computations from first principles, the curve, and the one-step decision's laws."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulkhead.steward.decide import (
    HOLD,
    LOWER,
    RAISE,
    Curve,
    Round,
    Rules,
    decide,
    realised_vol,
    window_rounds,
)

HOUR = 3_600
DAY = 86_400
P0 = 3_000 * 10**8  # [feed units] 3,000 USD at 8 decimals
T0 = 1_700_000_000  # [seconds] when the histories below start

RULES = Rules(max_haircut=3_000, max_step=500, cooldown=HOUR, last_change=0)


def rounds_at(prices: list[float], times: list[int]) -> list[Round]:
    """Rounds 1, 2, ... with these prices [USD] at T0 + these times [seconds]."""
    return [
        Round(i + 1, round(p * 10**8), T0 + t)
        for i, (p, t) in enumerate(zip(prices, times, strict=True))
    ]


# ------------------------------------------------------------------ the estimate


def test_realised_vol__hourly_moves_of_one_percent_for_a_day__hourly_vol_times_root_hours():
    """24 hourly moves of +-1 % (up, down, up, ...): the hourly volatility is ln(1.01) and a
    year holds 8,760 hours, so the annual volatility is ln(1.01) x sqrt(8760) = 93.1 %."""
    prices = [3_000 * 1.01 ** (k % 2) for k in range(25)]
    times = [k * HOUR for k in range(25)]
    estimate = realised_vol(rounds_at(prices, times), now=T0 + 24 * HOUR, window=DAY)
    assert estimate.rounds == 25 and estimate.returns == 24 and estimate.span == DAY
    assert estimate.vol == pytest.approx(math.log(1.01) * math.sqrt(8_760), rel=1e-6)
    assert estimate.vol == pytest.approx(0.9313, abs=1e-4)


def test_realised_vol__one_ten_percent_move_then_a_flat_day__daily_vol_times_root_days():
    """One move of +10 % in a day, the price flat the rest of it (no round): the daily
    volatility is ln(1.1) and a year holds 365 days: ln(1.1) x sqrt(365) = 182.09 %. The
    time after the last round counts: the estimate is time weighted, not per round."""
    rounds = rounds_at([3_000, 3_300], [0, HOUR])
    estimate = realised_vol(rounds, now=T0 + DAY, window=DAY)
    assert estimate.returns == 1 and estimate.span == DAY
    assert estimate.vol == pytest.approx(math.log(1.1) * math.sqrt(365), rel=1e-6)
    assert estimate.vol == pytest.approx(1.8209, abs=1e-4)


def test_realised_vol__gbm_path_of_known_volatility__estimate_close_to_it():
    """A geometric Brownian motion at 80 % a year, a round every 5 minutes for a day (288
    returns): the estimate's standard error is about 80 % / sqrt(2 x 288) = 3.3 points."""
    rng = random.Random(15)
    sigma, dt = 0.80, 300
    sd = sigma * math.sqrt(dt / (365 * DAY))
    price, prices = 3_000.0, [3_000.0]
    for _ in range(288):
        price *= math.exp(-sd * sd / 2 + sd * rng.gauss(0, 1))
        prices.append(price)
    rounds = rounds_at(prices, [k * dt for k in range(289)])
    estimate = realised_vol(rounds, now=T0 + 288 * dt, window=DAY)
    assert estimate.vol == pytest.approx(sigma, abs=0.10)


def test_realised_vol__a_steady_fall__counts_as_volatility():
    """Returns are not demeaned: 24 hourly falls of 2 % are risk to a lender."""
    prices = [3_000 * 0.98**k for k in range(25)]
    estimate = realised_vol(rounds_at(prices, [k * HOUR for k in range(25)]), T0 + 24 * HOUR, DAY)
    assert estimate.vol == pytest.approx(abs(math.log(0.98)) * math.sqrt(8_760), rel=1e-6)


def test_window_rounds__history_longer_than_the_window__anchor_and_rounds_inside_only():
    times = [0, 10 * HOUR, 20 * HOUR, 30 * HOUR, 40 * HOUR]
    rounds = rounds_at([3_000, 3_100, 3_200, 3_300, 3_400], times)
    used, skipped = window_rounds(rounds, now=T0 + 44 * HOUR, window=DAY)
    # the window opens at 20 h: the round of 20 h is the anchor, 0 h and 10 h are out
    assert [r.round_id for r in used] == [3, 4, 5] and skipped == 0
    assert realised_vol(rounds, T0 + 44 * HOUR, DAY).span == DAY


def test_realised_vol__anchor_long_before_the_window__the_window_is_the_span():
    """The feed's answer holds until the next round: a round 30 days old is the price when
    the window opened, and the one move inside the window is a day's move."""
    rounds = rounds_at([3_000, 3_300], [-30 * DAY, 12 * HOUR])
    estimate = realised_vol(rounds, now=T0 + DAY, window=DAY)
    assert estimate.span == DAY and estimate.rounds == 2
    assert estimate.vol == pytest.approx(math.log(1.1) * math.sqrt(365), rel=1e-6)


def test_window_rounds__bad_rounds__left_out_and_counted():
    rounds = [
        Round(1, P0, 100),
        Round(2, 0, 200),  # no price
        Round(3, -5, 300),  # negative
        Round(4, P0, 0),  # incomplete: no update time
        Round(5, P0 * 2, 10_000),  # from the future
        Round(6, P0 + 1, 400),
    ]
    used, skipped = window_rounds(rounds, now=1_000, window=DAY)
    assert [r.round_id for r in used] == [1, 6] and skipped == 4


def test_realised_vol__a_single_round__no_estimate():
    estimate = realised_vol([Round(7, P0, 100)], now=200, window=DAY)
    assert estimate.vol is None and estimate.rounds == 1 and estimate.returns == 0


# ------------------------------------------------------------------ the curve


def test_curve__default__the_documented_table():
    curve = Curve()
    assert curve.table() == [(0.5, 0), (0.75, 750), (1.0, 1_500), (1.25, 2_250), (1.5, 3_000)]
    assert curve.haircut(0.0) == 0 and curve.haircut(0.49) == 0
    assert curve.haircut(9.0) == 3_000


def test_curve__between_points__linear_and_whole_bps():
    curve = Curve(calm=0.4, stressed=1.4, stressed_haircut=2_000)
    assert curve.haircut(0.9) == 1_000
    assert curve.haircut(0.40005) == 0  # 0.1 bps rounds to 0
    assert curve.haircut(0.4003) == 1  # 0.6 bps rounds to 1
    assert all(isinstance(curve.haircut(v / 100), int) for v in range(200))


@pytest.mark.parametrize(
    ("calm", "stressed", "haircut", "message"),
    [
        (1.5, 0.5, 3_000, "must be below the stressed one"),
        (0.5, 0.5, 3_000, "must be below the stressed one"),
        (0.5, 1.5, 0, "stressed haircut must be in"),
        (0.5, 1.5, 5_001, "stressed haircut must be in"),
    ],
)
def test_curve__bad_shape__refused(calm, stressed, haircut, message):
    with pytest.raises(ValueError, match=message):
        Curve(calm, stressed, haircut)


# ------------------------------------------------------------------ the decision


def test_decide__target_far_above__one_step_up():
    d = decide(target=2_400, current=0, rules=RULES, now=HOUR)
    assert (d.action, d.new, d.goal) == (RAISE, 500, 2_400)


def test_decide__target_above_the_ceiling__goal_is_the_ceiling():
    d = decide(target=4_500, current=2_800, rules=RULES, now=HOUR)
    assert (d.action, d.new, d.goal) == (RAISE, 3_000, 3_000)
    held = decide(target=4_500, current=3_000, rules=RULES, now=HOUR)
    assert (held.action, held.new, held.reason) == (HOLD, 3_000, "at target")


def test_decide__target_below__one_step_down():
    d = decide(target=0, current=1_200, rules=RULES, now=HOUR)
    assert (d.action, d.new) == (LOWER, 700)


def test_decide__governance_set_it_above_the_ceiling__steps_down_toward_it():
    d = decide(target=4_000, current=4_000, rules=RULES, now=HOUR)
    assert (d.action, d.new, d.goal) == (LOWER, 3_500, 3_000)


def test_decide__in_the_cooldown__holds_and_says_how_long():
    rules = Rules(3_000, 500, HOUR, last_change=10_000)
    d = decide(target=2_000, current=0, rules=rules, now=10_000 + HOUR - 90)
    assert (d.action, d.new, d.reason) == (HOLD, 0, "cooldown: 90 s left")
    assert decide(2_000, 0, rules, 10_000 + HOUR).action == RAISE


def test_decide__no_rules_or_no_estimate__holds():
    assert decide(2_000, 0, Rules(0, 0, 0, 0), HOUR).reason == "no steward rules for this pool"
    assert decide(None, 0, RULES, HOUR).reason == "too few feed rounds for an estimate"


def test_decide__gap_under_the_minimum__holds_unless_the_target_is_zero():
    assert decide(1_010, 1_000, RULES, HOUR, min_change=25).action == HOLD
    assert decide(1_030, 1_000, RULES, HOUR, min_change=25).new == 1_030
    d = decide(0, 10, RULES, HOUR, min_change=25)
    assert (d.action, d.new) == (LOWER, 0)


@settings(max_examples=300, deadline=None)
@given(
    target=st.none() | st.integers(0, 6_000),
    current=st.integers(0, 5_000),
    max_haircut=st.integers(0, 5_000),
    step=st.integers(0, 5_000),
    cooldown=st.integers(60, 30 * DAY),
    last_change=st.integers(0, 10**6),
    now=st.integers(0, 2 * 10**6),
    min_change=st.integers(0, 200),
)
def test_decide__any_inputs__never_breaks_the_steward_rules(
    target, current, max_haircut, step, cooldown, last_change, now, min_change
):
    """The factory's rules, stated from the issue: a change only after the cooldown, at
    most one step, never above the ceiling unless lowering; and a change moves toward the
    target, never past it."""
    rules = Rules(max_haircut, step, cooldown, last_change)
    d = decide(target, current, rules, now, min_change)
    if not d.changes:
        assert d.new == current
        return
    assert target is not None and step > 0
    assert now >= last_change + cooldown
    assert 0 < abs(d.new - current) <= step
    assert d.new <= max_haircut or d.new < current
    goal = min(target, max_haircut)
    assert min(current, goal) <= d.new <= max(current, goal)
