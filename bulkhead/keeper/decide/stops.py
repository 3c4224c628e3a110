"""The keeper's decision on an owner's stop-loss in `PositionAutomation`: due at or below the
owner's price, the keeper repays the whole debt for collateral worth debt x (1 + fee). Pure.

Units: [wad] = 1e18; bhUSD at 1 USD; collateral at the pool's oracle price.
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
    INSUFFICIENT_BHUSD,
    NO_RULE,
    NOT_DUE,
    ORACLE_INVALID,
    UNPROFITABLE,
)
from bulkhead.risk import BPS, oracle_status


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
    skip = skipper("stop_loss", pos)
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
        pos.collateral, debt, pool.price, capped_fee(pool, rule), pool.scale
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
        health=position_health(pool, pos, debt),
    )
