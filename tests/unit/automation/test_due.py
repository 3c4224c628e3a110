"""`PositionAutomation.due`: one view for every rule a keeper could carry out now, each
position with the bit set of its due rules."""

import ape

from tests.conftest import WAD
from tests.unit.automation.conftest import (
    TARGET,
    drop_below,
    open_at_max_ltv,
    protect,
    trigger_for,
)

PROTECTION, BOOST, TOP_UP = 1, 2, 4


def _due(automation, m, start=1, limit=1_000) -> list[tuple[int, int]]:
    return [(d.id, d.rules) for d in automation.due(m.pool, start, limit)]


def _top_up(m, automation, owner, pid, trigger, allowance=None, wallet=True) -> None:
    """A top-up rule up to 1.4 with an allowance of 5 units; with `wallet`, the owner holds
    5 units and approved the automation for them."""
    allowance = 5 * m.unit if allowance is None else allowance
    automation.set_top_up(m.pool, pid, trigger, 14 * WAD // 10, 50, allowance, sender=owner)
    if wallet:
        m.fund(owner, 5 * m.unit)
        m.token.approve(automation, 5 * m.unit, sender=owner)


def test_due__constants__are_the_bits(automation):
    assert (automation.DUE_PROTECTION(), automation.DUE_BOOST(), automation.DUE_TOP_UP()) == (
        PROTECTION,
        BOOST,
        TOP_UP,
    )


def test_due__no_rules__empty(weth, borrower, automation):
    open_at_max_ltv(weth, borrower)
    assert _due(automation, weth) == []


def test_due__protection_below_trigger__listed(weth, borrower, admin, automation):
    other = open_at_max_ltv(weth, borrower)
    pid = open_at_max_ltv(weth, borrower)
    trigger = protect(weth, automation, borrower, pid)
    assert _due(automation, weth) == []  # set above the trigger: not due yet
    drop_below(weth, pid, trigger, admin)
    assert _due(automation, weth) == [(pid, PROTECTION)]
    assert other != pid


def test_due__protection_without_the_automation_as_operator__filtered(
    weth, borrower, admin, automation
):
    pid = open_at_max_ltv(weth, borrower)
    trigger = protect(weth, automation, borrower, pid, operator=False)
    drop_below(weth, pid, trigger, admin)
    assert _due(automation, weth) == []
    weth.pool.set_operator(automation, True, sender=borrower)
    assert _due(automation, weth) == [(pid, PROTECTION)]
    weth.pool.set_operator(automation, False, sender=borrower)
    assert _due(automation, weth) == []


def test_due__boost_above_trigger__listed(weth, borrower, automation):
    pid = weth.open(borrower, weth.collateral_for(30_000 * WAD), 5_000 * WAD)  # health 4.2
    automation.set_boost(weth.pool, pid, 25 * WAD // 10, 16 * WAD // 10, 50, sender=borrower)
    assert _due(automation, weth) == []  # the automation is not the owner's operator
    weth.pool.set_operator(automation, True, sender=borrower)
    assert _due(automation, weth) == [(pid, BOOST)]


def test_due__top_up_below_trigger__listed(weth, borrower, admin, automation):
    pid = open_at_max_ltv(weth, borrower)
    trigger = trigger_for(weth)
    _top_up(weth, automation, borrower, pid, trigger)
    drop_below(weth, pid, trigger, admin)
    # a top-up moves the owner's tokens: it needs no operator approval
    assert _due(automation, weth) == [(pid, TOP_UP)]


def test_due__top_up_owner_without_tokens__filtered(weth, borrower, admin, automation):
    pid = open_at_max_ltv(weth, borrower)
    trigger = trigger_for(weth)
    _top_up(weth, automation, borrower, pid, trigger, wallet=False)
    weth.token.approve(automation, 5 * weth.unit, sender=borrower)
    drop_below(weth, pid, trigger, admin)
    assert weth.token.balanceOf(borrower) == 0
    assert _due(automation, weth) == []


def test_due__top_up_without_token_allowance__filtered(weth, borrower, admin, automation):
    pid = open_at_max_ltv(weth, borrower)
    trigger = trigger_for(weth)
    _top_up(weth, automation, borrower, pid, trigger)
    weth.token.approve(automation, 0, sender=borrower)
    drop_below(weth, pid, trigger, admin)
    assert _due(automation, weth) == []


def test_due__top_up_rule_allowance_spent__not_due(weth, borrower, admin, automation):
    pid = open_at_max_ltv(weth, borrower)
    trigger = trigger_for(weth)
    _top_up(weth, automation, borrower, pid, trigger, allowance=0)
    drop_below(weth, pid, trigger, admin)
    assert _due(automation, weth) == []


def test_due__protection_and_top_up__both_bits(weth, borrower, admin, automation):
    pid = open_at_max_ltv(weth, borrower)
    trigger = protect(weth, automation, borrower, pid, target=TARGET)
    _top_up(weth, automation, borrower, pid, trigger)
    drop_below(weth, pid, trigger, admin)
    assert _due(automation, weth) == [(pid, PROTECTION | TOP_UP)]
    # without the operator approval the protection drops out and the top-up stays
    weth.pool.set_operator(automation, False, sender=borrower)
    assert _due(automation, weth) == [(pid, TOP_UP)]


def test_due__several_positions__in_id_order_within_the_page(weth, borrower, admin, automation):
    ids = [open_at_max_ltv(weth, borrower) for _ in range(3)]
    trigger = trigger_for(weth)
    for pid in ids:
        protect(weth, automation, borrower, pid, trigger=trigger)
    drop_below(weth, ids[0], trigger, admin)
    assert _due(automation, weth) == [(pid, PROTECTION) for pid in ids]
    assert _due(automation, weth, ids[1], 1) == [(ids[1], PROTECTION)]
    assert _due(automation, weth, ids[2] + 1, 1_000) == []
    assert _due(automation, weth, 2**256 - 1, 1_000) == []  # no overflow past the last id


def test_due__invalid_price__empty(weth, borrower, admin, automation):
    pid = open_at_max_ltv(weth, borrower)
    trigger = protect(weth, automation, borrower, pid)
    drop_below(weth, pid, trigger, admin)
    weth.feed.set_reverting(True, sender=admin)
    assert _due(automation, weth) == []


def test_due__not_a_pool__empty(weth, borrower, automation):
    assert list(automation.due(weth.token, 1, 1_000)) == []  # a contract without the view
    assert list(automation.due(borrower, 1, 1_000)) == []  # an account without code


def test_due__limit_above_1000__reverts(weth, automation):
    assert list(automation.due(weth.pool, 1, 1_000)) == []
    with ape.reverts("automation: limit above 1000"):
        automation.due(weth.pool, 1, 1_001)


STOP_LOSS = 8


def _stop_loss(m, automation, owner, pid, below_bps=9_500) -> None:
    automation.set_stop_loss(m.pool, pid, m.price() * below_bps // 10_000, 100, sender=owner)


def test_due__stop_loss_bit__is_eight(automation):
    assert automation.DUE_STOP_LOSS() == STOP_LOSS


def test_due__stop_loss_at_or_below_its_price__listed(weth, borrower, admin, automation):
    pid = weth.open_at_ltv(borrower, 30_000 * WAD, 2_000)
    _stop_loss(weth, automation, borrower, pid)
    weth.pool.set_operator(automation, True, sender=borrower)
    assert _due(automation, weth) == []  # above its price
    weth.move_price(9_500, admin)
    assert weth.price() <= automation.stop_loss_rule(weth.pool, pid).price
    assert _due(automation, weth) == [(pid, STOP_LOSS)]


def test_due__stop_loss_without_the_automation_as_operator__filtered(
    weth, borrower, admin, automation
):
    pid = weth.open_at_ltv(borrower, 30_000 * WAD, 2_000)
    _stop_loss(weth, automation, borrower, pid)
    weth.move_price(9_000, admin)
    assert _due(automation, weth) == []
    weth.pool.set_operator(automation, True, sender=borrower)
    assert _due(automation, weth) == [(pid, STOP_LOSS)]


def test_due__stop_loss_without_debt__not_due(weth, borrower, admin, automation):
    pid = weth.open(borrower, weth.unit, 0)
    _stop_loss(weth, automation, borrower, pid)
    weth.pool.set_operator(automation, True, sender=borrower)
    weth.move_price(9_000, admin)
    assert _due(automation, weth) == []


def test_due__stop_loss_and_protection__both_bits(weth, borrower, admin, automation):
    pid = open_at_max_ltv(weth, borrower)
    trigger = protect(weth, automation, borrower, pid)
    automation.set_stop_loss(weth.pool, pid, weth.price(), 100, sender=borrower)
    drop_below(weth, pid, trigger, admin)
    assert _due(automation, weth) == [(pid, PROTECTION | STOP_LOSS)]


def test_due__boost_while_paused__filtered(weth, borrower, admin, factory, automation):
    pid = weth.open(borrower, weth.collateral_for(30_000 * WAD), 5_000 * WAD)  # health 4.2
    automation.set_boost(weth.pool, pid, 25 * WAD // 10, 16 * WAD // 10, 50, sender=borrower)
    weth.pool.set_operator(automation, True, sender=borrower)
    factory.set_paused(weth.pool, True, sender=admin)
    assert _due(automation, weth) == []  # a paused pool refuses every borrow
    factory.set_paused(weth.pool, False, sender=admin)
    assert _due(automation, weth) == [(pid, BOOST)]


def test_due__boost_target_past_the_haircut_limit__filtered(
    weth, borrower, admin, factory, automation
):
    """A boost is listed only while its target health is at or above the health at the
    borrow limit, threshold / (max LTV x (1 - haircut))."""
    pid = weth.open(borrower, weth.collateral_for(30_000 * WAD), 5_000 * WAD)  # health 4.2
    automation.set_boost(weth.pool, pid, 25 * WAD // 10, 16 * WAD // 10, 50, sender=borrower)
    weth.pool.set_operator(automation, True, sender=borrower)
    p = weth.params
    # a haircut that puts the borrow limit's health just above the target of 1.6
    haircut = 10_000 - p.liquidation_threshold * 10_000 * 10 // (16 * p.max_ltv) + 10
    factory.set_haircut(weth.pool, haircut, sender=admin)
    limit = p.max_ltv * (10_000 - haircut) // 10_000
    assert 16 * WAD // 10 * limit < p.liquidation_threshold * WAD
    assert _due(automation, weth) == []
    factory.set_haircut(weth.pool, 0, sender=admin)
    assert _due(automation, weth) == [(pid, BOOST)]
