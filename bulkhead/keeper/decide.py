"""What the keeper does, decided without a chain.

Everything here is pure: it takes a snapshot of the pools (price, rate, risk parameters),
the positions and rules from the keeper's index, the keeper's balances and the cost of
gas, and returns actions to send and skips with their reason. The amounts come from
`bulkhead.risk`, the integer mirror of the contracts, so an action that this module
plans is the one the pool would accept in the same block.

Units: [wad] = 1e18; bhUSD is valued at 1 USD; collateral at the pool's oracle price;
gas at `gas price x gas units x native coin price`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from bulkhead import risk
from bulkhead.risk import BPS, WAD, LiquidationError, RiskParams, oracle_status

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

# ---------------------------------------------------------------- reasons

# why an action was not planned
UNPROFITABLE = "unprofitable"
INSUFFICIENT_BHUSD = "insufficient_bhusd"
INSUFFICIENT_COLLATERAL = "insufficient_collateral"
ORACLE_INVALID = "oracle_invalid"
IN_FLIGHT = "in_flight"  # already handled: a transaction of ours for it is pending
LIQUIDATING = "liquidating"  # a protection is due but the position is liquidated first
CLOSING = "closing"  # a rule is due but a stop-loss closes the position first
NOT_DUE = "not_due"  # the index says healthy or not due (the view was a block behind)
NO_RULE = "no_rule"
ALLOWANCE = "allowance_too_small"
NO_AMOUNT = "no_amount"  # the rule cannot be met (target unreachable, debt below minimum)
UNKNOWN_POSITION = "unknown_position"
# the pool is paused: no liquidation and no boost (borrowing stops); other rules still run
PAUSED = "paused"
# the pool is in its grace window after an unpause: no liquidation until it ends
GRACE_WINDOW = "grace_window"

# why a simulated or sent action failed
LOST_RACE = "lost_race"
REVERTED = "reverted"

# reverts that mean another keeper (or the owner) got there first
RACE_REASONS = frozenset(
    {
        "pool: position is healthy",
        "pool: no debt",
        "automation: protection not due",
        "automation: boost not due",
        "automation: top-up not due",
        "automation: stop-loss not due",  # the price moved back above the owner's
        "automation: no debt",  # the owner repaid it all first
        "automation: no rule",  # another keeper carried it out (a rule is spent) or cleared
        "automation: above allowance",
        "pool: nothing to liquidate",  # liquidate_many: every position in it was taken
    }
)


# reverts of a pool whose liquidations (or, paused, borrowing) are closed
CLOSED_REASONS = {"pool: paused": PAUSED, "pool: grace window": GRACE_WINDOW}


def classify_revert(reason: str) -> str:
    """The failure bucket of a revert reason: lost_race, oracle_invalid, paused, grace_window
    or reverted."""
    reason = reason.strip()
    if reason in RACE_REASONS:
        return LOST_RACE
    if reason in CLOSED_REASONS:
        return CLOSED_REASONS[reason]
    if reason.startswith("oracle:"):
        return ORACLE_INVALID
    return REVERTED


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


# ------------------------------------------------------------ single plans


def _health(pool: PoolState, pos: Position, debt: int) -> int:
    return risk.health(
        pos.collateral, debt, pool.price, pool.params.liquidation_threshold, pool.scale
    )


def _fee(pool: PoolState, rule: Rule) -> int:
    """The fee a rule pays now [bps]: the owner's, capped at the pool's current bonus, as the
    pool (deleverage) and PositionAutomation (boost, top-up) cap it on chain."""
    return min(rule.fee, pool.params.liquidation_bonus)


def liquidation(
    pool: PoolState,
    pos: Position,
    bhusd: int,
    costs: Costs,
    slippage_bps: int = 100,
    slack_bps: int = 10,
    gas_kind: str = "liquidate",
) -> Decision:
    """Liquidate `pos` with at most `bhusd` [wad]; capped (partial) when the balance is short.

    `slack_bps` above the exact payment covers the stability fee accrued until the
    transaction lands; `slippage_bps` below the expected collateral out is the least
    the keeper accepts. `gas_kind` is the gas-table entry the position is charged:
    "liquidate" alone, "liquidate_many_each" (its marginal gas) as part of a batch.
    """
    skip = _skipper("liquidate", pos)
    if not pool.price_ok:
        return skip(ORACLE_INVALID, oracle_status(pool.status))
    debt = pos.debt(pool.rate)
    if debt == 0:
        return skip(NOT_DUE, "no debt")
    p, price = pool.params, pool.price
    if not risk.is_liquidatable(pos.collateral, debt, price, p.liquidation_threshold, pool.scale):
        return skip(NOT_DUE, "healthy")
    full = risk.liquidation_amounts(pos.collateral, debt, price, p, pool.scale)
    wanted = full.paid + full.paid * slack_bps // BPS + 1
    partial = False
    if bhusd >= full.paid:
        max_repay, amounts = min(wanted, bhusd), full
    else:
        try:
            amounts = risk.liquidation_amounts(pos.collateral, debt, price, p, pool.scale, bhusd)
        except LiquidationError:
            return skip(INSUFFICIENT_BHUSD, f"needs {full.paid} has {bhusd}", full.paid)
        max_repay, partial = bhusd, True
    bounty = pool.value(amounts.collateral_out) - amounts.paid
    gas = costs.of(gas_kind)
    clearing = costs.clear_under_water and amounts.shortfall > 0
    if bounty - gas < costs.min_profit and not clearing:
        return skip(UNPROFITABLE, f"bounty {bounty} gas {gas}")
    return Action(
        kind="liquidate",
        pool=pos.pool,
        id=pos.id,
        amount=max_repay,
        min_out=amounts.collateral_out * (BPS - slippage_bps) // BPS,
        bhusd_in=max_repay,
        collateral_in=0,
        expected_out=amounts.collateral_out,
        bounty=bounty,
        gas_cost=gas,
        health=_health(pool, pos, debt),
        partial=partial,
        clearing=clearing,
    )


def deleverage(
    pool: PoolState, pos: Position, rule: Rule | None, bhusd: int, costs: Costs
) -> Decision:
    """Carry out the owner's deleverage protection (`PositionAutomation.auto_deleverage`)."""
    skip = _skipper("deleverage", pos)
    if rule is None or not rule.active:
        return skip(NO_RULE)
    if not pool.price_ok:
        return skip(ORACLE_INVALID, oracle_status(pool.status))
    debt = pos.debt(pool.rate)
    if debt == 0:
        return skip(NOT_DUE, "no debt")
    health = _health(pool, pos, debt)
    if health >= rule.trigger:
        return skip(NOT_DUE, f"health {health} trigger {rule.trigger}")
    p = pool.params
    fee = _fee(pool, rule)
    repay, out, _after = risk.deleverage_amounts(
        pos.collateral, debt, pool.price, p.liquidation_threshold, fee, rule.target, pool.scale
    )
    if repay == 0:
        return skip(NO_AMOUNT, "target unreachable")
    if debt - repay < p.min_debt:
        return skip(NO_AMOUNT, "debt would fall below the minimum")
    if bhusd < repay:
        return skip(INSUFFICIENT_BHUSD, f"needs {repay} has {bhusd}", repay)
    bounty = pool.value(out) - repay
    gas = costs.of("deleverage")
    if bounty - gas < costs.min_profit:
        return skip(UNPROFITABLE, f"bounty {bounty} gas {gas}")
    return Action(
        kind="deleverage",
        pool=pos.pool,
        id=pos.id,
        amount=repay,
        min_out=0,
        bhusd_in=repay,
        collateral_in=0,
        expected_out=out,
        bounty=bounty,
        gas_cost=gas,
        health=health,
    )


def boost(
    pool: PoolState, pos: Position, rule: Rule | None, collateral: int, costs: Costs
) -> Decision:
    """Carry out the owner's boost (`PositionAutomation.boost`): the keeper supplies collateral."""
    skip = _skipper("boost", pos)
    if rule is None or not rule.active:
        return skip(NO_RULE)
    if not pool.price_ok:
        return skip(ORACLE_INVALID, oracle_status(pool.status))
    debt = pos.debt(pool.rate)
    health = _health(pool, pos, debt)
    if health <= rule.trigger:
        return skip(NOT_DUE, f"health {health} trigger {rule.trigger}")
    p = pool.params
    fee = _fee(pool, rule)
    borrow, coll_in = risk.boost_amounts(
        pos.collateral, debt, pool.price, p.liquidation_threshold, fee, rule.target, pool.scale
    )
    if borrow == 0:
        return skip(NO_AMOUNT, "target unreachable")
    if debt + borrow < p.min_debt:
        return skip(NO_AMOUNT, "debt would stay below the minimum")
    if collateral < coll_in:
        return skip(INSUFFICIENT_COLLATERAL, f"needs {coll_in} has {collateral}")
    bounty = borrow - pool.value(coll_in)
    gas = costs.of("boost")
    if bounty - gas < costs.min_profit:
        return skip(UNPROFITABLE, f"bounty {bounty} gas {gas}")
    return Action(
        kind="boost",
        pool=pos.pool,
        id=pos.id,
        amount=borrow,
        min_out=0,
        bhusd_in=0,
        collateral_in=coll_in,
        expected_out=borrow,
        bounty=bounty,
        gas_cost=gas,
        health=health,
    )


def top_up(pool: PoolState, pos: Position, rule: Rule | None, costs: Costs) -> Decision:
    """Carry out the owner's top-up (`PositionAutomation.top_up`): the owner's collateral moves."""
    skip = _skipper("top_up", pos)
    if rule is None or not rule.active:
        return skip(NO_RULE)
    if not pool.price_ok:
        return skip(ORACLE_INVALID, oracle_status(pool.status))
    debt = pos.debt(pool.rate)
    if debt == 0:
        return skip(NOT_DUE, "no debt")
    health = _health(pool, pos, debt)
    if health >= rule.trigger:
        return skip(NOT_DUE, f"health {health} trigger {rule.trigger}")
    rate = _fee(pool, rule)
    amount = risk.top_up_amount(
        pos.collateral,
        debt,
        pool.price,
        pool.params.liquidation_threshold,
        rate,
        rule.target,
        pool.scale,
    )
    if amount == 0:
        return skip(NO_AMOUNT, "target unreachable")
    if amount > rule.allowance:
        return skip(ALLOWANCE, f"needs {amount} allowance {rule.allowance}")
    fee = amount * rate // BPS
    bounty = pool.value(fee)
    gas = costs.of("top_up")
    if bounty - gas < costs.min_profit:
        return skip(UNPROFITABLE, f"bounty {bounty} gas {gas}")
    return Action(
        kind="top_up",
        pool=pos.pool,
        id=pos.id,
        amount=amount,
        min_out=0,
        bhusd_in=0,
        collateral_in=0,
        expected_out=fee,
        bounty=bounty,
        gas_cost=gas,
        health=health,
    )


def stop_loss(
    pool: PoolState,
    pos: Position,
    rule: Rule | None,
    bhusd: int,
    costs: Costs,
    slack_bps: int = 10,
) -> Decision:
    """Carry out the owner's stop-loss (`PositionAutomation.stop_loss`): the keeper repays the
    whole debt and receives collateral worth debt x (1 + fee) at the oracle price; the rest
    goes back to the owner. Due at or below the rule's price; works while the pool is paused
    or in its grace window. `slack_bps` above the debt covers the stability fee accrued until
    the transaction lands (the automation pulls the debt of that block)."""
    skip = _skipper("stop_loss", pos)
    if rule is None or not rule.active:
        return skip(NO_RULE)
    if not pool.price_ok:
        return skip(ORACLE_INVALID, oracle_status(pool.status))
    debt = pos.debt(pool.rate)
    if debt == 0:
        return skip(NOT_DUE, "no debt")
    if pool.price > rule.trigger:
        return skip(NOT_DUE, f"price {pool.price} above the stop {rule.trigger}")
    if bhusd < debt:
        return skip(INSUFFICIENT_BHUSD, f"needs {debt} has {bhusd}", debt)
    out, _owner = risk.stop_loss_amounts(
        pos.collateral, debt, pool.price, _fee(pool, rule), pool.scale
    )
    bounty = pool.value(out) - debt
    gas = costs.of("stop_loss")
    if bounty - gas < costs.min_profit:
        return skip(UNPROFITABLE, f"bounty {bounty} gas {gas}")
    return Action(
        kind="stop_loss",
        pool=pos.pool,
        id=pos.id,
        amount=debt,
        min_out=0,
        bhusd_in=min(debt + debt * slack_bps // BPS + 1, bhusd),
        collateral_in=0,
        expected_out=out,
        bounty=bounty,
        gas_cost=gas,
        health=_health(pool, pos, debt),
    )


def _skipper(kind: str, pos: Position):
    def skip(reason: str, detail: str = "", need: int = 0) -> Skip:
        return Skip(kind, pos.pool, pos.id, reason, detail, need)

    return skip
