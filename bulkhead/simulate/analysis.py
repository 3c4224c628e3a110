"""What the risk mirror predicts for a single-block drop, position by position.

A liquidation that cannot be partial takes all the collateral for the whole debt. While the
collateral is worth at least debt x (1 + fee) the keeper repays all of it (its bonus shrinks
to the equity left); below that the keeper pays the collateral's worth, and the rest of the
debt (net of the fee the keeper paid on what it covered) is a shortfall: the pool's reserve
absorbs it first, bad debt records what is left. So after a single-block drop `d`, with
keepers that liquidate every position (the bundled keeper clears positions under water for
no bounty), the pool loses the sum of these shortfalls at the new price, less its reserve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bulkhead import risk
from bulkhead.risk import BPS, RiskParams
from bulkhead.simulate.driver import abi
from bulkhead.simulate.recorder import Recorder, Tracked

if TYPE_CHECKING:
    from bulkhead.simulate.engine import Simulation


def shortfall(coll: int, debt: int, price: int, params: RiskParams, scale: int) -> int:
    """[wad] the debt a whole liquidation at `price` leaves uncovered (0 while the collateral
    is worth at least debt x (1 + fee), or while the position is healthy)."""
    if not risk.is_liquidatable(coll, debt, price, params.liquidation_threshold, scale):
        return 0
    return risk.liquidation_amounts(coll, debt, price, params, scale).shortfall


def safe_drop(coll: int, debt: int, price: int, params: RiskParams, scale: int) -> float:
    """The largest drop after which the collateral still covers debt x (1 + fee)."""
    value = risk.value(coll, price, scale)
    return 1 - debt * (BPS + params.liquidation_fee) / (value * BPS)


@dataclass(frozen=True)
class PoolBook:
    """The positions of one pool as the chain holds them now."""

    name: str
    params: RiskParams
    scale: int
    price: int  # [wad] the feed's answer
    positions: tuple[tuple[int, int], ...]  # (collateral, debt [wad]) of positions with debt

    def shortfall_after(self, drop: float) -> int:
        """[wad] total shortfall if every position is liquidated after a drop of `drop`."""
        price = int(self.price * (1 - drop))
        return sum(shortfall(c, d, price, self.params, self.scale) for c, d in self.positions)

    def safe_drop(self) -> float | None:
        drops = [safe_drop(c, d, self.price, self.params, self.scale) for c, d in self.positions]
        return min(drops) if drops else None


def books(sim: Simulation, pools: list[str] | tuple[str, ...]) -> dict[str, PoolBook]:
    """Every pool in `pools` as it stands at the head of the chain."""
    assert sim.driver is not None and sim.deployment is not None
    handles = [p for p in sim.sim_pools if p.name in pools]
    tracked = [Tracked(p) for p in handles]
    recorder = Recorder(sim.driver, tracked, sim.deployment.automation, [], None, 0)
    recorder.load_positions(sim.deployment.deploy_block, sim.driver.block_number())
    answers = sim._answers()
    pool_abi = abi("MarginPool")
    rates = sim.driver.calls([(t.address, pool_abi.data("rate")) for t in tracked])
    out = {}
    for t, raw in zip(tracked, rates, strict=True):
        rate = int(pool_abi.result("rate", raw))
        positions = tuple(
            (coll, risk.debt(norm, rate)) for coll, norm in t.positions.values() if norm
        )
        out[t.name] = PoolBook(t.name, t.params, t.scale, t.pool.wad(answers[t.name]), positions)
    return out
