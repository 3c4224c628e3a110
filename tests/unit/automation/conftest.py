"""Positions and rules for the `PositionAutomation` unit tests; amounts come from each pool's
own parameters."""

from __future__ import annotations

from bulkhead import risk
from tests.conftest import BPS, WAD

TARGET = 3 * WAD // 2  # [wad] the protections' target health


def open_at_max_ltv(m, owner) -> int:
    """A position on collateral worth 30,000 USD, borrowed to 1 % under max LTV: health just
    above threshold / max LTV."""
    coll = m.collateral_for(30_000 * WAD)
    debt = risk.max_debt(coll, m.pool.price(), m.params.max_ltv, m.scale) * 99 // 100
    return m.open(owner, coll, debt)


def trigger_for(m) -> int:
    """A trigger [wad] halfway between 1.0 (liquidation) and the health at max LTV
    (threshold / max LTV): a fresh position is not due, a drop makes it due."""
    p = m.params
    return (WAD + p.liquidation_threshold * WAD // p.max_ltv) // 2


def drop_below(m, pid, trigger, admin) -> None:
    """Move the price until the position's health is halfway between 1.0 and `trigger`:
    its protection is due and it cannot be liquidated."""
    m.move_price((WAD + trigger) // 2 * BPS // m.pool.health(pid), admin)
    assert WAD < m.pool.health(pid) < trigger


def protect(m, automation, owner, pid, trigger=None, target=TARGET, fee=100, operator=True):
    """The owner sets a protection and (by default) makes the automation its operator."""
    trigger = trigger_for(m) if trigger is None else trigger
    automation.set_protection(m.pool, pid, trigger, target, fee, sender=owner)
    if operator:
        m.pool.set_operator(automation, True, sender=owner)
    return trigger


def fund_keeper(m, stablecoin, keeper, automation, amount) -> None:
    """The keeper borrows `amount` bhUSD on a side position and approves the automation."""
    m.open(keeper, m.collateral_for(4 * amount) + m.unit, amount)
    stablecoin.approve(automation, 2**256 - 1, sender=keeper)


def due_protection(m, automation, stablecoin, owner, keeper, admin, fee=100) -> tuple[int, int]:
    """(position id, trigger): a position at max LTV with a due protection, the automation
    its owner's operator, and a keeper with bhUSD that approved the automation."""
    pid = open_at_max_ltv(m, owner)
    trigger = protect(m, automation, owner, pid, fee=fee)
    fund_keeper(m, stablecoin, keeper, automation, 50_000 * WAD)
    drop_below(m, pid, trigger, admin)
    return pid, trigger


def deleverage_repay(m, pid, fee, target=TARGET) -> int:
    """What a keeper bot sends: the repay that lands just under the target."""
    coll, debt, price = m.pool.collateral_of(pid), m.pool.debt_of(pid), m.pool.price()
    return risk.deleverage_amounts(
        coll, debt, price, m.params.liquidation_threshold, fee, target, m.scale
    )[0]
