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
    assert list(automation.due(pool.address, pid, 1)) == []
    expect_revert(
        "automation: boost not due", automation.boost, pool.address, pid, WAD, sender=world.keeper
    )


def test_top_up__health_exactly_at_trigger__is_not_due(world: World, automation) -> None:
    pool = world.weth.pool
    pid = _position(world, automation, 15_000 * WAD)
    health = pool.health(pid)
    with boa.env.prank(world.borrower):
        automation.set_top_up(pool.address, pid, health, health + WAD // 2, 100, 10 * WAD)
    world.weth.fund(world.borrower, WAD)  # the owner could fund it: only the health decides
    assert list(automation.due(pool.address, pid, 1)) == []
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


# ------------------------------------------------------------------ protection


def _protected(world: World, automation, trigger_above: int, fee: int) -> tuple[int, int]:
    """A WETH position at LTV 50 % (health 1.4) whose protection triggers `trigger_above`
    [wad] above its health, with a target 0.2 above the trigger; the automation is the
    owner's operator and the keeper approved it for its bhUSD."""
    pool = world.weth.pool
    pid = _position(world, automation, 15_000 * WAD)
    health = pool.health(pid)
    trigger = health + trigger_above
    with boa.env.prank(world.borrower):
        automation.set_protection(pool.address, pid, trigger, trigger + WAD // 5, fee)
    with boa.env.prank(world.keeper):
        world.stablecoin.approve(automation.address, 2**256 - 1)
    return pid, health


def test_auto_deleverage__health_exactly_at_trigger__is_not_due(world: World, automation) -> None:
    """A protection is due below its trigger, not at it: due() does not list it and
    auto_deleverage() refuses it."""
    pool = world.weth.pool
    pid, _ = _protected(world, automation, 0, 100)
    assert list(automation.due(pool.address, pid, 1)) == []
    expect_revert(
        "automation: protection not due",
        automation.auto_deleverage,
        pool.address,
        pid,
        1_000 * WAD,
        sender=world.keeper,
    )


def test_due__protection_just_below_trigger__listed_with_its_bit(world: World, automation) -> None:
    pool = world.weth.pool
    pid, _ = _protected(world, automation, 1, 100)
    due = [(d.id, d.rules) for d in automation.due(pool.address, pid, 1)]
    assert due == [(pid, automation.DUE_PROTECTION())]


def test_due__operator_revoked__protection_not_listed(world: World, automation) -> None:
    """A keeper could not carry the protection out (the pool would refuse the automation),
    so due() must not send keepers to it."""
    pool = world.weth.pool
    pid, _ = _protected(world, automation, WAD // 20, 100)
    with boa.env.prank(world.borrower):
        pool.set_operator(automation.address, False)
    assert list(automation.due(pool.address, pid, 1)) == []


def test_due__top_up_owner_wallet_empty__not_listed(world: World, automation) -> None:
    pool = world.weth.pool
    pid = _position(world, automation, 15_000 * WAD)
    health = pool.health(pid)
    with boa.env.prank(world.borrower):
        automation.set_top_up(pool.address, pid, health + 1, health + WAD // 2, 100, 10 * WAD)
        world.weth.token.transfer(world.attacker, world.weth.token.balanceOf(world.borrower))
    assert list(automation.due(pool.address, pid, 1)) == []
    world.weth.fund(world.borrower, 1)
    due = [(d.id, d.rules) for d in automation.due(pool.address, pid, 1)]
    assert due == [(pid, automation.DUE_TOP_UP())]


def test_auto_deleverage__bonus_lowered_after_the_rule__keeper_gets_at_most_the_new_bonus(
    world: World, automation
) -> None:
    """The owner's fee is capped by the pool's bonus when the deleverage happens: after
    governance lowers the bonus, the keeper's collateral is worth at most the repaid debt
    times (1 + the new bonus)."""
    market, pool = world.weth, world.weth.pool
    pid, _ = _protected(world, automation, WAD // 20, market.params.liquidation_bonus)
    params = market.params.__dict__ | {"liquidation_bonus": 100}
    with boa.env.prank(world.admin):
        world.factory.set_risk_params(pool.address, tuple(params.values()))
    repay, _, _ = world.system.lens.preview_auto_deleverage(pool.address, pid)
    assert repay > 0
    price = pool.price()
    with boa.env.prank(world.keeper):
        out = automation.auto_deleverage(pool.address, pid, repay)
    assert out * market.scale * price // WAD <= repay * (BPS + 100) // BPS


def test_set_protection__trigger_exactly_one__reverts(world: World, automation) -> None:
    """A protection must fire before liquidation can: a trigger of health 1.0 never would."""
    pool = world.weth.pool
    pid = _position(world, automation, 15_000 * WAD)
    expect_revert(
        "automation: trigger not above 1.0",
        automation.set_protection,
        pool.address,
        pid,
        WAD,
        2 * WAD,
        100,
        sender=world.borrower,
    )


def test_set_protection__stranger__reverts(world: World, automation) -> None:
    pool = world.weth.pool
    pid = _position(world, automation, 15_000 * WAD)
    expect_revert(
        "automation: not owner or operator",
        automation.set_protection,
        pool.address,
        pid,
        2 * WAD,
        3 * WAD,
        100,
        sender=world.attacker,
    )


def test_auto_deleverage__past_the_target__reverts(world: World, automation) -> None:
    """A deleverage never takes health above the owner's target: the keeper may not sell
    more of the owner's collateral than the rule asks."""
    pool = world.weth.pool
    pid, _ = _protected(world, automation, WAD // 20, 100)
    repay, _, _ = world.system.lens.preview_auto_deleverage(pool.address, pid)
    assert repay > 0
    expect_revert(
        "automation: result off target",
        automation.auto_deleverage,
        pool.address,
        pid,
        2 * repay,
        sender=world.keeper,
    )


def test_auto_deleverage__keeper_pays_the_repay_and_gets_repay_plus_fee(
    world: World, automation
) -> None:
    """The keeper pays exactly the repay in bhUSD and gets collateral worth at most the
    repay plus the owner's fee; the owner's debt falls by at least the repay less a wei."""
    market, pool = world.weth, world.weth.pool
    pid, health = _protected(world, automation, WAD // 20, 100)
    repay, _, _ = world.system.lens.preview_auto_deleverage(pool.address, pid)
    debt, price = pool.debt_of(pid), pool.price()
    bhusd, tokens = world.stablecoin.balanceOf(world.keeper), market.token.balanceOf(world.keeper)
    with boa.env.prank(world.keeper):
        automation.auto_deleverage(pool.address, pid, repay)
    assert world.stablecoin.balanceOf(world.keeper) == bhusd - repay
    got = market.token.balanceOf(world.keeper) - tokens
    assert 0 < got * price // WAD <= repay * (BPS + 100) // BPS
    assert pool.debt_of(pid) <= debt - repay + 2
    assert pool.health(pid) > health


def test_auto_deleverage__repay_of_exactly_the_debt__reverts(world: World, automation) -> None:
    """A protection shrinks a position, it never closes it: a repay of the whole debt is the
    owner's to make (it would hand the keeper all the collateral it asks for)."""
    pool = world.weth.pool
    pid, _ = _protected(world, automation, WAD // 20, 100)
    expect_revert(
        "automation: repay above debt",
        automation.auto_deleverage,
        pool.address,
        pid,
        pool.debt_of(pid),
        sender=world.keeper,
    )


def test_due__boost_above_trigger__listed_with_its_bit(world: World, automation) -> None:
    pool = world.weth.pool
    pid = _position(world, automation, 5_000 * WAD)
    with boa.env.prank(world.borrower):
        automation.set_boost(pool.address, pid, pool.health(pid) - 1, 2 * WAD, 100)
    due = [(d.id, d.rules) for d in automation.due(pool.address, pid, 1)]
    assert due == [(pid, automation.DUE_BOOST())]


def test_due__top_up_allowance_spent__not_listed(world: World, automation) -> None:
    """A top-up whose allowance is spent cannot move anything: due() must not list it."""
    pool = world.weth.pool
    pid = _position(world, automation, 15_000 * WAD)
    world.weth.fund(world.borrower, WAD)
    health = pool.health(pid)
    with boa.env.prank(world.borrower):
        automation.set_top_up(pool.address, pid, health + 1, health + WAD // 2, 100, 0)
    assert list(automation.due(pool.address, pid, 1)) == []


def test_due__page_above_1000__reverts(world: World, automation) -> None:
    assert list(automation.due(world.weth.pool.address, 1, 1_000)) == []
    expect_revert(
        "automation: limit above 1000",
        automation.due,
        world.weth.pool.address,
        1,
        1_001,
        sender=world.keeper,
    )
