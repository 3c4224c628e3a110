"""The records the keeper's decisions pass, and what they share.

A pool as the keeper saw it in one block (`PoolState`), a position, an owner's rule, what
gas costs (`Costs`, with the gas table `DEFAULT_GAS`); what a decision returns (an `Action`
to send or a `Skip` with its reason) and a batch of liquidations (`Batch`, with its gas and
capacity); and the helpers every decide function uses. Pure: no chain access.

Units: [wad] = 1e18; bhUSD is valued at 1 USD; collateral at the pool's oracle price;
gas at `gas price x gas units x native coin price`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from bulkhead import risk
from bulkhead.keeper.reasons import GRACE_WINDOW, PAUSED
from bulkhead.risk import BPS, WAD, RiskParams

Kind = Literal["liquidate", "stop_loss", "deleverage", "boost", "top_up"]
KINDS: tuple[Kind, ...] = ("liquidate", "stop_loss", "deleverage", "top_up", "boost")
ADJUSTMENTS: tuple[Kind, ...] = ("stop_loss", "deleverage", "top_up", "boost")

# gas units an action costs when the keeper has not measured it yet (execution + intrinsic).
# A `liquidate_many` transaction costs its fixed part ("liquidate_many": intrinsic gas, one
# accrual, price read, burn and transfer) plus "liquidate_many_each" per position in it.
# Measured with eth_estimateGas on Anvil (WETH pool, whole liquidations): liquidate 159.6k,
# liquidate_many of 1 / 2 / 100 / 1,000 positions 169.0k / 186.7k / 1.92M / 17.81M, so
# 151k fixed + 17.7k per position.
DEFAULT_GAS: Mapping[str, int] = {
    "liquidate": 150_000,
    "liquidate_many": 150_000,
    "liquidate_many_each": 20_000,
    "deleverage": 130_000,
    "top_up": 170_000,
    "boost": 260_000,
    "stop_loss": 175_000,  # 174.6k mined on Anvil (WBTC, the keeper's first WBTC)
    "approve": 50_000,
}

MAX_BATCH = 1_000  # MarginPool.MAX_RESULTS: most ids `liquidate_many` takes
BATCH_BLOCK_SHARE_BPS = 7_500  # a batch's estimated gas stays within 75 % of a block

# ------------------------------------------------------------------ state


@dataclass(frozen=True)
class PoolState:
    """One pool as the keeper saw it in one block."""

    address: str
    name: str
    params: RiskParams
    scale: int  # 10 ** (18 - collateral decimals)
    price: int  # [wad] 0 while the oracle is invalid
    status: int  # oracle status, 0 = ok (see risk.ORACLE_STATUS)
    rate: int  # [wad] rate accumulator now
    paused: bool = False  # no liquidations and no borrowing (so no boosts)
    grace_end: int = 0  # [seconds] timestamp before which liquidations wait (`controls()`)
    now: int = 0  # [seconds] the timestamp of the block the keeper saw

    @property
    def price_ok(self) -> bool:
        return self.status == 0 and self.price > 0

    @property
    def in_grace(self) -> bool:
        """In the grace window after an unpause (judged at the block seen: the pool lets
        liquidations through from the first block whose timestamp is `grace_end`)."""
        return not self.paused and self.now < self.grace_end

    @property
    def closed(self) -> str | None:
        """Why liquidations are closed now (PAUSED or GRACE_WINDOW), None while open."""
        if self.paused:
            return PAUSED
        return GRACE_WINDOW if self.in_grace else None

    @property
    def grace_left(self) -> int:
        """[seconds] until the grace window ends (0 outside it)."""
        return self.grace_end - self.now if self.in_grace else 0

    def value(self, collateral: int) -> int:
        """[wad] USD value of `collateral` at the oracle price."""
        return risk.value(collateral, self.price, self.scale)


@dataclass(frozen=True)
class Position:
    pool: str
    id: int
    owner: str
    collateral: int  # [collateral units]
    normalised_debt: int  # [wad]

    def debt(self, rate: int) -> int:
        return risk.debt(self.normalised_debt, rate)


@dataclass(frozen=True)
class Rule:
    """An owner rule in `PositionAutomation`: a protection (deleverage), a boost, a top-up
    (health trigger and target), or a stop-loss (`trigger` is its price, no target)."""

    trigger: int  # [wad] health; a stop-loss: USD per collateral unit; 0 = off
    target: int  # [wad] health; 0 for a stop-loss
    fee: int  # [bps]
    allowance: int = 0  # [collateral units] top-up only

    @property
    def active(self) -> bool:
        return self.trigger > 0


@dataclass(frozen=True)
class Costs:
    """What gas costs now, in USD."""

    gas_price: int  # [wei per gas] what a transaction sent now would pay
    native_price: int  # [wad] USD per native coin
    gas: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_GAS))  # [gas] per kind
    min_profit: int = 0  # [wad] USD an action must earn above its gas
    # liquidate positions under water (collateral worth less than debt x (1 + fee)) although
    # they pay no bounty, only gas: the pool then records its loss and stops charging a fee
    # on debt nobody will repay (the protocol's housekeeping; profit-only keepers turn it off)
    clear_under_water: bool = True

    def of(self, kind: str) -> int:
        """[wad] USD that one action of `kind` costs in gas."""
        return self.gas_price * self.gas.get(kind, DEFAULT_GAS[kind]) * self.native_price // WAD


def gas_cost_usd(gas_price: int, gas: int, native_price: int) -> int:
    """[wad] USD of `gas` units at `gas_price` [wei] with the native coin at `native_price`."""
    return gas_price * gas * native_price // WAD


# ---------------------------------------------------------------- outcome


@dataclass(frozen=True)
class Action:
    """One transaction the keeper means to send."""

    kind: Kind
    pool: str
    id: int
    amount: int  # liquidate: max repay [wad]; deleverage: repay [wad]; boost: borrow [wad];
    #              top_up: collateral taken from the owner [collateral units];
    #              stop_loss: the whole debt repaid [wad]
    min_out: int  # liquidate: least collateral out; 0 otherwise
    bhusd_in: int  # [wad] bhUSD the keeper spends at most
    collateral_in: int  # [collateral units] collateral the keeper supplies (boost)
    # collateral units (liquidate, deleverage, top_up, stop_loss) or bhUSD [wad] (boost)
    expected_out: int
    bounty: int  # [wad] USD the keeper expects to earn, before gas
    gas_cost: int  # [wad] USD
    health: int  # [wad] the position's health when decided
    partial: bool = False  # a liquidation capped by the keeper's bhUSD balance
    clearing: bool = False  # a liquidation under water, sent for housekeeping, not profit

    @property
    def key(self) -> tuple[str, int]:
        return (self.pool, self.id)

    @property
    def profit(self) -> int:
        return self.bounty - self.gas_cost


@dataclass(frozen=True)
class Skip:
    kind: str
    pool: str
    id: int
    reason: str
    detail: str = ""
    need: int = 0  # [wad] the bhUSD the action needs (INSUFFICIENT_BHUSD)

    @property
    def key(self) -> tuple[str, int]:
        return (self.pool, self.id)


Decision = Action | Skip


@dataclass(frozen=True)
class Batch:
    """Whole liquidations in one pool sent as one `liquidate_many` transaction.

    `amount` (the budget, `_max_repay`) is the sum of what each member was planned to pay
    at most. `min_out` is the least collateral of any one member after slippage: the pool
    checks one total, and a member that another keeper took first is skipped, taking its
    collateral out of that total; a sum over the members would then fail the whole batch
    for a lost race. The pool prices every member at one oracle price and the budget caps
    what is paid.
    """

    kind: ClassVar[str] = "liquidate_many"
    pool: str
    actions: tuple[Action, ...]

    @property
    def ids(self) -> list[int]:
        return [a.id for a in self.actions]

    @property
    def keys(self) -> list[tuple[str, int]]:
        return [a.key for a in self.actions]

    @property
    def amount(self) -> int:
        return sum(a.amount for a in self.actions)

    @property
    def min_out(self) -> int:
        return min(a.min_out for a in self.actions)

    @property
    def bhusd_in(self) -> int:
        return sum(a.bhusd_in for a in self.actions)

    @property
    def expected_out(self) -> int:
        return sum(a.expected_out for a in self.actions)

    @property
    def bounty(self) -> int:
        return sum(a.bounty for a in self.actions)

    @property
    def gas_cost(self) -> int:
        return sum(a.gas_cost for a in self.actions)


def batch_gas(size: int, gas: Mapping[str, int]) -> int:
    """[gas] a liquidation transaction of `size` positions costs: `liquidate` for one,
    `liquidate_many` otherwise."""
    if size == 1:
        return gas.get("liquidate", DEFAULT_GAS["liquidate"])
    fixed = gas.get("liquidate_many", DEFAULT_GAS["liquidate_many"])
    return fixed + size * gas.get("liquidate_many_each", DEFAULT_GAS["liquidate_many_each"])


def batch_capacity(block_gas_limit: int, gas: Mapping[str, int], most: int = MAX_BATCH) -> int:
    """Most positions one `liquidate_many` may take: at most `most` (and the pool's 1,000),
    and few enough that its gas stays within `BATCH_BLOCK_SHARE_BPS` of a block; at least 1."""
    budget = block_gas_limit * BATCH_BLOCK_SHARE_BPS // BPS
    fixed = gas.get("liquidate_many", DEFAULT_GAS["liquidate_many"])
    each = max(gas.get("liquidate_many_each", DEFAULT_GAS["liquidate_many_each"]), 1)
    return max(1, min(most, MAX_BATCH, (budget - fixed) // each))


# ------------------------------------------------- helpers of the decide functions


def position_health(pool: PoolState, pos: Position, debt: int) -> int:
    """[wad] the health of `pos` with `debt` at the pool's oracle price."""
    return risk.health(
        pos.collateral, debt, pool.price, pool.params.liquidation_threshold, pool.scale
    )


def capped_fee(pool: PoolState, rule: Rule) -> int:
    """The fee a rule pays now [bps]: the owner's, capped at the pool's current bonus, as the
    pool (deleverage) and PositionAutomation (boost, top-up) cap it on chain."""
    return min(rule.fee, pool.params.liquidation_bonus)


def skipper(kind: str, pos: Position) -> Callable[..., Skip]:
    """A `skip(reason, detail="", need=0)` that builds the `Skip` of `kind` for `pos`."""

    def skip(reason: str, detail: str = "", need: int = 0) -> Skip:
        return Skip(kind, pos.pool, pos.id, reason, detail, need)

    return skip
