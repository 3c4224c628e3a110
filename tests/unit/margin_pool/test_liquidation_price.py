from bulkhead import risk
from tests.conftest import MAX_UINT256, WAD


def test_liquidation_price__with_debt__is_where_health_is_one(market, borrower):
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 5_000)
    p = market.params
    collateral = market.pool.collateral_of(position_id)
    debt = market.pool.debt_of(position_id)
    at = market.pool.liquidation_price(position_id)
    assert at == risk.liquidation_price(collateral, debt, p.liquidation_threshold, market.scale)
    # a wei below it the position is liquidatable; once the price adds one wei of value
    # (fewer collateral decimals need a larger step) it is not
    step = risk.ceil_div(WAD, collateral * market.scale)
    assert risk.is_liquidatable(collateral, debt, at - 1, p.liquidation_threshold, market.scale)
    assert not risk.is_liquidatable(
        collateral, debt, at + step, p.liquidation_threshold, market.scale
    )


def test_liquidation_price__without_debt__is_zero(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    assert weth.pool.liquidation_price(position_id) == 0


def test_liquidation_price__unknown_position__is_zero(weth):
    assert weth.pool.liquidation_price(weth.pool.position_count() + 1) == 0


def test_liquidation_price__invalid_price__still_answers(weth, borrower, admin):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 5_000)
    at = weth.pool.liquidation_price(position_id)
    weth.feed.set_reverting(True, sender=admin)
    assert 0 < weth.pool.liquidation_price(position_id) < MAX_UINT256
    assert weth.pool.liquidation_price(position_id) >= at
