import ape

from tests.conftest import BPS, WAD


def drop_past_threshold(weth, admin) -> None:
    """Move the price 2 % (of today's price) below where a position at the max LTV reaches
    the liquidation threshold: one opened 1 % below the max LTV is then past the threshold
    too (for any threshold above 50 %), one at half the max LTV is not."""
    p = weth.params
    weth.move_price(p.max_ltv * BPS // p.liquidation_threshold - 200, admin)


def test_positions_to_liquidate__after_a_drop__lists_only_unhealthy_ids(weth, borrower, admin):
    near_max_ltv = weth.params.max_ltv - 100
    first = weth.open_at_ltv(borrower, 10_000 * WAD, near_max_ltv)
    weth.open_at_ltv(borrower, 10_000 * WAD, weth.params.max_ltv // 2)
    weth.open(borrower, weth.unit, 0)
    last = weth.open_at_ltv(borrower, 10_000 * WAD, near_max_ltv)
    assert list(weth.pool.positions_to_liquidate(1, 5000)) == []
    drop_past_threshold(weth, admin)
    assert list(weth.pool.positions_to_liquidate(1, 5000)) == [first, last]
    assert list(weth.pool.positions_to_liquidate(first + 1, 5000)) == [last]
    assert list(weth.pool.positions_to_liquidate(first, last - first)) == [first]


def test_positions_to_liquidate__invalid_price__is_empty(weth, borrower, admin):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, weth.params.max_ltv - 100)
    drop_past_threshold(weth, admin)
    assert list(weth.pool.positions_to_liquidate(1, 5000)) == [position_id]
    weth.feed.set_reverting(True, sender=admin)
    assert list(weth.pool.positions_to_liquidate(1, 5000)) == []


def test_positions_to_liquidate__start_past_the_last_id__is_empty(weth, borrower):
    weth.open(borrower, weth.unit, 0)
    count = weth.pool.position_count()
    assert list(weth.pool.positions_to_liquidate(count + 1, 10)) == []
    assert list(weth.pool.positions_to_liquidate(count + 100, 10)) == []


def test_positions_to_liquidate__limit_above_5000__reverts(weth):
    with ape.reverts("pool: limit above 5000"):
        weth.pool.positions_to_liquidate(1, 5001)
