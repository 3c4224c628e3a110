"""The stability fee: a per-second rate compounded into each pool's rate accumulator,
charged to every position through its normalised debt, and credited to the reserve."""

import math

from bulkhead import risk
from tests.conftest import WAD, YEAR, assert_accounting


def total_normalised_debt(pool) -> int:
    return sum(pool.normalised_debt_of(i) for i in range(1, pool.position_count() + 1))


def accrue_at(pool, admin, chain, timestamp: int):
    chain.pending_timestamp = timestamp
    return pool.accrue(sender=admin)


def test_debt__after_one_year__compounds_at_the_pool_fee(market, borrower, admin, chain):
    pool = market.pool
    position_id = market.open_at_ltv(borrower, 100_000 * WAD, 3_000)
    start = chain.blocks[pool.accrue(sender=admin).block_number].timestamp
    rate0, norm = pool.rate(), pool.normalised_debt_of(position_id)
    debt0 = risk.debt(norm, rate0)
    fee = market.params.stability_fee

    tx = accrue_at(pool, admin, chain, start + YEAR)

    rate1 = risk.grow(rate0, YEAR, fee)
    assert tx.return_value == rate1 == pool.rate()
    debt1 = pool.debt_of(position_id)
    assert debt1 == risk.debt(norm, rate1)
    x = fee * YEAR / WAD  # ln(1 + yearly fee)
    # continuous compounding: e^x, to the third Taylor term (error below x^4 / 24)
    assert abs(debt1 / debt0 - math.exp(x)) < x**4 / 20
    # more than simple interest by about x^2 / 2
    assert debt1 - debt0 > debt0 * x * (1 + x / 2 * 0.99)


def test_debt__one_year_in_monthly_accruals__equals_one_accrual_within_1e_9(
    weth, borrower, admin, chain
):
    pool = weth.pool
    position_id = weth.open_at_ltv(borrower, 100_000 * WAD, 3_000)
    start = chain.blocks[pool.accrue(sender=admin).block_number].timestamp
    debts = {}
    with chain.isolate():
        accrue_at(pool, admin, chain, start + YEAR)
        debts["once"] = pool.debt_of(position_id)
    with chain.isolate():
        for month in range(1, 13):
            accrue_at(pool, admin, chain, start + YEAR * month // 12)
        debts["monthly"] = pool.debt_of(position_id)
    # exp() is summed until its terms round to zero: how often the pool accrues changes the
    # debt by rounding only (the cubic cut of finding 5, issue 12, charged idle pools less)
    assert abs(debts["monthly"] - debts["once"]) <= debts["once"] // 10**9


def test_debt__time_alone__never_shrinks(market, borrower, keeper, admin, chain):
    pool = market.pool
    ids = [
        market.open_at_ltv(borrower, 50_000 * WAD, 3_000),
        market.open_at_ltv(keeper, 5_000 * WAD, 4_000),
    ]
    last = {i: pool.debt_of(i) for i in ids}
    last_total = pool.total_debt()
    now = chain.blocks.head.timestamp
    for step in (1, 1, 59, 3600, 86400, 30 * 86400, YEAR):
        now += step
        if step == 3600:
            accrue_at(pool, admin, chain, now)  # accruing on the way changes nothing either
        else:
            chain.mine(timestamp=now)
        debts = {i: pool.debt_of(i) for i in ids}
        total = pool.total_debt()
        assert all(debts[i] >= last[i] for i in ids)
        assert total >= last_total
        if step >= 3600:
            assert all(debts[i] > last[i] for i in ids)
        last, last_total = debts, total


def test_reserve__accruals__grow_by_the_interest_exactly(market, borrower, keeper, admin, chain):
    pool = market.pool
    market.open_at_ltv(borrower, 50_000 * WAD, 3_000)
    market.open_at_ltv(keeper, 20_000 * WAD, 5_000)
    start = chain.blocks[pool.accrue(sender=admin).block_number].timestamp
    total_norm = total_normalised_debt(pool)
    rate0, reserve0, total_debt0 = pool.rate(), pool.reserve(), pool.total_debt()

    interests = []
    for day in (1, 2, 7, 30, 365):
        tx = accrue_at(pool, admin, chain, start + day * 86400)
        (event,) = tx.decode_logs(pool.Accrue)
        interests.append(event.interest)

    rate = pool.rate()
    # each accrual credits the growth of the rounded-down total, so the sum telescopes
    assert sum(interests) == total_norm * rate // WAD - total_norm * rate0 // WAD
    assert pool.reserve() == reserve0 + sum(interests)
    assert abs((pool.total_debt() - total_debt0) - sum(interests)) <= 1
    assert all(i > 0 for i in interests)


def test_accounting__a_year_of_fees_in_every_pool__supply_plus_reserves_match_debts(
    markets, borrower, keeper, admin, chain, stablecoin
):
    ids = {}
    for name, market in markets.items():
        ids[name] = market.open_at_ltv(borrower, 30_000 * WAD, 4_000)
        market.open_at_ltv(keeper, 10_000 * WAD, 2_000)
        market.pool.repay(ids[name], 1_000 * WAD, sender=borrower)
    assert_accounting(stablecoin, markets, chain, admin)
    chain.pending_timestamp += YEAR
    for market in markets.values():
        market.pool.accrue(sender=admin)
    assert_accounting(stablecoin, markets, chain, admin)
    for name, market in markets.items():
        market.refresh(admin)
        market.mint_bhusd(borrower, 2_000 * WAD)
        market.pool.close(ids[name], sender=borrower)
    assert_accounting(stablecoin, markets, chain, admin)
