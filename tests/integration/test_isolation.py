"""Bulkheads: a crash that leaves bad debt in one pool changes nothing in another pool:
not its positions, not its reserve, not its bad-debt counter, not what its borrowers owe."""

import pytest

from tests.conftest import MAX_UINT256, WAD, assert_accounting


def views(market, ids, borrowers, stablecoin) -> dict:
    """Everything a user or keeper can read about a pool and its positions right now."""
    pool = market.pool
    return {
        "stored": market.snapshot(ids),
        "debt": {i: pool.debt_of(i) for i in ids},
        "health": {i: pool.health(i) for i in ids},
        "liquidation_price": {i: pool.liquidation_price(i) for i in ids},
        "total_debt": pool.total_debt(),
        "rate": pool.rate(),
        "price_status": pool.price_status(),
        "to_liquidate": list(pool.positions_to_liquidate(1, 5000)),
        "bhusd": {a.address: stablecoin.balanceOf(a) for a in borrowers},
    }


@pytest.fixture
def crash_setup(markets, borrower, keeper, liquidator, operator, admin, chain):
    """Positions in every pool and a month of fees in every reserve; a WETH position at
    max LTV (the victim) and a liquidator with bhUSD."""
    others = {}
    for name in ("WBTC", "VOL"):
        m = markets[name]
        p = m.params
        others[name] = [
            m.open_at_ltv(borrower, 50_000 * WAD, p.max_ltv * 9 // 10),  # close to its threshold
            m.open_at_ltv(keeper, 20_000 * WAD, 3_000),
            m.open(operator, m.unit, 0),
        ]
    weth = markets["WETH"]
    victim = weth.open_at_ltv(borrower, 30_000 * WAD, weth.params.max_ltv)
    weth.mint_bhusd(liquidator, 30_000 * WAD)
    chain.pending_timestamp += 30 * 86400
    for m in markets.values():
        m.refresh(admin)
        m.pool.accrue(sender=admin)
    return victim, others


def test_bad_debt_in_one_pool__other_pools__unchanged(
    crash_setup, markets, borrower, keeper, operator, liquidator, admin, chain, stablecoin
):
    victim, others = crash_setup
    weth = markets["WETH"]
    people = [borrower, keeper, operator]
    later = chain.blocks.head.timestamp + 600
    seen = {}
    with chain.isolate():
        chain.mine(timestamp=later)
        seen["calm"] = {
            name: views(markets[name], ids, people, stablecoin) for name, ids in others.items()
        }
    with chain.isolate():
        weth.move_price(5_500, admin)  # -45 %
        weth.pool.liquidate(victim, MAX_UINT256, 0, sender=liquidator)
        seen["weth"] = (weth.pool.reserve(), weth.pool.bad_debt())
        chain.mine(timestamp=later)
        seen["crash"] = {
            name: views(markets[name], ids, people, stablecoin) for name, ids in others.items()
        }

    reserve, bad_debt = seen["weth"]
    assert bad_debt > 0 and reserve == 0  # WETH's own reserve was used up first
    assert seen["crash"] == seen["calm"]
    for name in others:
        assert seen["calm"][name]["stored"]["reserve"] > 0
        assert seen["calm"][name]["stored"]["bad_debt"] == 0


def test_bad_debt_in_one_pool__other_pools__keep_working(
    crash_setup, markets, borrower, keeper, liquidator, admin, chain, stablecoin
):
    victim, others = crash_setup
    weth, wbtc = markets["WETH"], markets["WBTC"]
    weth.move_price(5_500, admin)
    weth.pool.liquidate(victim, MAX_UINT256, 0, sender=liquidator)
    assert weth.pool.bad_debt() > 0
    assert_accounting(stablecoin, markets, chain, admin)

    near, healthy, empty = others["WBTC"]
    wbtc.pool.borrow(healthy, 100 * WAD, sender=keeper)
    wbtc.pool.repay(near, 1_000 * WAD, sender=borrower)
    wbtc.pool.withdraw(empty, wbtc.unit // 2, sender=wbtc.pool.owner_of(empty))
    # a WBTC drop is liquidated in WBTC, feeding WBTC's reserve, leaving WETH's books alone
    wbtc.move_price(9_500 * WAD // wbtc.pool.health(near), admin)  # health 0.95
    wbtc_reserve, weth_bad_debt = wbtc.pool.reserve(), weth.pool.bad_debt()
    wbtc.pool.liquidate(near, 10_000 * WAD, 0, sender=liquidator)
    assert wbtc.pool.reserve() >= wbtc_reserve
    assert weth.pool.bad_debt() == weth_bad_debt
    assert_accounting(stablecoin, markets, chain, admin)
