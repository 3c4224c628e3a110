"""The keeper's liquidation decision: whether a position is worth liquidating now, for how
much, and with what least collateral out. Pure: the amounts come from `bulkhead.risk`, the
integer mirror of the pool, so a liquidation planned here is one the pool accepts in the
same block.

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
    position_health,
    skipper,
)
from bulkhead.keeper.reasons import INSUFFICIENT_BHUSD, NOT_DUE, ORACLE_INVALID, UNPROFITABLE
from bulkhead.risk import BPS, LiquidationError, oracle_status


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
    skip = skipper("liquidate", pos)
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
        health=position_health(pool, pos, debt),
        partial=partial,
        clearing=clearing,
    )
