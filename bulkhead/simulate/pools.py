"""A deployed pool as the simulator knows it, and the side pool its keepers borrow from.

`PoolHandle` is the one record of a pool's facts (its addresses, decimals, oracle bounds,
and the risk parameters and haircut governance last set); the engine, the recorder
(`recorder.Tracked` holds a handle) and the analysis all read them from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bulkhead.risk import WAD, RiskParams, to_wad

FUND = "FUND"
FUND_POOL = {
    "name": FUND,
    "collateral": "mock",
    "decimals": 18,
    "feed": "mock",
    "feed_decimals": 8,
    "price": 1.0,
    "heartbeat": 7 * 86400,
    "max_jump_bps": 5000,
    "max_ltv_bps": 5000,
    "liquidation_threshold_bps": 6000,
    "liquidation_bonus_bps": 500,
    "liquidation_fee_bps": 0,
    "liquidation_tip": 0,
    "target_health": 1.1,
    "min_debt": 1.0,
    "debt_ceiling": 1e14,
    "stability_fee_yearly": 0,
}
FUND_LTV = 4  # keepers post 4x their capital in FUND collateral (25 % LTV)
NATIVE_POOLS = ("WETH", "ETH")
DEFAULT_NATIVE_PRICE = 3000 * WAD  # [wad] gas valuation without a WETH pool


@dataclass
class PoolHandle:
    name: str
    address: str
    token: str
    feed: str
    decimals: int
    feed_decimals: int
    heartbeat: int  # [seconds]
    max_jump_bps: int
    params: RiskParams
    haircut: int = 0  # [bps]
    position_debt_cap: int | None = None  # [wad]

    @property
    def scale(self) -> int:
        return to_wad(self.decimals)

    def wad(self, answer: int) -> int:
        return answer * to_wad(self.feed_decimals)
