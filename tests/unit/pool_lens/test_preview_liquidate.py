import ape

from bulkhead import risk
from tests.conftest import MAX_UINT256, WAD


def test_preview_liquidate__unhealthy__equals_the_mirror(market, borrower, admin, lens):
    p = market.params
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, p.max_ltv)
    market.move_price(9_500 * p.max_ltv // p.liquidation_threshold, admin)
    pool = market.pool
    expected = risk.liquidation_amounts(
        pool.collateral_of(position_id),
        pool.debt_of(position_id),
        market.price(),
        p,
        market.scale,
        10**24,
    )
    assert tuple(lens.preview_liquidate(pool, position_id, 10**24)) == (
        expected.repaid,
        expected.paid,
        expected.collateral_out,
        expected.shortfall,
    )


def test_preview_liquidate__zero_max_repay__reverts(weth, borrower, lens):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 3_000)
    with ape.reverts("pool: zero amount"):
        lens.preview_liquidate(weth.pool, position_id, 0)


def test_preview_liquidate__unknown_position__reverts(weth, lens):
    with ape.reverts("pool: unknown position"):
        lens.preview_liquidate(weth.pool, weth.pool.position_count() + 1, MAX_UINT256)


def test_preview_liquidate__no_debt__reverts(weth, borrower, lens):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: no debt"):
        lens.preview_liquidate(weth.pool, position_id, MAX_UINT256)


def test_preview_liquidate__invalid_price__reverts(weth, borrower, admin, lens):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 3_000)
    weth.feed.set_answer(-5, sender=admin)
    with ape.reverts("lens: invalid price"):
        lens.preview_liquidate(weth.pool, position_id, MAX_UINT256)


def test_preview_liquidate__healthy__reverts(weth, borrower, lens):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 3_000)
    with ape.reverts("pool: position is healthy"):
        lens.preview_liquidate(weth.pool, position_id, MAX_UINT256)


def test_preview_liquidate__max_repay_too_low__reverts(weth, borrower, admin, lens):
    p = weth.params
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, p.max_ltv)
    weth.move_price(9_500 * p.max_ltv // p.liquidation_threshold, admin)
    with ape.reverts("pool: max repay too low"):
        lens.preview_liquidate(weth.pool, position_id, 1)


def _unhealthy(weth, borrower, admin) -> int:
    p = weth.params
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, p.max_ltv)
    weth.move_price(9_500 * p.max_ltv // p.liquidation_threshold, admin)
    return position_id


def test_preview_liquidate__paused__reverts_like_the_pool(weth, borrower, admin, factory, lens):
    position_id = _unhealthy(weth, borrower, admin)
    factory.set_paused(weth.pool, True, sender=admin)
    with ape.reverts("pool: paused"):
        lens.preview_liquidate(weth.pool, position_id, MAX_UINT256)
    # the pool's order: zero amount and unknown position first
    with ape.reverts("pool: zero amount"):
        lens.preview_liquidate(weth.pool, position_id, 0)
    with ape.reverts("pool: unknown position"):
        lens.preview_liquidate(weth.pool, weth.pool.position_count() + 1, MAX_UINT256)


def test_preview_liquidate__grace_window__reverts_until_its_end(
    weth, borrower, admin, factory, lens, chain
):
    position_id = _unhealthy(weth, borrower, admin)
    factory.set_paused(weth.pool, True, sender=admin)
    factory.set_paused(weth.pool, False, sender=admin)
    end = weth.pool.controls().grace_end
    assert chain.blocks.head.timestamp < end
    with ape.reverts("pool: grace window"):
        lens.preview_liquidate(weth.pool, position_id, MAX_UINT256)
    chain.mine(timestamp=end)
    repaid, paid, out, shortfall = lens.preview_liquidate(weth.pool, position_id, MAX_UINT256)
    assert repaid > 0 and paid > repaid and out > 0 and shortfall == 0
