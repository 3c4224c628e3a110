"""`PositionAutomation.set_stop_loss`: the owner (or the owner's operator on the pool) sets
the price at or below which any keeper may close the position, and the keeper's fee."""

import ape

from tests.conftest import WAD
from tests.unit.automation.conftest import open_at_max_ltv

MAX_PRICE = 10**30  # [wad] no oracle quotes above it


def test_set_stop_loss__owner__stores_and_logs(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    price = weth.price() * 9 // 10
    tx = automation.set_stop_loss(weth.pool, pid, price, 200, sender=borrower)
    assert tuple(automation.stop_loss_rule(weth.pool, pid)) == (price, 200)
    (event,) = tx.decode_logs(automation.StopLossSet)
    assert (event.pool, event.id, event.owner, event.price, event.max_fee) == (
        weth.pool.address,
        pid,
        borrower.address,
        price,
        200,
    )


def test_set_stop_loss__operator__sets_it_for_the_owner(weth, borrower, operator, automation):
    pid = open_at_max_ltv(weth, borrower)
    weth.pool.set_operator(operator, True, sender=borrower)
    tx = automation.set_stop_loss(weth.pool, pid, 2_000 * WAD, 100, sender=operator)
    assert tuple(automation.stop_loss_rule(weth.pool, pid)) == (2_000 * WAD, 100)
    assert tx.decode_logs(automation.StopLossSet)[0].owner == borrower.address


def test_set_stop_loss__zero_price__turns_it_off_whatever_the_fee(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    automation.set_stop_loss(weth.pool, pid, 2_000 * WAD, 100, sender=borrower)
    automation.set_stop_loss(weth.pool, pid, 0, 10**6, sender=borrower)  # fee not checked
    assert automation.stop_loss_rule(weth.pool, pid).price == 0


def test_set_stop_loss__stranger__reverts(weth, borrower, attacker, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: not owner or operator"):
        automation.set_stop_loss(weth.pool, pid, 2_000 * WAD, 100, sender=attacker)


def test_set_stop_loss__revoked_operator__reverts(weth, borrower, operator, automation):
    pid = open_at_max_ltv(weth, borrower)
    weth.pool.set_operator(operator, True, sender=borrower)
    weth.pool.set_operator(operator, False, sender=borrower)
    with ape.reverts("automation: not owner or operator"):
        automation.set_stop_loss(weth.pool, pid, 2_000 * WAD, 100, sender=operator)


def test_set_stop_loss__unknown_pool__reverts(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: unknown pool"):
        automation.set_stop_loss(weth.token, pid, 2_000 * WAD, 100, sender=borrower)


def test_set_stop_loss__unknown_position__reverts(weth, borrower, automation):
    with ape.reverts("automation: unknown position"):
        automation.set_stop_loss(
            weth.pool, weth.pool.position_count() + 1, 2_000 * WAD, 100, sender=borrower
        )


def test_set_stop_loss__price_above_any_oracle_quote__reverts(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: price out of bounds"):
        automation.set_stop_loss(weth.pool, pid, MAX_PRICE + 1, 100, sender=borrower)
    automation.set_stop_loss(weth.pool, pid, MAX_PRICE, 100, sender=borrower)
    assert automation.stop_loss_rule(weth.pool, pid).price == MAX_PRICE


def test_set_stop_loss__fee_above_the_pools_bonus__reverts(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    bonus = weth.params.liquidation_bonus
    with ape.reverts("automation: fee above pool cap"):
        automation.set_stop_loss(weth.pool, pid, 2_000 * WAD, bonus + 1, sender=borrower)
    automation.set_stop_loss(weth.pool, pid, 2_000 * WAD, bonus, sender=borrower)
    assert automation.stop_loss_rule(weth.pool, pid).max_fee == bonus
