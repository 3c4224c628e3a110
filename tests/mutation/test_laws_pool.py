"""Laws of the margin pool that mutation testing showed no fast suite stated.

Each test says what must hold from first principles (who may lose what, where a bound
lies) and is written without asking the Python mirror what the pool returns.
"""

from __future__ import annotations

import boa

from bulkhead.risk import BPS, WAD
from tests.audit.conftest import MAX_UINT, World, expect_revert
from tests.fuzz.machine import revert_reason

YEAR = 365 * 86_400


def _fresh_price(world: World, price: int = 3_000 * WAD) -> None:
    """Post a new WETH round (after a time travel the last one is stale)."""
    world.weth.set_price_wad(price)


def test_withdraw__all_collateral_of_a_debt_free_position__pays_it_all_out(world: World) -> None:
    pid = world.open(world.weth, world.borrower, 5 * WAD, 0)
    before = world.weth.token.balanceOf(world.borrower)
    with boa.env.prank(world.borrower):
        world.weth.pool.withdraw(pid, 5 * WAD)
    assert world.weth.token.balanceOf(world.borrower) == before + 5 * WAD
    assert world.weth.pool.collateral_of(pid) == 0


def test_borrow__debt_exactly_at_max_ltv__is_accepted(world: World) -> None:
    """Max LTV is a limit a borrower may reach: 1 WETH at 3,000 and max LTV 60 % carries
    exactly 1,800 bhUSD (the rate is still 1.0, so the debt is exactly what was minted)."""
    pool = world.weth.pool
    assert pool.rate() == WAD and world.weth.params.max_ltv == 6_000
    pid = world.open(world.weth, world.borrower, WAD, 1_800 * WAD)
    assert pool.debt_of(pid) == 1_800 * WAD
    expect_revert("pool: exceeds max ltv", pool.borrow, pid, 1, sender=world.borrower)


def test_borrow__after_interest__debt_rises_by_at_least_what_was_minted(world: World) -> None:
    """A borrower never owes less than he received: at a rate that is not a round number,
    every borrow raises the position's debt by at least the bhUSD minted."""
    boa.env.time_travel(seconds=YEAR + 12_345)
    _fresh_price(world)
    pool = world.weth.pool
    assert pool.rate() % WAD != 0
    pid = world.open(world.weth, world.borrower, 100 * WAD, 1_000 * WAD)
    assert pool.debt_of(pid) >= 1_000 * WAD
    for k in range(40):
        amount = 100 * WAD + k * 7_919_123 + 1
        before = pool.debt_of(pid)
        with boa.env.prank(world.borrower):
            pool.borrow(pid, amount)
        assert pool.debt_of(pid) - before >= amount, f"borrowed {amount}, owes less"


def test_repay__partial_after_interest__lowers_debt_by_at_most_what_was_paid(
    world: World,
) -> None:
    """A partial repay never clears more debt than the bhUSD burned."""
    boa.env.time_travel(seconds=YEAR + 54_321)
    _fresh_price(world)
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 100 * WAD, 50_000 * WAD)
    for k in range(40):
        amount = 10 * WAD + k * 6_700_417 + 3
        before = pool.debt_of(pid)
        with boa.env.prank(world.borrower):
            paid = pool.repay(pid, amount)
        assert paid == amount
        assert before - pool.debt_of(pid) <= amount, f"repaid {amount}, cleared more"


def _at_health_one(world: World) -> int:
    """A WETH position at health exactly 1.0: 1 WETH, 1,400 bhUSD, price 2,000, threshold
    70 % (1 WETH x 2,000 x 0.7 = 1,400)."""
    pool = world.weth.pool
    assert world.weth.params.liquidation_threshold == 7_000
    pid = world.open(world.weth, world.borrower, WAD, 1_400 * WAD)
    assert pool.debt_of(pid) == 1_400 * WAD
    world.weth.set_price_wad(2_000 * WAD)
    assert pool.health(pid) == WAD
    return pid


def test_liquidate__health_exactly_one__is_refused_everywhere(world: World) -> None:
    """A position is liquidatable below health 1.0, not at it: the pool refuses, the scan
    does not list it and the lens does not preview it."""
    pid = _at_health_one(world)
    pool, lens = world.weth.pool, world.system.lens
    assert list(pool.positions_to_liquidate(pid, 1)) == []
    expect_revert(
        "pool: position is healthy",
        lens.preview_liquidate,
        pool.address,
        pid,
        MAX_UINT,
        sender=world.keeper,
    )
    expect_revert(
        "pool: position is healthy", pool.liquidate, pid, MAX_UINT, 0, sender=world.keeper
    )
    # one step of price lower, it is liquidatable
    world.weth.set_price_wad(1_999 * WAD)
    assert list(pool.positions_to_liquidate(pid, 1)) == [pid]


def _protected(world: World, trigger_above: int, fee: int) -> tuple[int, int]:
    """A WETH position at LTV 50 % (health 1.4) whose protection triggers `trigger_above`
    [wad] above its health, with a target 0.2 above the trigger."""
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 15_000 * WAD)
    health = pool.health(pid)
    trigger = health + trigger_above
    with boa.env.prank(world.borrower):
        pool.set_protection(pid, trigger, trigger + WAD // 5, fee)
    return pid, health


def test_auto_deleverage__health_exactly_at_trigger__is_not_due(world: World) -> None:
    """A protection is due below its trigger, not at it: the pool refuses and the lens
    does not list it."""
    pid, _ = _protected(world, 0, 100)
    pool, lens = world.weth.pool, world.system.lens
    assert list(lens.protections_due(pool.address, pid, 1)) == []
    expect_revert(
        "pool: protection not due", pool.auto_deleverage, pid, 1_000 * WAD, sender=world.keeper
    )


def test_auto_deleverage__bonus_lowered_after_the_rule__keeper_gets_at_most_the_new_bonus(
    world: World,
) -> None:
    """The owner's fee is capped by the pool's bonus when the deleverage happens: after
    governance lowers the bonus, the keeper's collateral is worth at most the repaid debt
    times (1 + the new bonus)."""
    market, pool = world.weth, world.weth.pool
    pid, _ = _protected(world, WAD // 20, market.params.liquidation_bonus)
    params = market.params.__dict__ | {"liquidation_bonus": 100}
    with boa.env.prank(world.admin):
        world.factory.set_risk_params(pool.address, tuple(params.values()))
    repay, _, _ = world.system.lens.preview_auto_deleverage(pool.address, pid)
    assert repay > 0
    price = pool.price()
    with boa.env.prank(world.keeper):
        out = pool.auto_deleverage(pid, repay)
    assert out * market.scale * price // WAD <= repay * (BPS + 100) // BPS


def test_liquidate_many__budget_for_one__burns_at_most_the_budget(world: World) -> None:
    """A keeper's `_max_repay` bounds what the whole batch burns, not each liquidation."""
    market, pool = world.weth, world.weth.pool
    ids = [world.open(market, world.borrower, 10 * WAD, 17_000 * WAD) for _ in range(2)]
    market.set_price_wad(2_400 * WAD)  # health 10 x 2,400 x 0.7 / 17,000 = 0.988
    paid = [world.system.lens.preview_liquidate(pool.address, i, MAX_UINT)[1] for i in ids]
    assert paid[0] == paid[1] > 0
    budget = paid[0] + paid[0] // 2
    before = world.stablecoin.balanceOf(world.keeper)
    with boa.env.prank(world.keeper):
        pool.liquidate_many(ids, budget, 0)
    assert before - world.stablecoin.balanceOf(world.keeper) <= budget


def test_repay__exactly_the_debt__clears_it(world: World) -> None:
    boa.env.time_travel(seconds=YEAR + 777)
    _fresh_price(world)
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    debt = pool.debt_of(pid)
    world.bhusd(world.borrower, debt)
    with boa.env.prank(world.borrower):
        assert pool.repay(pid, debt) == debt
    assert pool.debt_of(pid) == 0


def test_set_protection__trigger_exactly_one__reverts(world: World) -> None:
    """A protection must fire before liquidation can: a trigger of health 1.0 never would."""
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 15_000 * WAD)
    expect_revert(
        "pool: trigger not above 1.0",
        pool.set_protection,
        pid,
        WAD,
        2 * WAD,
        100,
        sender=world.borrower,
    )


def test_auto_deleverage__past_the_target__reverts(world: World) -> None:
    """A deleverage never takes health above the owner's target: the keeper may not sell
    more of the owner's collateral than the rule asks."""
    pool = world.weth.pool
    pid, _ = _protected(world, WAD // 20, 100)
    repay, _, _ = world.system.lens.preview_auto_deleverage(pool.address, pid)
    assert repay > 0
    expect_revert(
        "pool: result off target", pool.auto_deleverage, pid, 2 * repay, sender=world.keeper
    )


def test_liquidate__capped_short_of_a_dust_remainder__never_leaves_dust(world: World) -> None:
    """A debt is 0 or at least the minimum: a keeper's cap may not stop a liquidation where
    the rest would be dust. 0.1 WETH with 150 bhUSD at 2,000 (health 0.93) is liquidated
    whole (a partial one would leave 75); capped at 100 of it, it must not leave 50."""
    market, pool = world.weth, world.weth.pool
    pid = world.open(market, world.borrower, WAD // 10, 150 * WAD)
    market.set_price_wad(2_000 * WAD)
    min_debt = market.params.min_debt
    assert 150 * WAD - 100 * WAD < min_debt
    cap = 100 * WAD * (BPS + market.params.liquidation_fee) // BPS
    try:
        with boa.env.prank(world.keeper):
            pool.liquidate(pid, cap, 0)
    except boa.BoaError as err:
        assert revert_reason(err) == "pool: max repay too low"
    debt = pool.debt_of(pid)
    assert debt == 0 or debt >= min_debt, f"left {debt} of debt, below the minimum"
