from dataclasses import replace

import ape

from bulkhead import risk
from tests.conftest import BPS, WAD, at_head_time


def test_borrow__within_max_ltv__mints_to_caller(market, borrower, stablecoin):
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    norm = market.pool.normalised_debt_of(position_id)
    balance = stablecoin.balanceOf(borrower)
    amount = 1_000 * WAD

    tx = market.pool.borrow(position_id, amount, sender=borrower)

    rate = market.pool.rate(block_id=tx.block_number)
    assert market.pool.normalised_debt_of(position_id) == norm + risk.ceil_div(amount * WAD, rate)
    assert stablecoin.balanceOf(borrower) == balance + amount
    (event,) = tx.decode_logs(market.pool.Borrow)
    assert (event.id, event.receiver, event.amount) == (position_id, borrower, amount)
    (updated,) = tx.decode_logs(market.pool.PositionUpdated)
    assert updated.debt == risk.debt(norm + risk.ceil_div(amount * WAD, rate), rate)


def test_borrow__on_position_without_debt__starts_debt(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    weth.pool.borrow(position_id, weth.params.min_debt, sender=borrower)
    assert weth.pool.debt_of(position_id) >= weth.params.min_debt


def test_borrow__zero_amount__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: zero amount"):
        weth.pool.borrow(position_id, 0, sender=borrower)


def test_borrow__unknown_position__reverts(weth, borrower):
    with ape.reverts("pool: unknown position"):
        weth.pool.borrow(weth.pool.position_count() + 1, WAD, sender=borrower)


def test_borrow__by_stranger__reverts(weth, borrower, attacker):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.borrow(position_id, 100 * WAD, sender=attacker)


def test_borrow__paused__reverts(weth, factory, admin, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    factory.set_paused(weth.pool, True, sender=admin)
    with ape.reverts("pool: paused"):
        weth.pool.borrow(position_id, 100 * WAD, sender=borrower)


def test_borrow__beyond_max_ltv__reverts(weth, borrower):
    usd = 10_000 * WAD
    headroom = 1_000  # [bps] below the pool's max LTV
    position_id = weth.open_at_ltv(borrower, usd, weth.params.max_ltv - headroom)
    with ape.reverts("pool: exceeds max ltv"):
        weth.pool.borrow(position_id, usd * headroom // BPS + WAD, sender=borrower)


def test_borrow__first_debt_below_minimum__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: debt below minimum"):
        weth.pool.borrow(position_id, weth.params.min_debt // 2, sender=borrower)


def test_borrow__beyond_debt_ceiling__reverts(weth, factory, admin, borrower):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    p = weth.params
    ceiling = weth.pool.total_debt() + 500 * WAD
    factory.set_risk_params(weth.pool, replace(p, debt_ceiling=ceiling).as_tuple(), sender=admin)
    weth.pool.borrow(position_id, 400 * WAD, sender=borrower)
    with ape.reverts("pool: debt ceiling"):
        weth.pool.borrow(position_id, 200 * WAD, sender=borrower)


# ------------------------------------------------------- position debt cap and haircut


def test_borrow__above_position_debt_cap__reverts_and_up_to_it_borrows(
    weth, factory, admin, borrower
):
    pool = weth.pool
    position_id = weth.open_at_ltv(borrower, 100_000 * WAD, 2_000)  # ~20,000 bhUSD
    debt = pool.debt_of(position_id)
    cap = debt + 10_000 * WAD
    factory.set_position_debt_cap(pool, cap, sender=admin)
    # within max LTV (60 %) and the debt ceiling: only the cap refuses it
    with ape.reverts("pool: position debt cap"):
        pool.borrow(position_id, 10_001 * WAD, sender=borrower)
    pool.borrow(position_id, 9_999 * WAD, sender=borrower)  # room for rounding and interest
    assert pool.debt_of(position_id) <= cap


def test_borrow__above_cap_and_max_ltv__cap_is_checked_first(weth, factory, admin, borrower):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    factory.set_position_debt_cap(weth.pool, 5_000 * WAD, sender=admin)
    with ape.reverts("pool: position debt cap"):
        weth.pool.borrow(position_id, 9_000 * WAD, sender=borrower)  # 110 % LTV


def test_borrow__above_cap_and_debt_ceiling__cap_is_checked_first(weth, factory, admin, borrower):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    p = weth.params
    ceiling = weth.pool.total_debt() + 500 * WAD
    factory.set_risk_params(weth.pool, replace(p, debt_ceiling=ceiling).as_tuple(), sender=admin)
    factory.set_position_debt_cap(weth.pool, weth.pool.debt_of(position_id), sender=admin)
    with ape.reverts("pool: position debt cap"):
        weth.pool.borrow(position_id, 600 * WAD, sender=borrower)


def test_borrow__cap_below_the_minimum_debt__minimum_is_checked_first(
    weth, factory, admin, borrower
):
    position_id = weth.open(borrower, weth.unit, 0)
    factory.set_position_debt_cap(weth.pool, weth.params.min_debt // 2, sender=admin)
    with ape.reverts("pool: debt below minimum"):
        weth.pool.borrow(position_id, weth.params.min_debt // 4, sender=borrower)
    with ape.reverts("pool: position debt cap"):
        weth.pool.borrow(position_id, weth.params.min_debt, sender=borrower)


def test_borrow__position_above_a_lowered_cap__works_but_cannot_borrow_more(
    weth, factory, admin, borrower, stablecoin
):
    """Lowering the cap under a position's debt does not trap it: it repays, deposits and
    withdraws within max LTV, but every borrow is refused."""
    pool = weth.pool
    position_id = weth.open_at_ltv(borrower, 100_000 * WAD, 3_000)
    debt = pool.debt_of(position_id)
    factory.set_position_debt_cap(pool, debt // 2, sender=admin)
    with ape.reverts("pool: position debt cap"):
        pool.borrow(position_id, weth.params.min_debt, sender=borrower)
    pool.repay(position_id, debt // 4, sender=borrower)
    weth.fund(borrower, weth.unit)
    pool.deposit(position_id, weth.unit, sender=borrower)
    pool.withdraw(position_id, 2 * weth.unit, sender=borrower)
    assert pool.debt_of(position_id) > debt // 2  # still above the cap
    with ape.reverts("pool: position debt cap"):
        pool.borrow(position_id, weth.params.min_debt, sender=borrower)
    # below the cap again, it borrows again
    supply = stablecoin.totalSupply()
    pool.repay(position_id, debt // 2, sender=borrower)
    pool.borrow(position_id, weth.params.min_debt, sender=borrower)
    assert stablecoin.totalSupply() == supply - debt // 2 + weth.params.min_debt


def test_borrow__haircut__lowers_the_limit_to_max_ltv_times_one_less_haircut(
    weth, factory, admin, borrower, chain
):
    pool = weth.pool
    position_id = weth.open(borrower, 10 * weth.unit, 0)
    factory.set_haircut(pool, 2_500, sender=admin)
    # the limit from first principles: value x max LTV x (1 - 25 %), in whole bhUSD
    value = pool.collateral_of(position_id) * weth.price() // WAD
    limit = value * weth.params.max_ltv * 7_500 // BPS // BPS
    at_head_time(chain)
    with ape.reverts("pool: exceeds max ltv"):
        pool.borrow(position_id, limit + WAD, sender=borrower)
    at_head_time(chain)
    pool.borrow(position_id, limit - WAD, sender=borrower)
    assert pool.debt_of(position_id) <= limit
