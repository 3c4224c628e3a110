"""`PositionAutomation.set_protection`: the owner (or the owner's operator on the pool) lets
keepers deleverage a position back to a target health."""

import ape

from tests.conftest import WAD
from tests.unit.automation.conftest import open_at_max_ltv

TRIGGER, TARGET = 12 * WAD // 10, 15 * WAD // 10


def test_set_protection__owner__stores_the_rule_and_logs(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    tx = automation.set_protection(weth.pool, pid, TRIGGER, TARGET, 100, sender=borrower)
    assert tuple(automation.protection_of(weth.pool, pid)) == (TRIGGER, TARGET, 100)
    (event,) = tx.decode_logs(automation.ProtectionSet)
    assert (event.pool, event.id, event.owner) == (weth.pool.address, pid, borrower.address)
    assert (event.trigger_health, event.target_health, event.max_fee) == (TRIGGER, TARGET, 100)


def test_set_protection__operator__sets_it_for_the_owner(weth, borrower, operator, automation):
    pid = open_at_max_ltv(weth, borrower)
    weth.pool.set_operator(operator, True, sender=borrower)
    tx = automation.set_protection(weth.pool, pid, TRIGGER, TARGET, 50, sender=operator)
    assert tuple(automation.protection_of(weth.pool, pid)) == (TRIGGER, TARGET, 50)
    (event,) = tx.decode_logs(automation.ProtectionSet)
    assert event.owner == borrower.address  # the owner's rule, whoever set it


def test_set_protection__zero_trigger__turns_it_off(weth, borrower, keeper, automation):
    pid = open_at_max_ltv(weth, borrower)
    automation.set_protection(weth.pool, pid, TRIGGER, TARGET, 100, sender=borrower)
    automation.set_protection(weth.pool, pid, 0, 0, 0, sender=borrower)
    assert automation.protection_of(weth.pool, pid)[0] == 0
    with ape.reverts("automation: no rule"):
        automation.auto_deleverage(weth.pool, pid, WAD, sender=keeper)


def test_set_protection__fee_at_the_pool_bonus__accepted(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    bonus = weth.params.liquidation_bonus
    automation.set_protection(weth.pool, pid, TRIGGER, 10 * WAD, bonus, sender=borrower)
    assert tuple(automation.protection_of(weth.pool, pid)) == (TRIGGER, 10 * WAD, bonus)


def test_set_protection__not_a_pool__reverts(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: unknown pool"):
        automation.set_protection(weth.token, pid, TRIGGER, TARGET, 100, sender=borrower)


def test_set_protection__unknown_position__reverts(weth, borrower, automation):
    with ape.reverts("automation: unknown position"):
        automation.set_protection(weth.pool, 10**9, TRIGGER, TARGET, 100, sender=borrower)


def test_set_protection__stranger__reverts(weth, borrower, attacker, operator, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: not owner or operator"):
        automation.set_protection(weth.pool, pid, TRIGGER, TARGET, 100, sender=attacker)
    # an operator of another owner is a stranger here
    weth.pool.set_operator(operator, True, sender=attacker)
    with ape.reverts("automation: not owner or operator"):
        automation.set_protection(weth.pool, pid, TRIGGER, TARGET, 100, sender=operator)
    # so is a stranger turning it off
    with ape.reverts("automation: not owner or operator"):
        automation.set_protection(weth.pool, pid, 0, 0, 0, sender=attacker)


def test_set_protection__trigger_at_one__reverts(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: trigger not above 1.0"):
        automation.set_protection(weth.pool, pid, WAD, TARGET, 100, sender=borrower)
    automation.set_protection(weth.pool, pid, WAD + 1, TARGET, 100, sender=borrower)


def test_set_protection__target_not_above_trigger__reverts(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: bad target health"):
        automation.set_protection(weth.pool, pid, TRIGGER, TRIGGER, 100, sender=borrower)
    with ape.reverts("automation: bad target health"):
        automation.set_protection(weth.pool, pid, TRIGGER, TRIGGER - 1, 100, sender=borrower)


def test_set_protection__target_above_ten__reverts(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: bad target health"):
        automation.set_protection(weth.pool, pid, TRIGGER, 10 * WAD + 1, 100, sender=borrower)


def test_set_protection__fee_above_the_pool_bonus__reverts(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    bonus = weth.params.liquidation_bonus
    with ape.reverts("automation: fee above pool cap"):
        automation.set_protection(weth.pool, pid, TRIGGER, TARGET, bonus + 1, sender=borrower)


def test_set_protection__after_a_boost_it_contradicts__reverts(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    # a boost from 2.0 down to 1.6: a protection that stops at or above 2.0 would loop
    automation.set_boost(weth.pool, pid, 2 * WAD, 16 * WAD // 10, 50, sender=borrower)
    with ape.reverts("automation: contradicts another rule"):
        automation.set_protection(weth.pool, pid, TRIGGER, 2 * WAD, 100, sender=borrower)
    # ... and one that starts above where the boost stops
    with ape.reverts("automation: contradicts another rule"):
        automation.set_protection(
            weth.pool, pid, 17 * WAD // 10, 19 * WAD // 10, 100, sender=borrower
        )
    # one below both passes
    automation.set_protection(weth.pool, pid, TRIGGER, TARGET, 100, sender=borrower)


def test_set_boost__after_a_protection_it_contradicts__reverts(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    automation.set_protection(weth.pool, pid, TRIGGER, TARGET, 100, sender=borrower)
    # a boost that starts at the protection's target would undo it
    with ape.reverts("automation: contradicts another rule"):
        automation.set_boost(weth.pool, pid, TARGET, 13 * WAD // 10, 50, sender=borrower)
    automation.set_boost(weth.pool, pid, TARGET + 1, TRIGGER, 50, sender=borrower)
