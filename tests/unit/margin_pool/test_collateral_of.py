def test_collateral_of__after_deposit_and_withdraw__tracks_balance(market, borrower):
    position_id = market.open(borrower, 5 * market.unit, 0)
    market.fund(borrower, market.unit)
    market.pool.deposit(position_id, market.unit, sender=borrower)
    market.pool.withdraw(position_id, 2 * market.unit, sender=borrower)
    assert market.pool.collateral_of(position_id) == 4 * market.unit


def test_collateral_of__unknown_position__is_zero(weth):
    assert weth.pool.collateral_of(weth.pool.position_count() + 1) == 0
