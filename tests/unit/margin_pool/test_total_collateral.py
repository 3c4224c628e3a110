def test_total_collateral__open_withdraw_close__sums_positions(market, borrower, keeper):
    a = market.open(borrower, 3 * market.unit, 0)
    market.open(keeper, 2 * market.unit, 0)
    market.pool.withdraw(a, market.unit, sender=borrower)
    assert market.pool.total_collateral() == 4 * market.unit
    market.pool.close(a, sender=borrower)
    assert market.pool.total_collateral() == 2 * market.unit
    assert market.token.balanceOf(market.pool) == 2 * market.unit
