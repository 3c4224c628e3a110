import ape

from bulkhead import risk
from tests.conftest import MAX_UINT256, WAD


def test_health__with_debt__is_value_times_threshold_over_debt(market, borrower):
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 5_000)
    p = market.params
    expected = risk.health(
        market.pool.collateral_of(position_id),
        market.pool.debt_of(position_id),
        market.price(),
        p.liquidation_threshold,
        market.scale,
    )
    assert market.pool.health(position_id) == expected
    assert abs(expected - p.liquidation_threshold * WAD // 5_000) < WAD // 10**6


def test_health__without_debt__is_max(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    assert weth.pool.health(position_id) == MAX_UINT256


def test_health__price_falls__falls_with_it(weth, borrower, admin):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 5_000)
    before = weth.pool.health(position_id)
    weth.move_price(8_000, admin)
    # a second of fee accrues between the two reads: about 1e-9 of the debt
    assert abs(weth.pool.health(position_id) - before * 8 // 10) <= before // 10**6


def test_health__invalid_price__reverts(weth, borrower, admin):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 5_000)
    weth.feed.set_answer(0, sender=admin)
    with ape.reverts("oracle: non-positive price"):
        weth.pool.health(position_id)
