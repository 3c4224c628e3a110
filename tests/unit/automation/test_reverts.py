"""PositionAutomation's refusals for boosts and top-ups (protections: test_set_protection.py,
test_auto_deleverage.py). Amounts come from the pool's own parameters."""

import ape

from bulkhead import risk
from bulkhead.risk import WAD


def _at_max_ltv(m, owner) -> int:
    """A position opened 1 % under max LTV: health just above threshold / max LTV."""
    coll = 10 * m.unit
    debt = risk.max_debt(coll, m.pool.price(), m.params.max_ltv, m.scale) * 99 // 100
    return m.open(owner, coll, debt)


def test_set_boost__bad_inputs__revert(weth, borrower, automation):
    pid = _at_max_ltv(weth, borrower)
    p = weth.params
    at_max_ltv = p.liquidation_threshold * WAD // p.max_ltv  # health at max LTV
    with ape.reverts("automation: unknown pool"):
        automation.set_boost(weth.token, pid, 3 * WAD, 2 * WAD, 50, sender=borrower)
    with ape.reverts("automation: target above max ltv"):
        automation.set_boost(weth.pool, pid, 3 * WAD, at_max_ltv - 1, 50, sender=borrower)
    with ape.reverts("automation: bad trigger health"):
        automation.set_boost(weth.pool, pid, 2 * WAD, 2 * WAD + 1, 50, sender=borrower)
    with ape.reverts("automation: fee above pool cap"):
        automation.set_boost(
            weth.pool, pid, 3 * WAD, 2 * WAD, p.liquidation_bonus + 1, sender=borrower
        )


def test_set_top_up__bad_inputs__revert(weth, borrower, automation):
    pid = _at_max_ltv(weth, borrower)
    with ape.reverts("automation: trigger not above 1.0"):
        automation.set_top_up(weth.pool, pid, WAD, 2 * WAD, 50, 1, sender=borrower)
    with ape.reverts("automation: bad target health"):
        automation.set_top_up(
            weth.pool, pid, 13 * WAD // 10, 12 * WAD // 10, 50, 1, sender=borrower
        )
    bonus = weth.params.liquidation_bonus
    with ape.reverts("automation: fee above pool cap"):
        automation.set_top_up(
            weth.pool, pid, 12 * WAD // 10, 14 * WAD // 10, bonus + 1, 1, sender=borrower
        )


def test_boost_and_due__zero_amount_and_large_page__revert(weth, borrower, keeper, automation):
    pid = _at_max_ltv(weth, borrower)
    with ape.reverts("automation: zero amount"):
        automation.boost(weth.pool, pid, 0, sender=keeper)
    with ape.reverts("automation: limit above 1000"):
        automation.due(weth.pool, 1, 1001)


def test_top_up__above_allowance_or_off_target__reverts(weth, borrower, keeper, admin, automation):
    pid = _at_max_ltv(weth, borrower)
    weth.fund(borrower, 5 * weth.unit)
    weth.token.approve(automation, 5 * weth.unit, sender=borrower)
    health = weth.pool.health(pid)
    trigger = health + WAD // 100  # due now: health is below the trigger
    automation.set_top_up(
        weth.pool, pid, trigger, trigger + 2 * WAD // 10, 50, 5 * weth.unit, sender=borrower
    )
    with ape.reverts("automation: above allowance"):
        automation.top_up(weth.pool, pid, 5 * weth.unit + 1, sender=keeper)
    # the whole allowance overshoots the target by far
    with ape.reverts("automation: result off target"):
        automation.top_up(weth.pool, pid, 5 * weth.unit, sender=keeper)


def test_set_boost_and_top_up__unknown_position__revert(weth, borrower, automation):
    with ape.reverts("automation: unknown position"):
        automation.set_boost(weth.pool, 10**9, 3 * WAD, 2 * WAD, 50, sender=borrower)
    with ape.reverts("automation: unknown position"):
        automation.set_top_up(
            weth.pool, 10**9, 12 * WAD // 10, 14 * WAD // 10, 50, 1, sender=borrower
        )


def test_set_boost_and_top_up__operator__not_owner(weth, borrower, operator, automation):
    # unlike a protection, a boost or a top-up is the owner's alone
    pid = _at_max_ltv(weth, borrower)
    weth.pool.set_operator(operator, True, sender=borrower)
    with ape.reverts("automation: not owner"):
        automation.set_boost(weth.pool, pid, 3 * WAD, 2 * WAD, 50, sender=operator)
    with ape.reverts("automation: not owner"):
        automation.set_top_up(
            weth.pool, pid, 12 * WAD // 10, 14 * WAD // 10, 50, 1, sender=operator
        )


def test_set_top_up__contradicts_a_boost__reverts(weth, borrower, automation):
    pid = _at_max_ltv(weth, borrower)
    automation.set_boost(weth.pool, pid, 2 * WAD, 16 * WAD // 10, 50, sender=borrower)
    with ape.reverts("automation: contradicts another rule"):
        automation.set_top_up(weth.pool, pid, 12 * WAD // 10, 2 * WAD, 50, 1, sender=borrower)


def test_top_up__token_returns_false__transfer_failed(quirky, borrower, keeper, automation):
    token, pool = quirky
    coll = 10 * WAD
    debt = risk.max_debt(coll, pool.price(), pool.risk_params().max_ltv, 1) * 99 // 100
    token.mint(borrower, 20 * WAD, sender=borrower)
    token.approve(pool, coll, sender=borrower)
    token.approve(automation, 10 * WAD, sender=borrower)
    pid = pool.open(coll, debt, sender=borrower).return_value
    trigger = pool.health(pid) + WAD // 100
    automation.set_top_up(pool, pid, trigger, trigger + WAD // 10, 50, 10 * WAD, sender=borrower)
    token.set_failing(True, sender=borrower)  # transferFrom now returns False
    with ape.reverts("automation: transfer failed"):
        automation.top_up(pool, pid, WAD, sender=keeper)


def test_top_up__approve_returns_false__approve_failed(quirky, borrower, keeper, automation):
    token, pool = quirky
    coll = 10 * WAD
    debt = risk.max_debt(coll, pool.price(), pool.risk_params().max_ltv, 1) * 99 // 100
    token.mint(borrower, 20 * WAD, sender=borrower)
    token.approve(pool, coll, sender=borrower)
    token.approve(automation, 10 * WAD, sender=borrower)
    pid = pool.open(coll, debt, sender=borrower).return_value
    trigger = pool.health(pid) + WAD // 100
    automation.set_top_up(pool, pid, trigger, trigger + WAD // 10, 50, 10 * WAD, sender=borrower)
    token.set_approve_failing(True, sender=borrower)  # approve now returns False
    with ape.reverts("automation: approve failed"):
        automation.top_up(pool, pid, WAD, sender=keeper)
