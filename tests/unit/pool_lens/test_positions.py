import ape

from bulkhead import risk
from tests.conftest import MAX_UINT256, WAD


def test_positions__mixed_page__lists_non_empty_positions_with_health(
    market, borrower, keeper, lens
):
    pool = market.pool
    a = market.open_at_ltv(borrower, 10_000 * WAD, 3_000)
    b = market.open(keeper, market.unit, 0)
    c = market.open(borrower, market.unit, 0)
    pool.close(c, sender=borrower)
    page = lens.positions(pool, a, 1000)
    assert [v.id for v in page] == [a, b]
    first, second = page
    assert (first.owner, first.collateral, first.debt) == (
        borrower,
        pool.collateral_of(a),
        pool.debt_of(a),
    )
    p = market.params
    assert first.health == risk.health(
        first.collateral, first.debt, market.price(), p.liquidation_threshold, market.scale
    )
    assert first.health == pool.health(a)
    assert (second.owner, second.debt, second.health) == (keeper, 0, MAX_UINT256)


def test_positions__invalid_price__health_is_zero(weth, borrower, admin, lens):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 3_000)
    weth.feed.set_reverting(True, sender=admin)
    (view,) = lens.positions(weth.pool, position_id, 1)
    assert view.health == 0 and view.debt > 0


def test_positions__start_past_the_last_id__is_empty(weth, lens):
    assert list(lens.positions(weth.pool, weth.pool.position_count() + 5, 10)) == []


def test_positions__limit_above_1000__reverts(weth, lens):
    with ape.reverts("lens: limit above 1000"):
        lens.positions(weth.pool, 1, 1001)
