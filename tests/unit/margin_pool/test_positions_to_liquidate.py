import ape

from tests.conftest import WAD


def test_positions_to_liquidate__after_a_drop__lists_only_unhealthy_ids(weth, borrower, admin):
    first = weth.open_at_ltv(borrower, 10_000 * WAD, 7_900)
    weth.open_at_ltv(borrower, 10_000 * WAD, 3_000)
    weth.open(borrower, weth.unit, 0)
    last = weth.open_at_ltv(borrower, 10_000 * WAD, 7_900)
    assert list(weth.pool.positions_to_liquidate(1, 5000)) == []
    weth.move_price(9_000, admin)
    assert list(weth.pool.positions_to_liquidate(1, 5000)) == [first, last]
    assert list(weth.pool.positions_to_liquidate(first + 1, 5000)) == [last]
    assert list(weth.pool.positions_to_liquidate(first, last - first)) == [first]


def test_positions_to_liquidate__invalid_price__is_empty(weth, borrower, admin):
    weth.open_at_ltv(borrower, 10_000 * WAD, 7_900)
    weth.move_price(9_000, admin)
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
