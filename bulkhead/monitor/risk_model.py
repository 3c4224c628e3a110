"""Predictive risk of a pool: Monte-Carlo price paths over the current book.

Method (docs/RISK.md has the assumptions and limits):

- The log price follows a driftless-in-price GBM, X(t) = ln(P(t)/P(0)) with
  dX = -sigma^2/2 dt + sigma dW (the price is a martingale: no view on direction). With
  `dist="t"` each step's increment is a Student-t with `df` degrees of freedom scaled to the
  same variance (fat tails).
- A horizon is cut into `steps` equal steps. Within a step the path's minimum is drawn
  exactly from the Brownian bridge between the step's end points (Glasserman, "Monte Carlo
  Methods in Financial Engineering", 2004, section 6.4: min = (a + b - sqrt((a - b)^2 -
  2 s^2 ln U)) / 2), so the first passage below a liquidation price is that of the
  continuous path, not of the grid.
- A position is liquidatable once the price falls below its liquidation price
  (`risk.liquidation_price` of its debt grown by the stability fee to the horizon, the
  exact mirror of the pool). A keeper liquidates it within the step where that happens, at
  the step's lowest price (the worst price within one step: `steps` sets the assumed keeper
  and oracle latency). The liquidation follows the pool's `_liquidation_amounts` (a float
  twin of `risk.liquidation_amounts`, tested against it): a partial liquidation brings the
  position back to the target health, and the remainder may be liquidated again later on
  the same path (up to `MAX_ROUNDS` times, the last one in full).
- Bad debt on a path is the sum of the liquidations' shortfalls; what the pool's reserve
  cannot absorb is the loss ("bad debt after the reserve"), whose 99 % value at risk is
  the 0.99 quantile over paths, and whose expected shortfall is the mean of the worst 1 %
  of paths.

Everything is vectorised with numpy: the per-position probability of liquidation needs only
the sorted path minima (a binary search per position); liquidations are worked out only for
the (path, position) pairs that cross, with one global binary search for their first step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bulkhead import risk
from bulkhead.errors import BulkheadError
from bulkhead.risk import BPS, SECONDS_PER_YEAR, WAD, RiskParams

MAX_ROUNDS = 4  # liquidations of one position on one path; the last one takes it all
TAIL = 0.99  # the value-at-risk level
DEFAULT_STEPS = 96
DEFAULT_PATHS = 10_000
DISTRIBUTIONS = ("normal", "t")
MAX_VOL = 20.0  # [per year] 2000 %: beyond it an input is a typo


class RiskModelError(BulkheadError, ValueError):
    """Input the model cannot use; the message is one line."""


@dataclass(frozen=True)
class Book:
    """One pool's positions with debt, as the model needs them (floats in human units)."""

    pool: str
    price: float  # [USD] the pool's price now
    ids: np.ndarray  # position ids
    owners: tuple[str, ...]
    collateral: np.ndarray  # [collateral tokens]
    debt: np.ndarray  # [bhUSD] grown by the stability fee to the horizon
    liquidation_price: np.ndarray  # [USD] from `risk.liquidation_price` of that debt
    liquidatable_now: np.ndarray  # bool, `risk.is_liquidatable` at the price now
    params: RiskParams
    reserve: float  # [bhUSD]

    @property
    def size(self) -> int:
        return len(self.ids)


def make_book(
    pool: str,
    price: int,
    positions: Sequence[tuple[int, str, int, int]],
    params: RiskParams,
    scale: int,
    reserve: int,
    horizon: float = 0.0,
) -> Book:
    """A Book from contract integers: `price` [wad], `positions` as (id, owner, collateral
    [collateral units], debt [wad]), `reserve` [wad], `horizon` [seconds] over which the
    debt grows by the stability fee (`risk.grow`). Positions without debt are left out."""
    growth = risk.grow(WAD, int(horizon), params.stability_fee)
    rows = [p for p in positions if p[3] > 0]
    thr = params.liquidation_threshold
    debts = [risk.ceil_div(d * growth, WAD) for _, _, _, d in rows]
    liq = [risk.liquidation_price(c, d, thr, scale) for (_, _, c, _), d in zip(rows, debts)]
    return Book(
        pool=pool,
        price=price / WAD,
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        owners=tuple(r[1] for r in rows),
        collateral=np.array([c * scale / WAD for _, _, c, _ in rows], dtype=np.float64),
        debt=np.array([d / WAD for d in debts], dtype=np.float64),
        liquidation_price=np.array(
            [min(x, risk.MAX_UINT256 // 2) / WAD for x in liq], dtype=np.float64
        ),
        liquidatable_now=np.array(
            [risk.is_liquidatable(c, d, price, thr, scale) for (_, _, c, _), d in zip(rows, debts)],
            dtype=bool,
        ),
        params=params,
        reserve=reserve / WAD,
    )


@dataclass(frozen=True)
class PoolRisk:
    """The model's answer for one pool."""

    pool: str
    vol: float  # [per year] sigma of the log price
    horizon: float  # [seconds]
    paths: int
    steps: int
    dist: str
    df: float | None
    p_any: float  # P(at least one position liquidatable within the horizon)
    expected_liquidations: float  # mean number of liquidation calls per path
    expected_positions_liquidated: float  # sum of the per-position probabilities
    expected_bad_debt: float  # [bhUSD] mean over paths, before the reserve
    var: float  # [bhUSD] 99 % value at risk of bad debt after the reserve
    es: float  # [bhUSD] 99 % expected shortfall of bad debt after the reserve
    reserve: float  # [bhUSD]
    ids: np.ndarray = field(repr=False)
    p_liquidation: np.ndarray = field(repr=False)  # per position, in `ids` order

    def positions(self) -> list[tuple[int, float]]:
        """(id, probability of liquidation), most likely first."""
        order = np.lexsort((self.ids, -self.p_liquidation))
        return [(int(self.ids[i]), float(self.p_liquidation[i])) for i in order]


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def first_passage_probability(price: float, barrier: float, vol: float, years: float) -> float:
    """P(min over [0, T] of P(t) <= barrier) for a GBM with zero drift in price.

    With X = ln(P/P0), nu = -vol^2/2 the log drift and b = ln(barrier/P0) < 0:

        P = N((b - nu T) / (vol sqrt T)) + exp(2 nu b / vol^2) N((b + nu T) / (vol sqrt T))

    the distribution of the running minimum of a Brownian motion with drift (Shreve,
    "Stochastic Calculus for Finance II", 2004, section 7.2.2, the maximum of Brownian
    motion with drift, applied to -X; also Harrison, "Brownian Motion and Stochastic Flow
    Systems", 1985, section 1.8). 1 when the barrier is at or above the price.
    """
    if barrier >= price:
        return 1.0
    if barrier <= 0 or vol == 0 or years == 0:
        return 0.0
    b = math.log(barrier / price)
    nu = -0.5 * vol * vol
    sd = vol * math.sqrt(years)
    return _normal_cdf((b - nu * years) / sd) + math.exp(2 * nu * b / vol**2) * _normal_cdf(
        (b + nu * years) / sd
    )


def step_minima(
    paths: int,
    steps: int,
    vol: float,
    years: float,
    rng: np.random.Generator,
    dist: str = "normal",
    df: float = 4.0,
) -> np.ndarray:
    """[paths, steps] the running minimum of the log price up to the end of each step
    (each step's continuous minimum drawn from its Brownian bridge)."""
    dt = years / steps
    s = vol * math.sqrt(dt)
    if dist == "t":
        # unit-variance Student-t: t / sqrt(df / (df - 2))
        z = rng.standard_t(df, size=(paths, steps)) * math.sqrt((df - 2) / df)
    else:
        z = rng.standard_normal(size=(paths, steps))
    x = np.cumsum(z * s - 0.5 * s * s, axis=1)
    a = np.empty_like(x)
    a[:, 0] = 0.0
    a[:, 1:] = x[:, :-1]
    u = rng.random(size=(paths, steps))
    # the bridge's minimum; log(1 - u) keeps u = 0 finite
    low = 0.5 * (a + x - np.sqrt((x - a) ** 2 - 2.0 * s * s * np.log1p(-u)))
    return np.minimum.accumulate(low, axis=1)


def liquidate_float(
    coll: np.ndarray, debt: np.ndarray, price: np.ndarray, p: RiskParams, full: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`risk.liquidation_amounts` in floats, vectorised, with no repay cap: (collateral
    left [tokens], debt left [bhUSD], shortfall [bhUSD]) for liquidatable positions at
    `price` [USD]. `full=True` takes the whole position (the model's last round)."""
    fee_plus = (BPS + p.liquidation_fee) / BPS
    thr = p.liquidation_threshold / BPS
    target = p.target_health / WAD
    min_debt = p.min_debt / WAD
    val = coll * price
    k = fee_plus * (BPS + p.liquidation_bonus) / BPS + (p.liquidation_tip / WAD) / debt
    whole = val <= k * debt
    shortfall = np.where(whole & (val < debt * fee_plus), debt - val / fee_plus, 0.0)
    kt = k * thr
    with np.errstate(divide="ignore", invalid="ignore"):
        repaid = np.where(target > kt, (target * debt - val * thr) / (target - kt), debt)
    repaid = np.minimum(repaid, debt)
    repaid = np.where((debt - repaid < min_debt) | full, debt, repaid)
    # a whole liquidation takes all the collateral; otherwise the collateral beyond
    # repaid x k stays with the position (with its owner once the debt is gone)
    coll_left = np.where(whole, 0.0, np.maximum(coll - repaid * k / price, 0.0))
    debt_left = np.where(whole, 0.0, debt - repaid)
    return coll_left, debt_left, shortfall


def simulate(
    book: Book,
    vol: float,
    horizon: float,
    paths: int = DEFAULT_PATHS,
    steps: int = DEFAULT_STEPS,
    dist: str = "normal",
    df: float = 4.0,
    seed: int | None = 0,
) -> PoolRisk:
    """Run the model for one pool; `vol` [per year], `horizon` [seconds]."""
    check_inputs(vol, horizon, paths, steps, dist, df)
    years = horizon / SECONDS_PER_YEAR
    rng = np.random.default_rng(seed)
    n = book.size
    p_liq = np.zeros(n)
    p_any, liq, bad = 0.0, 0.0, np.zeros(paths)
    if n:
        running = step_minima(paths, steps, vol, years, rng, dist, df)
        lowest = np.sort(running[:, -1])
        with np.errstate(divide="ignore"):
            barrier = np.log(book.liquidation_price / book.price)
        barrier = np.where(book.liquidatable_now, np.inf, barrier)
        # min < barrier: the count of sorted minima strictly below it
        p_liq = np.searchsorted(lowest, barrier, side="left") / paths
        p_liq = np.where(book.liquidatable_now, 1.0, p_liq)
        p_any = float(np.searchsorted(lowest, barrier.max(), side="left") / paths)
        liq, bad = _liquidations(book, running, barrier)
    loss = np.maximum(bad - book.reserve, 0.0)
    var, es = tail(loss)
    return PoolRisk(
        pool=book.pool,
        vol=vol,
        horizon=horizon,
        paths=paths,
        steps=steps,
        dist=dist,
        df=df if dist == "t" else None,
        p_any=p_any,
        expected_liquidations=float(liq),
        expected_positions_liquidated=float(p_liq.sum()),
        expected_bad_debt=float(np.mean(bad)),
        var=var,
        es=es,
        reserve=book.reserve,
        ids=book.ids,
        p_liquidation=p_liq,
    )


def _liquidations(book: Book, running: np.ndarray, barrier: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean liquidation calls per path, bad debt [bhUSD] per path), a block of paths at a
    time so that memory stays bounded whatever the book."""
    paths = running.shape[0]
    reached = np.nonzero(barrier > running[:, -1].min())[0]  # positions any path reaches
    bad = np.zeros(paths)
    calls = 0
    block = max(1, PAIRS_PER_BLOCK // max(1, len(reached)))
    shape = _Shape.of(book)
    for lo in range(0, paths if len(reached) else 0, block):
        hi = min(paths, lo + block)
        n_calls, bad[lo:hi] = _liquidate_block(book, shape, running[lo:hi], barrier, reached)
        calls += n_calls
    return calls / paths, bad


PAIRS_PER_BLOCK = 4_000_000  # (path, position) pairs examined at once


@dataclass(frozen=True)
class _Shape:
    """Per position, what decides its first liquidation without working it out."""

    whole_below: np.ndarray  # log(price / price now) at or below which it goes whole
    can_partial: np.ndarray  # bool: target health reachable by a partial liquidation
    log_target: float  # ln(target health)

    @classmethod
    def of(cls, book: Book) -> _Shape:
        p = book.params
        k = (BPS + p.liquidation_fee) * (BPS + p.liquidation_bonus) / BPS**2 + (
            p.liquidation_tip / WAD
        ) / book.debt
        with np.errstate(divide="ignore"):
            whole_below = np.log(k * book.debt / book.collateral / book.price)
        target = p.target_health / WAD
        can_partial = target > k * p.liquidation_threshold / BPS
        return cls(whole_below, can_partial, math.log(target))


def _liquidate_block(
    book: Book, shape: _Shape, running: np.ndarray, barrier: np.ndarray, which: np.ndarray
) -> tuple[int, np.ndarray]:
    """Liquidation calls and bad debt per path for paths `running` and positions `which`.

    The first liquidation of every crossing (path, position) pair is classified without
    its arithmetic: a partial one leaves the position at the target health, so its next
    liquidation price is the gap price / target. The float twin of the pool's amounts runs
    only for whole liquidations (their shortfall) and for pairs liquidated again."""
    paths, steps = running.shape
    final = running[:, -1]
    path_idx, col = np.nonzero(final[:, None] < barrier[which][None, :])
    pos = which[col]
    # one globally sorted key: row offsets keep each path's non-increasing minima apart
    keys = (np.arange(paths)[:, None] * _SPAN - np.clip(running, -60.0, 0.0)).ravel()
    bar = barrier[pos]
    g = _first_low(keys, running, path_idx, bar)
    g = np.where(bar == np.inf, 0.0, g)  # liquidatable now: at today's price
    whole = g <= shape.whole_below[pos]
    again = ~whole & shape.can_partial[pos] & (final[path_idx] < g - shape.log_target)
    calls = len(path_idx)
    sub = np.nonzero(whole | again)[0]
    path_idx, pos, g = path_idx[sub], pos[sub], g[sub]
    coll, debt, short = liquidate_float(
        book.collateral[pos], book.debt[pos], book.price * np.exp(g), book.params, MAX_ROUNDS == 1
    )
    bad = np.bincount(path_idx, weights=short, minlength=paths)
    thr = book.params.liquidation_threshold / BPS
    for round_ in range(1, MAX_ROUNDS):
        with np.errstate(divide="ignore", invalid="ignore"):
            bar = np.log(debt / (coll * thr) / book.price)
        again = (debt > 0) & (final[path_idx] < bar)
        path_idx, coll, debt, bar = path_idx[again], coll[again], debt[again], bar[again]
        if not len(path_idx):
            break
        gap = book.price * np.exp(_first_low(keys, running, path_idx, bar))
        coll, debt, short = liquidate_float(coll, debt, gap, book.params, round_ == MAX_ROUNDS - 1)
        calls += len(path_idx)
        bad += np.bincount(path_idx, weights=short, minlength=paths)
    return calls, bad


_SPAN = 64.0  # row offset of the sorted keys: above the 60 the clipped minima span


def _first_low(
    keys: np.ndarray, running: np.ndarray, path_idx: np.ndarray, bar: np.ndarray
) -> np.ndarray:
    """The log price of each pair's first step whose minimum is below its barrier
    (strictly, as for the probabilities): the step's minimum, the gap price."""
    steps = running.shape[1]
    query = path_idx * _SPAN - np.clip(np.minimum(bar, 0.0), -60.0, 0.0)
    first = np.searchsorted(keys, query, side="right") - path_idx * steps
    return running[path_idx, np.minimum(first, steps - 1)]


def tail(loss: np.ndarray, level: float = TAIL) -> tuple[float, float]:
    """(value at risk, expected shortfall) of `loss` at `level`: the `level` quantile, and
    the mean of the worst (1 - level) share of the outcomes."""
    if not len(loss):
        return 0.0, 0.0
    worst = np.sort(loss)[::-1]
    n_tail = max(1, math.ceil(len(loss) * (1 - level) - 1e-9))  # 1 - 0.99 is not 0.01 in floats
    return float(np.quantile(loss, level)), float(worst[:n_tail].mean())


def check_inputs(vol: float, horizon: float, paths: int, steps: int, dist: str, df: float) -> None:
    if not (math.isfinite(vol) and vol >= 0):
        raise RiskModelError(f"volatility must be a non-negative number, not {vol}")
    if vol > MAX_VOL:
        raise RiskModelError(f"volatility {vol:.0%} a year is beyond any market (at most 2000%)")
    if not (math.isfinite(horizon) and horizon > 0):
        raise RiskModelError("the horizon must be positive")
    if paths < 100:
        raise RiskModelError(f"at least 100 paths are needed for a 99 % tail, not {paths}")
    if steps < 1:
        raise RiskModelError("at least one step is needed")
    if dist not in DISTRIBUTIONS:
        raise RiskModelError(f"distribution {dist!r} is not one of {', '.join(DISTRIBUTIONS)}")
    if dist == "t" and not df > 2:
        raise RiskModelError(f"Student-t needs more than 2 degrees of freedom, not {df}")


# ------------------------------------------------------------------ volatility from rounds


MIN_RETURNS = 2  # rounds with a change needed to estimate a volatility


def realised_vol(rounds: Sequence[tuple[int, float]], now: int) -> float | None:
    """Annualised volatility from a feed's rounds `(updated_at [seconds], answer)`, oldest
    first: the sum of squared log returns over the time from the first round to `now`
    (quiet time counts: a feed updates on deviation or heartbeat). None with fewer than
    `MIN_RETURNS` returns or no elapsed time."""
    clean = [(t, a) for t, a in rounds if a > 0]
    if len(clean) < MIN_RETURNS + 1:
        return None
    span = max(now, clean[-1][0]) - clean[0][0]
    if span <= 0:
        return None
    answers = np.array([a for _, a in clean], dtype=np.float64)
    r = np.diff(np.log(answers))
    return float(math.sqrt(float(np.sum(r * r)) / span * SECONDS_PER_YEAR))


# ------------------------------------------------------------------ horizon


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_horizon(text: str) -> int:
    """`24h`, `30m`, `7d`, `1w`, `3600s` (or a bare number of hours) in seconds."""
    cleaned = str(text).strip().lower()
    unit = cleaned[-1:] if cleaned[-1:] in _UNITS else "h"
    number = cleaned[:-1] if cleaned[-1:] in _UNITS else cleaned
    try:
        value = float(number)
    except ValueError:
        raise RiskModelError(
            f"horizon {text!r} is not a duration such as 24h, 30m, 7d or 3600s"
        ) from None
    seconds = value * _UNITS[unit]
    if not math.isfinite(seconds) or seconds <= 0:
        raise RiskModelError(f"horizon {text!r} must be positive")
    if seconds > 366 * 86400:
        raise RiskModelError(f"horizon {text!r} is longer than a year")
    if seconds < 1:
        raise RiskModelError(f"horizon {text!r} is shorter than a second")
    return int(round(seconds))
