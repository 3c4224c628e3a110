from dataclasses import replace

import ape

from bulkhead import risk
from tests.conftest import BPS, WAD, YEAR, at_head_time


def test_max_borrow__healthy_position__can_be_borrowed_and_no_more(market, borrower, lens, chain):
    pool = market.pool
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 3_000)
    at_head_time(chain)
    amount = lens.max_borrow(pool, position_id)
    p = market.params
    expected = risk.max_borrow(
        pool.collateral_of(position_id),
        pool.debt_of(position_id),
        market.price(),
        p,
        market.scale,
        pool.total_debt(),
        pool.rate(),
    )
    assert amount == expected > 2_000 * WAD
    with ape.reverts("pool: exceeds max ltv"):
        pool.borrow(position_id, amount + 3, sender=borrower)  # slack of 2 wei, plus one
    at_head_time(chain)  # the reverted transaction was mined at the same time
    pool.borrow(position_id, amount, sender=borrower)


def test_max_borrow__rounding_of_the_normalised_debt__still_borrowable(
    weth, borrower, admin, lens, chain
):
    # borrowing `a` adds ceil(a / rate) normalised units: the debt may grow by a + 2 wei,
    # so one wei of slack is not enough. Pick a first debt (so, a normalised debt) and a
    # collateral top-up for which it grows by a + 2 a year later, and borrow the lens's
    # answer there.
    pool, p = weth.pool, weth.params
    collateral = 10 * weth.unit // 3
    weth.fund(borrower, 2 * collateral)
    tx = pool.accrue(sender=admin)
    start, stored, price = chain.blocks[tx.block_number].timestamp, pool.rate(), weth.price()
    when = start + YEAR
    rate = risk.grow(stored, YEAR, p.stability_fee)

    def adds_two_wei(norm: int, top_up: int) -> bool:
        limit = risk.max_debt(collateral + top_up, price, p.max_ltv, weth.scale)
        a = limit - risk.debt(norm, rate) - 1  # the answer with one wei of slack
        return risk.debt(norm + risk.ceil_div(a * WAD, rate), rate) > limit

    def top_up_for(norm: int) -> int | None:
        # the debt's fraction of a wei must be close to 1 for the rounding to add 2 wei (within
        # rate - 1 of it, about 0.03: 0.98 leaves room, and the fractions of a rate near
        # 1.03 fall on a lattice of 0.01, so a tighter bound may never be met), and some debt
        # must open at exactly this normalised debt
        first_debt = norm * stored // WAD
        if norm * rate % WAD < WAD * 98 // 100:
            return None
        if risk.ceil_div(first_debt * WAD, stored) != norm:
            return None
        return next((x for x in range(10**15, 10**15 + 50_000) if adds_two_wei(norm, x)), None)

    # searched over the normalised debt, whose fraction moves by rate mod 1 per step, so that
    # a hit comes soon whatever rate the session's clock has reached (under load it is later)
    low = risk.ceil_div(3_000 * WAD * WAD, stored)
    found = next(n for n in range(low, low + 10**6) if top_up_for(n) is not None)
    first_debt, top_up = found * stored // WAD, top_up_for(found)
    at_head_time(chain)  # open at the rate read above
    position_id = pool.open(collateral, first_debt, sender=borrower).return_value
    norm = pool.normalised_debt_of(position_id)
    assert norm == risk.ceil_div(first_debt * WAD, stored)
    chain.pending_timestamp = when
    weth.refresh(admin)
    assert pool.rate() == rate
    debt = risk.debt(norm, rate)
    at_head_time(chain)
    pool.deposit(position_id, top_up, sender=borrower)
    at_head_time(chain)
    one_wei_slack = risk.max_debt(collateral + top_up, price, p.max_ltv, weth.scale) - debt - 1
    with ape.reverts("pool: exceeds max ltv"):
        pool.borrow(position_id, one_wei_slack, sender=borrower)
    at_head_time(chain)  # the reverted transaction was mined at the same time
    amount = lens.max_borrow(pool, position_id)
    assert amount == one_wei_slack - 1
    assert amount == risk.max_borrow(
        collateral + top_up, debt, price, p, weth.scale, pool.total_debt(), rate
    )
    pool.borrow(position_id, amount, sender=borrower)
    assert risk.within_max_ltv(
        pool.collateral_of(position_id), pool.debt_of(position_id), price, p.max_ltv, weth.scale
    )


def test_max_borrow__near_debt_ceiling__is_bounded_by_it(
    weth, borrower, admin, factory, lens, chain
):
    position_id = weth.open_at_ltv(borrower, 100_000 * WAD, 1_000)
    ceiling = weth.pool.total_debt() + 1_000 * WAD
    factory.set_risk_params(
        weth.pool, replace(weth.params, debt_ceiling=ceiling).as_tuple(), sender=admin
    )
    at_head_time(chain)
    amount = lens.max_borrow(weth.pool, position_id)
    assert 999 * WAD < amount < 1_000 * WAD
    weth.pool.borrow(position_id, amount, sender=borrower)
    assert weth.pool.total_debt() <= ceiling


def test_max_borrow__beyond_max_ltv_or_invalid_price__is_zero(weth, borrower, admin, lens):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, weth.params.max_ltv - 100)
    weth.move_price(9_000, admin)  # -10 %: the LTV rises past the max (for a max above 10 %)
    assert lens.max_borrow(weth.pool, position_id) == 0
    other = weth.open(borrower, weth.unit, 0)
    assert lens.max_borrow(weth.pool, other) > 0
    weth.feed.set_answer(0, sender=admin)
    assert lens.max_borrow(weth.pool, other) == 0


def test_max_borrow__haircut__borrowable_and_a_few_wei_more_is_not(
    market, borrower, admin, factory, lens, chain
):
    pool = market.pool
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 1_000)
    factory.set_haircut(pool, 3_000, sender=admin)
    at_head_time(chain)
    amount = lens.max_borrow(pool, position_id)
    # from first principles: value x max LTV x 70 % less the debt, less the rounding slack
    value = market.value(pool.collateral_of(position_id))
    limit = value * (market.params.max_ltv * 7_000 // BPS) // BPS
    room = limit - pool.debt_of(position_id)
    assert room - 3 <= amount <= room
    with ape.reverts("pool: exceeds max ltv"):
        pool.borrow(position_id, room + 1, sender=borrower)
    at_head_time(chain)  # the reverted transaction was mined at the same time
    pool.borrow(position_id, amount, sender=borrower)
    assert pool.debt_of(position_id) <= limit


def test_max_borrow__position_debt_cap__bounds_it(weth, borrower, admin, factory, lens, chain):
    pool = weth.pool
    position_id = weth.open_at_ltv(borrower, 100_000 * WAD, 1_000)  # ~10,000 bhUSD of debt
    cap = pool.debt_of(position_id) + 1_000 * WAD
    factory.set_position_debt_cap(pool, cap, sender=admin)
    at_head_time(chain)
    amount = lens.max_borrow(pool, position_id)
    assert 999 * WAD < amount <= 1_000 * WAD
    pool.borrow(position_id, amount, sender=borrower)
    assert pool.debt_of(position_id) <= cap


def test_max_borrow__position_above_a_lowered_cap__is_zero(weth, borrower, admin, factory, lens):
    position_id = weth.open_at_ltv(borrower, 100_000 * WAD, 1_000)
    other = weth.open(borrower, 10 * weth.unit, 0)
    factory.set_position_debt_cap(weth.pool, weth.pool.debt_of(position_id) // 2, sender=admin)
    assert lens.max_borrow(weth.pool, position_id) == 0
    assert 0 < lens.max_borrow(weth.pool, other) <= weth.pool.debt_of(position_id) // 2
