"""Laws of the owner rules in `PositionAutomation` that mutation testing showed no fast
suite stated: a rule is carried out only when due, only by the owner's choice, within the
owner's allowance and target, and the keeper pays at least what the owner's fee allows.

The amounts a keeper sends come from the keeper's own calculation (`bulkhead.risk`, as the
bot does); what must hold is stated from first principles.
"""

from __future__ import annotations

import boa
import pytest

from bulkhead import risk
from bulkhead.risk import BPS, WAD
from tests.audit.conftest import World, expect_revert


@pytest.fixture
def automation(world: World):
    """The `PositionAutomation` `deploy_system` deployed and named in the factory."""
    return world.system.automation


def _position(world: World, automation, debt: int) -> int:
    """A borrower's WETH position of 10 WETH (30,000 USD) that lets the automation act."""
    pid = world.open(world.weth, world.borrower, 10 * WAD, debt)
    with boa.env.prank(world.borrower):
        world.weth.pool.set_operator(automation.address, True)
        world.weth.token.approve(automation.address, 2**256 - 1)
    return pid


def _keeper_amounts(world: World, pid: int) -> tuple[int, int, int, int]:
    """(collateral, debt, price, threshold) of a WETH position, as a keeper reads them."""
    pool = world.weth.pool
    threshold = world.weth.params.liquidation_threshold
    return pool.collateral_of(pid), pool.debt_of(pid), pool.price(), threshold


def test_boost__health_exactly_at_trigger__is_not_due(world: World, automation) -> None:
    """A boost is due above its trigger, not at it: due() does not list it and boost()
    refuses it."""
    pool = world.weth.pool
    pid = _position(world, automation, 5_000 * WAD)
    health = pool.health(pid)
    with boa.env.prank(world.borrower):
        automation.set_boost(pool.address, pid, health, 2 * WAD, 100)
    boosts, _ = automation.due(pool.address, pid, 1)
    assert list(boosts) == []
    expect_revert(
        "automation: boost not due", automation.boost, pool.address, pid, WAD, sender=world.keeper
    )


def test_top_up__health_exactly_at_trigger__is_not_due(world: World, automation) -> None:
    pool = world.weth.pool
    pid = _position(world, automation, 15_000 * WAD)
    health = pool.health(pid)
    with boa.env.prank(world.borrower):
        automation.set_top_up(pool.address, pid, health, health + WAD // 2, 100, 10 * WAD)
    _, top_ups = automation.due(pool.address, pid, 1)
    assert list(top_ups) == []
    expect_revert(
        "automation: top-up not due",
        automation.top_up,
        pool.address,
        pid,
        WAD,
        sender=world.keeper,
    )


def test_top_up__owner_wallet__is_touched_only_within_the_allowance(
    world: World, automation
) -> None:
    """Over every top-up, keepers move at most the allowance out of the owner's wallet."""
    pool, market = world.weth.pool, world.weth
    pid = _position(world, automation, 15_000 * WAD)  # health 1.4
    fee = 100
    with boa.env.prank(world.borrower):
        automation.set_top_up(pool.address, pid, 15 * WAD // 10, 16 * WAD // 10, fee, 0)
    coll, debt, price, threshold = _keeper_amounts(world, pid)
    amount = risk.top_up_amount(coll, debt, price, threshold, fee, 16 * WAD // 10, market.scale)
    assert amount > 0
    market.fund(world.borrower, 10 * WAD)
    allowance = amount + amount // 2  # room for one top-up and a half
    with boa.env.prank(world.borrower):
        automation.set_top_up(pool.address, pid, 15 * WAD // 10, 16 * WAD // 10, fee, allowance)
    expect_revert(
        "automation: above allowance",
        automation.top_up,
        pool.address,
        pid,
        allowance + 1,
        sender=world.keeper,
    )
    wallet = market.token.balanceOf(world.borrower)
    with boa.env.prank(world.keeper):
        automation.top_up(pool.address, pid, amount)
    # a fall makes it due again; what is left of the allowance cannot pay a whole top-up
    market.set_price_wad(price * 9 // 10)
    coll, debt, price, threshold = _keeper_amounts(world, pid)
    again = risk.top_up_amount(coll, debt, price, threshold, fee, 16 * WAD // 10, market.scale)
    assert again > allowance - amount
    expect_revert(
        "automation: above allowance",
        automation.top_up,
        pool.address,
        pid,
        again,
        sender=world.keeper,
    )
    assert again <= allowance  # without the allowance spent, it would pass
    assert wallet - market.token.balanceOf(world.borrower) == amount


def test_set_rules__on_someone_elses_position__revert(world: World, automation) -> None:
    pool = world.weth.pool
    pid = _position(world, automation, 5_000 * WAD)
    expect_revert(
        "automation: not owner",
        automation.set_boost,
        pool.address,
        pid,
        3 * WAD,
        2 * WAD,
        100,
        sender=world.attacker,
    )
    expect_revert(
        "automation: not owner",
        automation.set_top_up,
        pool.address,
        pid,
        2 * WAD,
        3 * WAD,
        100,
        10 * WAD,
        sender=world.attacker,
    )


def test_set_rules__on_a_contract_that_is_not_a_pool__revert(world: World, automation) -> None:
    lens = world.system.lens.address
    for call, args in (
        (automation.set_boost, (lens, 1, 3 * WAD, 2 * WAD, 100)),
        (automation.set_top_up, (lens, 1, 2 * WAD, 3 * WAD, 100, WAD)),
    ):
        expect_revert("automation: unknown pool", call, *args, sender=world.borrower)


def _boost_ready(world: World, automation, fee: int) -> tuple[int, int, int, int]:
    """A position at health 4.2 with a boost (trigger 3, target 2) that is due."""
    pool, market = world.weth.pool, world.weth
    pid = _position(world, automation, 5_000 * WAD)
    with boa.env.prank(world.borrower):
        automation.set_boost(pool.address, pid, 3 * WAD, 2 * WAD, fee)
    coll, debt, price, threshold = _keeper_amounts(world, pid)
    market.fund(world.keeper, 100 * WAD)
    with boa.env.prank(world.keeper):
        market.token.approve(automation.address, 2**256 - 1)
    return pid, coll, debt, price


def test_boost__keeper_supplies_at_least_the_borrow_less_the_fee(world: World, automation) -> None:
    """The collateral a keeper supplies is worth at least the bhUSD it receives less the
    owner's fee: the owner never sells below the price the fee allows."""
    pool, market = world.weth.pool, world.weth
    fee = 137
    pid, coll, debt, price = _boost_ready(world, automation, fee)
    threshold = market.params.liquidation_threshold
    borrow, _ = risk.boost_amounts(coll, debt, price, threshold, fee, 2 * WAD, market.scale)
    borrow -= borrow % 10**6 + 1  # an amount whose collateral does not divide evenly
    with boa.env.prank(world.keeper):
        coll_in = automation.boost(pool.address, pid, borrow)
    assert coll_in * price * market.scale >= borrow * (BPS - fee) // BPS * WAD
    assert pool.health(pid) >= 2 * WAD


def test_boost__past_the_target__reverts(world: World, automation) -> None:
    """A boost never takes health below the owner's target."""
    pool, market = world.weth.pool, world.weth
    pid, coll, debt, price = _boost_ready(world, automation, 100)
    threshold = market.params.liquidation_threshold
    # the borrow that lands at 1.9, below the target 2.0
    borrow, _ = risk.boost_amounts(coll, debt, price, threshold, 100, 19 * WAD // 10, market.scale)
    expect_revert(
        "automation: result off target",
        automation.boost,
        pool.address,
        pid,
        borrow,
        sender=world.keeper,
    )
