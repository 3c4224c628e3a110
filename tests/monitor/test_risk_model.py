"""The risk model without a chain: the closed form, the float liquidation twin, the tail
statistics, the volatility estimate and the horizon parser."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bulkhead import risk
from bulkhead.monitor import risk_model as m
from bulkhead.risk import SECONDS_PER_YEAR, WAD, RiskParams

PARAMS = RiskParams(
    max_ltv=6000,
    liquidation_threshold=7000,
    liquidation_bonus=500,
    liquidation_fee=100,
    liquidation_tip=5 * WAD,
    target_health=11 * WAD // 10,
    min_debt=100 * WAD,
    debt_ceiling=50_000_000 * WAD,
    stability_fee=0,
)
DAY = 86_400


def _single(health: float, price: int = 3000) -> m.Book:
    """One position of 1 token at `price` USD with the given health."""
    debt = int(price * 0.7 / health * WAD)
    return m.make_book("WETH", price * WAD, [(1, "0xowner", WAD, debt)], PARAMS, 1, 0, DAY)


@pytest.mark.parametrize("health", [1.02, 1.05, 1.10])
@pytest.mark.parametrize("steps", [1, 24])
def test_simulate__single_position__matches_closed_form_first_passage(health, steps):
    book = _single(health)
    got = m.simulate(book, vol=0.8, horizon=DAY, paths=40_000, steps=steps, seed=7)
    want = m.first_passage_probability(
        3000.0, float(book.liquidation_price[0]), 0.8, DAY / SECONDS_PER_YEAR
    )
    assert abs(got.p_liquidation[0] - want) < 0.01
    assert got.p_any == got.p_liquidation[0]


def test_first_passage_probability__barrier_at_price__is_one():
    assert m.first_passage_probability(100.0, 100.0, 0.5, 1.0) == 1.0
    assert m.first_passage_probability(100.0, 50.0, 0.0, 1.0) == 0.0


def test_first_passage_probability__is_twice_the_terminal_tail_without_drift_limit():
    # reflection principle: for a tiny vol^2 T the drift vanishes and P(min <= b) = 2 N(b)
    p = m.first_passage_probability(1.0, math.exp(-0.001), 0.001, 1.0)
    assert abs(p - 2 * 0.5 * (1 + math.erf(-1 / math.sqrt(2)))) < 1e-3


def test_simulate__liquidatable_now__probability_one_and_liquidated_on_every_path():
    book = _single(0.95)
    assert bool(book.liquidatable_now[0])
    got = m.simulate(book, vol=0.5, horizon=DAY, paths=1_000)
    assert got.p_liquidation[0] == 1.0
    assert got.p_any == 1.0
    assert got.expected_liquidations >= 1.0


def test_simulate__empty_book__no_risk():
    book = m.make_book("WETH", 3000 * WAD, [(1, "0xowner", WAD, 0)], PARAMS, 1, 0, DAY)
    got = m.simulate(book, vol=0.8, horizon=DAY, paths=1_000)
    assert book.size == 0
    assert (got.p_any, got.expected_liquidations, got.var, got.es) == (0.0, 0.0, 0.0, 0.0)


def test_simulate__under_water_book__bad_debt_after_reserve():
    # collateral worth 80 % of the debt: every path liquidates at a loss of about 20 %
    debt = 3000 * WAD * 10 // 8
    book = m.make_book("WETH", 3000 * WAD, [(1, "0xowner", WAD, debt)], PARAMS, 1, 100 * WAD, DAY)
    got = m.simulate(book, vol=0.3, horizon=DAY, paths=1_000)
    shortfall = 3750 - 3000 / 1.01
    assert got.expected_bad_debt == pytest.approx(shortfall, rel=1e-9)
    assert got.var == pytest.approx(shortfall - 100, rel=1e-9)
    assert got.es == pytest.approx(shortfall - 100, rel=1e-9)


def test_simulate__student_t__fatter_tail_than_normal_far_from_the_barrier():
    book = _single(1.5)
    normal = m.simulate(book, vol=0.8, horizon=7 * DAY, paths=40_000, steps=168, seed=3)
    fat = m.simulate(book, vol=0.8, horizon=7 * DAY, paths=40_000, steps=168, dist="t", df=3)
    assert fat.p_liquidation[0] > normal.p_liquidation[0]


def test_simulate__same_seed__same_answer():
    book = _single(1.05)
    a = m.simulate(book, vol=0.8, horizon=DAY, paths=2_000, seed=11)
    b = m.simulate(book, vol=0.8, horizon=DAY, paths=2_000, seed=11)
    assert a.p_liquidation[0] == b.p_liquidation[0]


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"vol": -0.1}, "volatility must be a non-negative number"),
        ({"vol": float("nan")}, "volatility must be a non-negative number"),
        ({"vol": 50.0}, "beyond any market"),
        ({"horizon": 0}, "the horizon must be positive"),
        ({"paths": 10}, "at least 100 paths"),
        ({"steps": 0}, "at least one step"),
        ({"dist": "cauchy"}, "is not one of normal, t"),
        ({"dist": "t", "df": 2}, "more than 2 degrees of freedom"),
    ],
)
def test_simulate__bad_input__raises_one_line(kwargs, reason):
    args = {"vol": 0.8, "horizon": DAY, "paths": 1_000, "steps": 24} | kwargs
    with pytest.raises(m.RiskModelError, match=reason):
        m.simulate(_single(1.2), **args)


def test_liquidate_float__matches_the_integer_mirror():
    rng = np.random.default_rng(5)
    for _ in range(300):
        coll = int(rng.uniform(0.01, 50) * WAD)
        price = int(rng.uniform(100, 5000) * WAD)
        value = risk.value(coll, price, 1)
        debt = int(value * rng.uniform(0.701, 1.3))
        debt = max(debt, 100 * WAD + 1)
        if not risk.is_liquidatable(coll, debt, price, PARAMS.liquidation_threshold, 1):
            continue
        want = risk.liquidation_amounts(coll, debt, price, PARAMS, 1)
        c, d, short = m.liquidate_float(
            np.array([coll / WAD]), np.array([debt / WAD]), np.array([price / WAD]), PARAMS
        )
        assert d[0] == pytest.approx((debt - want.repaid) / WAD, rel=1e-6, abs=1e-6)
        assert c[0] == pytest.approx((coll - want.collateral_out) / WAD, rel=1e-6, abs=1e-9)
        assert short[0] == pytest.approx(want.shortfall / WAD, rel=1e-6, abs=1e-6)


def test_tail__var_and_expected_shortfall():
    loss = np.arange(1000, dtype=float)  # 0..999
    var, es = m.tail(loss)
    assert var == pytest.approx(np.quantile(loss, 0.99))
    assert es == pytest.approx(np.mean(loss[-10:]))


def test_realised_vol__constant_returns__known_volatility():
    # a 1 % move every hour for 24 hours: sigma^2 = 24 x ln(1.01)^2 per day
    rounds = [(3600 * i, 100.0 * 1.01**i) for i in range(25)]
    got = m.realised_vol(rounds, now=3600 * 24)
    want = math.sqrt(24 * math.log(1.01) ** 2 / DAY * SECONDS_PER_YEAR)
    assert got == pytest.approx(want)


def test_realised_vol__too_few_rounds__none():
    assert m.realised_vol([(0, 100.0), (60, 101.0)], now=120) is None


@pytest.mark.parametrize(
    "text, seconds", [("24h", DAY), ("30m", 1800), ("7d", 7 * DAY), ("3600s", 3600), ("2", 7200)]
)
def test_parse_horizon__durations__seconds(text, seconds):
    assert m.parse_horizon(text) == seconds


@pytest.mark.parametrize(
    "text, reason",
    [("soon", "not a duration"), ("-1h", "must be positive"), ("0h", "must be positive"),
     ("400d", "longer than a year")],
)  # fmt: skip
def test_parse_horizon__bad_text__raises(text, reason):
    with pytest.raises(m.RiskModelError, match=reason):
        m.parse_horizon(text)


def _reference(book: m.Book, running: np.ndarray) -> tuple[float, np.ndarray]:
    """Liquidation calls per path and bad debt per path, one path and position at a time:
    step by step, liquidate at the step's low whenever the price is below the liquidation
    price (at today's price for a position liquidatable now)."""
    paths, steps = running.shape
    thr = PARAMS.liquidation_threshold / 10_000
    calls, bad = 0, np.zeros(paths)
    for p in range(paths):
        for i in range(book.size):
            coll, debt, rounds = book.collateral[i : i + 1], book.debt[i : i + 1], 0
            if book.liquidatable_now[i]:
                price = np.array([book.price])
                coll, debt, short = m.liquidate_float(coll, debt, price, PARAMS)
                calls, rounds, bad[p] = calls + 1, 1, bad[p] + short[0]
            for t in range(steps):
                if debt[0] <= 0 or rounds == m.MAX_ROUNDS:
                    break
                if running[p, t] < math.log(debt[0] / (coll[0] * thr) / book.price):
                    price = np.array([book.price * math.exp(running[p, t])])
                    full = rounds == m.MAX_ROUNDS - 1
                    coll, debt, short = m.liquidate_float(coll, debt, price, PARAMS, full)
                    calls, rounds, bad[p] = calls + 1, rounds + 1, bad[p] + short[0]
    return calls / paths, bad


def test_simulate__wild_paths__liquidations_match_a_plain_loop():
    """Repeated partial liquidations, whole ones and bad debt, against the obvious loop."""
    rows = [(i + 1, "0xowner", WAD * (i + 1), int(3000 * 0.7 / h * WAD) * (i + 1))
            for i, h in enumerate((0.8, 0.97, 1.02, 1.1, 1.3, 2.0))]  # fmt: skip
    book = m.make_book("WETH", 3000 * WAD, rows, PARAMS, 1, 50 * WAD, 0)
    got = m.simulate(book, vol=3.0, horizon=7 * DAY, paths=300, steps=12, dist="t", seed=5)
    running = m.step_minima(300, 12, 3.0, 7 * DAY / SECONDS_PER_YEAR, np.random.default_rng(5),
                            "t", 4.0)  # fmt: skip
    calls, bad = _reference(book, running)
    assert calls > book.size  # positions liquidated more than once on a path
    assert got.expected_liquidations == pytest.approx(calls)
    assert got.expected_bad_debt == pytest.approx(float(bad.mean()), rel=1e-9)
    assert got.expected_bad_debt > 0
    var, es = m.tail(np.maximum(bad - 50.0, 0.0))
    assert (got.var, got.es) == (pytest.approx(var), pytest.approx(es))
