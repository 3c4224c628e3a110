"""The population of positions a simulation opens: pure, deterministic for a seed.

Sizes and leverage come from distributions, not from data (no public per-position dataset
ships with the repo); the defaults are an assumption stated here and in
docs/SIMULATION.md:

- collateral value [USD] ~ lognormal with median `size_median` and log-sd `size_sigma`,
  clipped to [`size_min`, `size_max`] (median 10k USD, mean about 16k USD);
- leverage, as a fraction of the pool's max LTV, ~ Beta(`ltv_alpha`, `ltv_beta`) clipped
  to [`ltv_min`, `ltv_max`]: Beta(4, 2) has mean 0.67 and puts 45 % of positions above
  0.71 of max LTV and 8 % above 0.9 (a fraction f opens at a health of liquidation
  threshold / (f x max LTV)), which is the shape lending markets show in a calm week: most
  borrowers keep a cushion, a tail sits near the limit;
- positions go to pools in turn, owners are drawn at random from the dev accounts;
- a share `protected` of positions whose health at opening is above `trigger` + 0.02
  carry a protection (trigger `trigger`, target `target`, fee `fee_bps`, capped at the
  pool's liquidation bonus);
- a share `stop_loss` of positions carry a stop-loss rule at `stop_loss_margin` above their
  liquidation price at opening (fee `stop_loss_fee_bps`, capped at the pool's bonus), drawn
  from a stream of its own, so that turning stop-losses on changes no other draw.

Leverage is a fraction of the pool's borrow limit: max LTV less the haircut in force when
the population opens; no debt exceeds the pool's position debt cap.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bulkhead import risk
from bulkhead.errors import BulkheadError
from bulkhead.risk import WAD, RiskParams

CENT = 10**16  # [wad] debts are whole cents


class PopulationError(BulkheadError, ValueError):
    """A population the pools cannot take; the message is one line."""


@dataclass(frozen=True)
class Population:
    positions: int = 1000
    size_median: float = 10_000.0  # [USD] collateral value at opening
    size_sigma: float = 1.0  # log-sd of the lognormal
    size_min: float = 1_000.0  # [USD]
    size_max: float = 1_000_000.0  # [USD]
    ltv_alpha: float = 4.0  # Beta shape of the fraction of max LTV borrowed
    ltv_beta: float = 2.0
    ltv_min: float = 0.10  # [fraction of max LTV]
    ltv_max: float = 0.99
    protected: float = 0.20  # share of eligible positions with a protection
    trigger: float = 1.15  # [health]
    target: float = 1.35  # [health]
    fee_bps: int = 50  # [bps] keeper's fee for a deleverage
    stop_loss: float = 0.0  # share of positions with a stop-loss rule
    stop_loss_margin: float = 0.10  # stop price = liquidation price x (1 + margin)
    stop_loss_fee_bps: int = 100  # [bps] keeper's fee for a stop-loss

    def validate(self) -> None:
        if self.positions < 1:
            raise PopulationError("a population needs at least one position")
        if not 0 < self.size_min <= self.size_median <= self.size_max:
            raise PopulationError("sizes need 0 < size_min <= size_median <= size_max")
        if self.size_sigma < 0 or self.ltv_alpha <= 0 or self.ltv_beta <= 0:
            raise PopulationError("distribution shapes must be positive")
        if not 0 < self.ltv_min <= self.ltv_max <= 1:
            raise PopulationError("leverage needs 0 < ltv_min <= ltv_max <= 1 (of max LTV)")
        if not 0 <= self.protected <= 1:
            raise PopulationError("the protected share is a fraction in [0, 1]")
        if not 1 < self.trigger < self.target <= 10:
            raise PopulationError("protections need 1 < trigger < target <= 10")
        if not 0 <= self.stop_loss <= 1:
            raise PopulationError("the stop-loss share is a fraction in [0, 1]")
        if not 0 <= self.stop_loss_margin <= 10 or self.stop_loss_fee_bps < 0:
            raise PopulationError("stop-losses need a margin in [0, 10] and a fee of 0 or more")


@dataclass(frozen=True)
class PoolSpec:
    """What planning needs to know about one pool."""

    name: str
    price: int  # [wad] at opening
    decimals: int
    params: RiskParams
    total_debt: int = 0  # [wad] already borrowed
    haircut: int = 0  # [bps] taken off max LTV for new borrowing
    position_debt_cap: int | None = None  # [wad] most debt per position; None: no cap

    @property
    def scale(self) -> int:
        return risk.to_wad(self.decimals)

    @property
    def borrow_ltv(self) -> int:
        """[bps] the limit positions open under: max LTV less the haircut."""
        return risk.borrow_ltv(self.params.max_ltv, self.haircut)


@dataclass(frozen=True)
class Planned:
    pool: str
    owner: str
    collateral: int  # [collateral units]
    debt: int  # [wad]
    leverage: float  # [fraction of max LTV] drawn
    protection: tuple[int, int, int] | None  # (trigger [wad], target [wad], fee [bps])
    stop_loss: tuple[int, int] | None = None  # (price [wad], fee [bps])

    def health(self, spec: PoolSpec) -> int:
        return risk.health(
            self.collateral, self.debt, spec.price, spec.params.liquidation_threshold, spec.scale
        )


def plan(
    population: Population, pools: Sequence[PoolSpec], owners: Sequence[str], seed: int
) -> list[Planned]:
    """The positions to open, in the order to open them."""
    population.validate()
    if not pools:
        raise PopulationError("no pool to open positions in")
    if not owners:
        raise PopulationError("no owner accounts")
    rng = random.Random(f"bulkhead-population:{seed}")
    stops = random.Random(f"bulkhead-stop-loss:{seed}")
    planned = []
    for i in range(population.positions):
        spec = pools[i % len(pools)]
        x = _one(population, spec, rng.choice(list(owners)), rng)
        if stops.random() < population.stop_loss:
            x = replace(x, stop_loss=_stop_loss(population, spec, x))
        planned.append(x)
    _check_ceilings(planned, pools)
    return planned


def _stop_loss(pop: Population, spec: PoolSpec, x: Planned) -> tuple[int, int]:
    """The rule's price [wad]: `stop_loss_margin` above the liquidation price at opening."""
    p = spec.params
    liquidation = risk.liquidation_price(x.collateral, x.debt, p.liquidation_threshold, spec.scale)
    price = liquidation * int((1 + pop.stop_loss_margin) * 10_000) // 10_000
    return max(price, 1), min(pop.stop_loss_fee_bps, p.liquidation_bonus)


def _one(pop: Population, spec: PoolSpec, owner: str, rng: random.Random) -> Planned:
    p = spec.params
    usd = math.exp(rng.gauss(math.log(pop.size_median), pop.size_sigma))
    usd = min(max(usd, pop.size_min), pop.size_max)
    frac = min(max(rng.betavariate(pop.ltv_alpha, pop.ltv_beta), pop.ltv_min), pop.ltv_max)
    protect_draw = rng.random()
    limit = spec.borrow_ltv
    # the least size that carries the minimum debt at this leverage (1 % above it)
    floor = p.min_debt / WAD / (limit / 10_000 * frac) * 1.01
    usd = max(usd, floor)
    coll = _units(usd, spec)
    debt = risk.max_debt(coll, spec.price, limit, spec.scale) * int(frac * 10**6) // 10**6
    if spec.position_debt_cap is not None:
        debt = min(debt, spec.position_debt_cap)
    debt -= debt % CENT
    debt = max(debt, p.min_debt)
    protection = None
    if protect_draw < pop.protected:
        h = risk.health(coll, debt, spec.price, p.liquidation_threshold, spec.scale)
        trigger, target = int(pop.trigger * WAD), int(pop.target * WAD)
        if h > trigger + 2 * 10**16:
            protection = (trigger, target, min(pop.fee_bps, p.liquidation_bonus))
    return Planned(spec.name, owner, coll, debt, round(frac, 6), protection)


def _units(usd: float, spec: PoolSpec) -> int:
    """`usd` worth of collateral, to four decimals of a whole token (or all of them)."""
    places = min(4, spec.decimals)
    whole = usd * WAD / spec.price
    return max(round(whole * 10**places), 1) * 10 ** (spec.decimals - places)


def _check_ceilings(planned: Sequence[Planned], pools: Sequence[PoolSpec]) -> None:
    for spec in pools:
        borrowed = sum(x.debt for x in planned if x.pool == spec.name)
        room = spec.params.debt_ceiling - spec.total_debt
        if borrowed > room:
            raise PopulationError(
                f"the population borrows {borrowed / WAD:,.0f} bhUSD in pool {spec.name}, "
                f"above the room under its debt ceiling ({room / WAD:,.0f} bhUSD): "
                "open fewer or smaller positions"
            )
