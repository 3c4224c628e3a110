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


def test_liquidate__capped_short_of_a_dust_remainder__never_leaves_dust(world: World) -> None:
    """A debt is 0 or at least the minimum: a keeper's cap may not stop a liquidation where
    the rest would be dust. 0.1 WETH with 150 bhUSD at 2,000 (health 0.93) is liquidated
    whole (a partial one would leave 75); capped at 100 of it, it must not leave 50."""
    market, pool = world.weth, world.weth.pool
    pid = world.open(market, world.borrower, WAD // 10, 150 * WAD)
    market.set_price_wad(2_000 * WAD)
    min_debt = market.params.min_debt
    assert min_debt > 150 * WAD - 100 * WAD
    cap = 100 * WAD * (BPS + market.params.liquidation_fee) // BPS
    try:
        with boa.env.prank(world.keeper):
            pool.liquidate(pid, cap, 0)
    except boa.BoaError as err:
        assert revert_reason(err) == "pool: max repay too low"
    debt = pool.debt_of(pid)
    assert debt == 0 or debt >= min_debt, f"left {debt} of debt, below the minimum"


# ------------------------------------------------------------------ deleverage


def _most_out(coll: int, norm: int, new_norm: int) -> int:
    """The most collateral a deleverage may free: (coll - out) x norm >= coll x new_norm,
    collateral per normalised debt must not fall (so neither may health, at any price)."""
    return coll - -(-coll * new_norm // norm)


def test_deleverage__exactly_in_proportion__accepted_and_one_unit_more_refused(
    world: World,
) -> None:
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 15_000 * WAD)
    coll, norm = pool.collateral_of(pid), pool.normalised_debt_of(pid)
    repay = 5_000 * WAD
    new_norm = norm - repay * WAD // pool.rate()
    out = _most_out(coll, norm, new_norm)
    expect_revert(
        "pool: health would fall", pool.deleverage, pid, repay, out + 1, sender=world.borrower
    )
    with boa.env.prank(world.borrower):
        pool.deleverage(pid, repay, out)
    assert (pool.collateral_of(pid), pool.normalised_debt_of(pid)) == (coll - out, new_norm)
    assert (coll - out) * norm >= coll * new_norm


def test_deleverage__half_the_debt_for_half_the_collateral__accepted(world: World) -> None:
    """Collateral per debt exactly kept (not raised) is allowed: health does not fall."""
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 15_000 * WAD)
    coll, norm, rate = pool.collateral_of(pid), pool.normalised_debt_of(pid), pool.rate()
    half = norm // 2
    repay = -(-half * rate // WAD)  # the least repay that removes half the normalised debt
    while repay * WAD // rate < half:
        repay += 1
    assert repay * WAD // rate == half and norm % 2 == 0 and coll % 2 == 0
    with boa.env.prank(world.borrower):
        pool.deleverage(pid, repay, coll // 2)
    # exactly in proportion: (coll / 2) x norm == coll x (norm / 2)
    assert (pool.collateral_of(pid), pool.normalised_debt_of(pid)) == (coll // 2, norm - half)


def test_deleverage__more_collateral_than_held__refused_with_reason(world: World) -> None:
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 15_000 * WAD)
    for repay in (1_000 * WAD, MAX_UINT):
        expect_revert(
            "pool: insufficient collateral",
            pool.deleverage,
            pid,
            repay,
            10 * WAD + 1,
            sender=world.borrower,
        )


def test_deleverage__after_a_year__supply_and_reserve_still_match_the_debt(world: World) -> None:
    """bhUSD supply + reserves = debts + bad debt (within rounding) across a deleverage a
    year after the last accrual: the reserve must get the interest on the debt removed."""
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 15_000 * WAD)
    markets = world.system.markets.values()

    def gap() -> int:
        for m in markets:
            m.pool.accrue()
        supply = world.stablecoin.totalSupply()
        owed = sum(m.pool.total_debt() + m.pool.bad_debt() - m.pool.reserve() for m in markets)
        return owed - supply

    before = gap()
    boa.env.time_travel(seconds=YEAR)
    with boa.env.prank(world.borrower):
        pool.deleverage(pid, pool.debt_of(pid) // 2, 0)
    after = gap()
    assert abs(after - before) <= 10, f"supply + reserves drifted from debts by {after - before}"


def test_deleverage__stranger_or_keeper__refused(world: World) -> None:
    """Only the owner (or its operator) may take a position's collateral, even against a
    repay: nobody else chooses when the owner's position shrinks."""
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 15_000 * WAD)
    world.bhusd(world.attacker, 1_000 * WAD)
    for who in (world.attacker, world.keeper):
        expect_revert(
            "pool: not owner or operator", pool.deleverage, pid, 1_000 * WAD, 0, sender=who
        )


def test_deleverage__more_than_the_debt__burns_exactly_the_debt(world: World) -> None:
    """A repay above the debt repays the debt and not one wei more; the position is empty
    and its owner holds what it held minus exactly the debt."""
    boa.env.time_travel(seconds=YEAR + 777)
    _fresh_price(world)
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    world.bhusd(world.borrower, 1_000 * WAD)
    debt = pool.debt_of(pid)
    before = world.stablecoin.balanceOf(world.borrower)
    tokens = world.weth.token.balanceOf(world.borrower)
    supply = world.stablecoin.totalSupply()
    with boa.env.prank(world.borrower):
        pool.deleverage(pid, debt + 10**20, 10 * WAD)
    assert world.stablecoin.balanceOf(world.borrower) == before - debt
    assert world.stablecoin.totalSupply() == supply - debt
    assert (pool.collateral_of(pid), pool.normalised_debt_of(pid)) == (0, 0)
    assert world.weth.token.balanceOf(world.borrower) == tokens + 10 * WAD


def test_deleverage__partial_repay__removes_at_most_what_was_paid(world: World) -> None:
    """A partial repay after interest lowers the debt by at most what was paid (the
    normalised debt removed rounds down), and the collateral out stays in proportion."""
    boa.env.time_travel(seconds=YEAR + 777)
    _fresh_price(world)
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 15_000 * WAD)
    boa.env.time_travel(seconds=YEAR)
    debt = pool.debt_of(pid)
    with boa.env.prank(world.borrower):
        pool.deleverage(pid, 3_333 * WAD + 7, 0)
    assert pool.debt_of(pid) >= debt - (3_333 * WAD + 7)


def test_deleverage__partial_repay_leaving_dust__refused(world: World) -> None:
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    dust = pool.debt_of(pid) - world.weth.params.min_debt + 1
    expect_revert("pool: debt below minimum", pool.deleverage, pid, dust, 0, sender=world.borrower)


# --------------------------------------------------------------- packed reserve

SLOT_DEBT_TOTALS = 8  # MarginPool `_debt_totals`: reserve (bits 128..255) | total norm (0..127)


def test_accrue__reserve_at_its_field_limit__refused_not_wrapped(world: World) -> None:
    """The reserve shares a word with the total normalised debt: a reserve that would reach
    2**128 must be refused, never carried into (or wrapped around) the debt field. Only a
    storage write gets there: no debt ceiling produces that much interest."""
    pool = world.weth.pool
    world.open(world.weth, world.borrower, 10 * WAD, 10_000 * WAD)
    word = boa.env.get_storage(pool.address, SLOT_DEBT_TOTALS)
    total_norm = word & (2**128 - 1)
    assert total_norm > 0
    full = (2**128 - 1) << 128 | total_norm
    boa.env.set_storage(pool.address, SLOT_DEBT_TOTALS, full)
    assert pool.reserve() == 2**128 - 1
    boa.env.time_travel(seconds=YEAR)
    expect_revert("pool: reserve too large", pool.accrue, sender=world.keeper)
    assert boa.env.get_storage(pool.address, SLOT_DEBT_TOTALS) == full
