"""Owner rules carried out by keepers through PositionAutomation: a protection's deleverage
(through `pool.deleverage`, as the owner's operator), a boost and a top-up. The keeper's
amounts come from bulkhead.risk; the chain checks the result."""

import ape

from bulkhead import risk
from bulkhead.risk import BPS, WAD
from tests.conftest import at_head_time


def _state(m, pid):
    price = m.pool.price()
    p = m.params
    return m.pool.collateral_of(pid), m.pool.debt_of(pid), price, p


def _fund_bhusd(m, account, amount, automation, stablecoin):
    """Give `account` bhUSD by opening a side position of its own; it approves the
    automation, which pulls a deleverage's repay from it."""
    m.open(account, 100 * m.unit, amount)
    stablecoin.approve(automation, 2**256 - 1, sender=account)


def _protect(m, automation, owner, pid, trigger, target, fee):
    """The owner sets a protection and lets the automation act as its operator."""
    automation.set_protection(m.pool, pid, trigger, target, fee, sender=owner)
    m.pool.set_operator(automation, True, sender=owner)


def _open_at_max_ltv(m, account) -> int:
    """A position on 10 collateral units that borrows up to the pool's max LTV."""
    return m.open_at_ltv(account, m.value(10 * m.unit), m.params.max_ltv)


def _trigger(m) -> int:
    """A trigger health [wad] halfway between 1.0 (liquidation) and the health of a position
    at the max LTV (threshold / max LTV): a fresh position is not due, a drop makes it due."""
    p = m.params
    return (WAD + p.liquidation_threshold * WAD // p.max_ltv) // 2


def _drop_below(m, pid, trigger, admin) -> None:
    """Move the price until the position's health is halfway between 1.0 and `trigger`:
    its protection is due and it cannot be liquidated."""
    m.move_price((WAD + trigger) // 2 * BPS // m.pool.health(pid), admin)
    assert WAD < m.pool.health(pid) < trigger


def test_auto_deleverage__due__lands_at_target_and_pays_fee(
    weth, borrower, keeper, admin, lens, chain, automation, stablecoin
):
    pid = _open_at_max_ltv(weth, borrower)
    trigger = _trigger(weth)
    _protect(weth, automation, borrower, pid, trigger, int(1.5 * WAD), 100)
    _fund_bhusd(weth, keeper, 50_000 * WAD, automation, stablecoin)
    _drop_below(weth, pid, trigger, admin)
    coll, debt, price, p = _state(weth, pid)
    h0 = risk.health(coll, debt, price, p.liquidation_threshold, weth.scale)
    assert h0 < trigger
    repay, out, after = risk.deleverage_amounts(
        coll, debt, price, p.liquidation_threshold, 100, int(1.5 * WAD), weth.scale
    )
    assert (repay, out, after) == tuple(lens.preview_auto_deleverage(weth.pool, pid))
    before_balance = weth.token.balanceOf(keeper)
    at_head_time(chain)  # the deleverage sees the debt the views above saw
    tx = automation.auto_deleverage(weth.pool, pid, repay, sender=keeper)
    assert weth.token.balanceOf(keeper) - before_balance == out
    h1 = weth.pool.health(pid)
    assert 1.49 * WAD <= h1 <= 1.5 * WAD
    event = tx.decode_logs(automation.AutoDeleverage)[0]
    assert event.repaid == repay and event.collateral_out == out
    assert event.health_before == h0 and event.health_after == h1
    # the keeper got collateral worth the repay plus exactly the fee, at the oracle price
    assert out == repay * 10_100 // 10_000 * WAD // (price * weth.scale)


def test_auto_deleverage__not_due__reverts(weth, borrower, keeper, automation, stablecoin):
    pid = weth.open(borrower, 10 * weth.unit, 10_000 * WAD)
    _protect(weth, automation, borrower, pid, int(1.2 * WAD), int(1.5 * WAD), 100)
    _fund_bhusd(weth, keeper, 50_000 * WAD, automation, stablecoin)
    with ape.reverts("automation: protection not due"):
        automation.auto_deleverage(weth.pool, pid, 1_000 * WAD, sender=keeper)


def test_auto_deleverage__overshoot__reverts(weth, borrower, keeper, admin, automation, stablecoin):
    pid = _open_at_max_ltv(weth, borrower)
    trigger = _trigger(weth)
    _protect(weth, automation, borrower, pid, trigger, int(1.5 * WAD), 100)
    _fund_bhusd(weth, keeper, 50_000 * WAD, automation, stablecoin)
    _drop_below(weth, pid, trigger, admin)
    coll, debt, price, p = _state(weth, pid)
    repay, _, _ = risk.deleverage_amounts(
        coll, debt, price, p.liquidation_threshold, 100, int(1.5 * WAD), weth.scale
    )
    with ape.reverts("automation: result off target"):  # far above the target
        automation.auto_deleverage(weth.pool, pid, repay * 3 // 2, sender=keeper)
    with ape.reverts("automation: result off target"):  # far below it
        automation.auto_deleverage(weth.pool, pid, repay // 100, sender=keeper)


def test_protection__keeper_bot_flow__due_lists_it_then_not(
    weth, borrower, keeper, admin, lens, chain, automation, stablecoin
):
    """What a keeper bot does: `due` lists the position with its protection bit, the lens
    previews the repay, the deleverage lands, and `due` no longer lists it."""
    pid = _open_at_max_ltv(weth, borrower)
    trigger = _trigger(weth)
    _protect(weth, automation, borrower, pid, trigger, int(1.5 * WAD), 100)
    _fund_bhusd(weth, keeper, 50_000 * WAD, automation, stablecoin)
    _drop_below(weth, pid, trigger, admin)
    due = [(d.id, d.rules) for d in automation.due(weth.pool, 1, 1_000)]
    assert due == [(pid, automation.DUE_PROTECTION())]
    repay, _, _ = lens.preview_auto_deleverage(weth.pool, pid)
    at_head_time(chain)
    automation.auto_deleverage(weth.pool, pid, repay, sender=keeper)
    assert list(automation.due(weth.pool, 1, 1_000)) == []


def test_boost__due__brings_health_down_to_target(
    weth, borrower, keeper, admin, automation, stablecoin
):
    pid = weth.open(borrower, 10 * weth.unit, 5_000 * WAD)  # health far above 2.5
    weth.pool.set_operator(automation, True, sender=borrower)
    automation.set_boost(weth.pool, pid, int(2.5 * WAD), int(1.6 * WAD), 50, sender=borrower)
    due = [(d.id, d.rules) for d in automation.due(weth.pool, 1, 100)]
    assert due == [(pid, automation.DUE_BOOST())]
    coll, debt, price, p = _state(weth, pid)
    borrow, coll_in = risk.boost_amounts(
        coll, debt, price, p.liquidation_threshold, 50, int(1.6 * WAD), weth.scale
    )
    weth.fund(keeper, coll_in)
    weth.token.approve(automation, coll_in, sender=keeper)
    tx = automation.boost(weth.pool, pid, borrow, sender=keeper)
    assert stablecoin.balanceOf(keeper) == borrow
    assert tx.return_value == coll_in
    assert 1.6 * WAD <= weth.pool.health(pid) <= 1.61 * WAD
    assert weth.pool.collateral_of(pid) == coll + coll_in


def test_top_up__due__moves_owner_collateral_within_allowance(
    weth, borrower, keeper, admin, automation, chain
):
    pid = _open_at_max_ltv(weth, borrower)
    trigger = _trigger(weth)
    weth.fund(borrower, 5 * weth.unit)
    weth.token.approve(automation, 5 * weth.unit, sender=borrower)
    automation.set_top_up(
        weth.pool, pid, trigger, int(1.4 * WAD), 50, 5 * weth.unit, sender=borrower
    )
    _drop_below(weth, pid, trigger, admin)
    due = [(d.id, d.rules) for d in automation.due(weth.pool, 1, 100)]
    assert due == [(pid, automation.DUE_TOP_UP())]
    coll, debt, price, p = _state(weth, pid)
    amount = risk.top_up_amount(
        coll, debt, price, p.liquidation_threshold, 50, int(1.4 * WAD), weth.scale
    )
    at_head_time(chain)  # the top-up sees the debt the views above saw
    tx = automation.top_up(weth.pool, pid, amount, sender=keeper)
    fee = amount * 50 // 10_000
    assert tx.return_value == fee
    assert weth.token.balanceOf(keeper) == fee
    assert weth.pool.collateral_of(pid) == coll + amount - fee
    assert 1.39 * WAD <= weth.pool.health(pid) <= 1.4 * WAD
    assert automation.top_up_rule(weth.pool, pid).allowance == 5 * weth.unit - amount
    with ape.reverts("automation: top-up not due"):
        automation.top_up(weth.pool, pid, 1, sender=keeper)
