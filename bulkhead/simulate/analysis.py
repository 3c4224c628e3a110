"""What the risk mirror predicts for a single-block drop, position by position.

A liquidation takes collateral worth K x the debt it repays (K the pool's penalty factor,
`bulkhead.risk.penalty_factor`). When a position's collateral is worth no more than
K x its debt, the liquidator takes all of it for value / K of debt, and the rest of the
debt is a shortfall: the pool's reserve absorbs it first, bad debt records what is left.
So after a single-block drop `d`, with keepers that liquidate every position, the pool
loses exactly the sum of these shortfalls at the new price, less what its reserve holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bulkhead import risk
from bulkhead.risk import WAD, RiskParams
from bulkhead.simulate.driver import abi
from bulkhead.simulate.recorder import Recorder, Tracked

if TYPE_CHECKING:
    from bulkhead.simulate.engine import Simulation


def shortfall(coll: int, debt: int, price: int, params: RiskParams, scale: int) -> int:
    """[wad] the debt a liquidation at `price` leaves uncovered (0 when value > K x debt)."""
    if debt == 0:
        return 0
    value = risk.value(coll, price, scale)
    k = risk.penalty_factor(params, debt)
    if value * WAD > k * debt:
        return 0
    return debt - value * WAD // k


def safe_drop(coll: int, debt: int, price: int, params: RiskParams, scale: int) -> float:
    """The largest drop after which the collateral still covers K x the debt."""
    value = risk.value(coll, price, scale)
    return 1 - risk.penalty_factor(params, debt) * debt / (value * WAD)


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
    tracked = [
        Tracked(p.name, p.address, p.decimals, p.params, p.max_jump_bps, p.heartbeat)
        for p in handles
    ]
    recorder = Recorder(sim.driver, tracked, sim.deployment.automation, [], None, 0)
    recorder.load_positions(sim.deployment.deploy_block, sim.driver.block_number())
    answers = sim._answers()
    pool_abi = abi("MarginPool")
    rates = sim.driver.calls([(t.address, pool_abi.data("rate")) for t in tracked])
    out = {}
    for t, h, raw in zip(tracked, handles, rates, strict=True):
        rate = int(pool_abi.result("rate", raw))
        positions = tuple(
            (coll, risk.debt(norm, rate)) for coll, norm in t.positions.values() if norm
        )
        out[t.name] = PoolBook(t.name, t.params, t.scale, h.wad(answers[t.name]), positions)
    return out
