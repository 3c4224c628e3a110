"""The keeper's decisions on owners' rules in `PositionAutomation` that keep a position
near its target health: a deleverage protection (the keeper repays, takes collateral), a
boost (the keeper supplies collateral, takes the borrow) and a top-up (the owner's
collateral moves in). Each is due past the rule's health trigger, pays the owner's fee
capped at the pool's bonus, and is sent only when that fee beats the gas. Pure.

Units: [wad] = 1e18; [bps] = 1e-4; bhUSD at 1 USD; collateral at the pool's oracle price.
"""

from __future__ import annotations

from bulkhead import risk
from bulkhead.keeper.model import (
    Action,
    Costs,
    Decision,
    PoolState,
    Position,
    Rule,
    capped_fee,
    position_health,
    skipper,
)
from bulkhead.keeper.reasons import (
    ALLOWANCE,
    INSUFFICIENT_BHUSD,
    INSUFFICIENT_COLLATERAL,
    NO_AMOUNT,
    NO_RULE,
    NOT_DUE,
    ORACLE_INVALID,
    UNPROFITABLE,
)
from bulkhead.risk import BPS, oracle_status


def deleverage(
    pool: PoolState, pos: Position, rule: Rule | None, bhusd: int, costs: Costs
) -> Decision:
    """Carry out the owner's deleverage protection (`PositionAutomation.auto_deleverage`)."""
    skip = skipper("deleverage", pos)
    if rule is None or not rule.active:
        return skip(NO_RULE)
    if not pool.price_ok:
        return skip(ORACLE_INVALID, oracle_status(pool.status))
    debt = pos.debt(pool.rate)
    if debt == 0:
        return skip(NOT_DUE, "no debt")
    health = position_health(pool, pos, debt)
    if health >= rule.trigger:
        return skip(NOT_DUE, f"health {health} trigger {rule.trigger}")
    p = pool.params
    fee = capped_fee(pool, rule)
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
    skip = skipper("boost", pos)
    if rule is None or not rule.active:
        return skip(NO_RULE)
    if not pool.price_ok:
        return skip(ORACLE_INVALID, oracle_status(pool.status))
    debt = pos.debt(pool.rate)
    health = position_health(pool, pos, debt)
    if health <= rule.trigger:
        return skip(NOT_DUE, f"health {health} trigger {rule.trigger}")
    p = pool.params
    fee = capped_fee(pool, rule)
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
    skip = skipper("top_up", pos)
    if rule is None or not rule.active:
        return skip(NO_RULE)
    if not pool.price_ok:
        return skip(ORACLE_INVALID, oracle_status(pool.status))
    debt = pos.debt(pool.rate)
    if debt == 0:
        return skip(NOT_DUE, "no debt")
    health = position_health(pool, pos, debt)
    if health >= rule.trigger:
        return skip(NOT_DUE, f"health {health} trigger {rule.trigger}")
    rate = capped_fee(pool, rule)
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
