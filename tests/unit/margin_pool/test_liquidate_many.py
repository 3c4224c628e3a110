"""liquidate_many: many positions in one transaction, each exactly as `liquidate` would,
with one accrual, one price, one burn and one collateral transfer; what is not liquidatable
is skipped, and `_max_repay` is a budget for the whole batch."""

import ape
import pytest

from bulkhead import risk
from tests.conftest import BPS, MAX_UINT256, WAD, at_head_time


@pytest.fixture(scope="module", autouse=True)
def liquidator_funds(wbtc, liquidator):
    """bhUSD for the liquidator, borrowed once for the module at 20 % LTV in WBTC."""
    wbtc.open_at_ltv(liquidator, 2_000_000 * WAD, 2_000)


def crowd(market, owner, admin, sizes_usd, health_bps: int = 9_500) -> list[int]:
    """Open one position at max LTV per size [wad], then move the price until they sit at
    about `health_bps` [bps] of health."""
    p = market.params
    ids = [market.open_at_ltv(owner, usd, p.max_ltv) for usd in sizes_usd]
    market.move_price(health_bps * p.max_ltv // p.liquidation_threshold, admin)
    return ids


def books(market, ids, account, stablecoin) -> dict:
    pool = market.pool
    return {
        "positions": [(pool.collateral_of(i), pool.normalised_debt_of(i)) for i in ids],
        "reserve": pool.reserve(),
        "bad_debt": pool.bad_debt(),
        "total_collateral": pool.total_collateral(),
        "supply": stablecoin.totalSupply(),
        "bhusd": stablecoin.balanceOf(account),
        "tokens": market.token.balanceOf(account),
        "pool_tokens": market.token.balanceOf(pool),
    }


def test_liquidate_many__equals_one_liquidate_per_position(
    market, borrower, liquidator, admin, chain, stablecoin
):
    pool = market.pool
    # partial liquidations, a whole one near the minimum debt, and healths from 0.95 to 0.99
    ids = crowd(market, borrower, admin, [20_000 * WAD, 187 * WAD + WAD // 2, 5_000 * WAD])
    ids += crowd(market, borrower, admin, [9_000 * WAD, 300 * WAD], health_bps=9_900)
    assert all(pool.health(i) < WAD for i in ids)

    with chain.isolate():
        one_by_one = []
        for i in ids:
            at_head_time(chain)  # every liquidation at the same time as the batch below
            tx = pool.liquidate(i, MAX_UINT256, 0, sender=liquidator)
            one_by_one.append(tx.return_value)
        expected = books(market, ids, liquidator, stablecoin)

    at_head_time(chain)
    tx = pool.liquidate_many(ids, MAX_UINT256, 0, sender=liquidator)

    assert tx.return_value == sum(one_by_one)
    assert books(market, ids, liquidator, stablecoin) == expected
    events = tx.decode_logs(pool.Liquidate)
    assert [e.id for e in events] == ids
    assert [e.collateral_out for e in events] == one_by_one
    assert all(e.liquidator == liquidator for e in events)
    assert all(pool.health(i) > WAD for i in ids if pool.normalised_debt_of(i) > 0)


def test_liquidate_many__with_a_shortfall__reserve_then_bad_debt_as_one_by_one(
    weth, borrower, liquidator, admin, chain, stablecoin
):
    pool = weth.pool
    p = weth.params
    ids = [weth.open_at_ltv(borrower, usd, p.max_ltv) for usd in (30_000 * WAD, 800 * WAD)]
    # collateral worth 0.9 x the debt: whole liquidations with a shortfall, reserve first
    for _ in range(3):  # within the jump bound each time
        weth.move_price(8_000, admin)
        pool.accrue(sender=admin)
    assert all(weth.value(pool.collateral_of(i)) < pool.debt_of(i) for i in ids), (
        "the crash must leave a shortfall"
    )

    with chain.isolate():
        for i in ids:
            at_head_time(chain)
            pool.liquidate(i, MAX_UINT256, 0, sender=liquidator)
        expected = books(weth, ids, liquidator, stablecoin)

    at_head_time(chain)
    tx = pool.liquidate_many(ids, MAX_UINT256, 0, sender=liquidator)

    assert books(weth, ids, liquidator, stablecoin) == expected
    assert expected["bad_debt"] > 0 and expected["positions"] == [(0, 0), (0, 0)]
    events = tx.decode_logs(pool.Liquidate)
    assert sum(e.bad_debt for e in events) == expected["bad_debt"]


def test_liquidate_many__skips_unknown_debt_free_healthy_and_repeated_ids(
    weth, borrower, liquidator, admin, chain
):
    pool = weth.pool
    p = weth.params
    debt_free = weth.open(borrower, weth.unit, 0)
    safe = weth.open_at_ltv(borrower, 20_000 * WAD, p.max_ltv * 3 // 4)
    (due,) = crowd(weth, borrower, admin, [20_000 * WAD])
    assert pool.health(safe) >= WAD > pool.health(due)
    unknown = pool.position_count() + 1
    at_head_time(chain)
    expected = risk.liquidation_amounts(
        pool.collateral_of(due), pool.debt_of(due), weth.price(), p, weth.scale
    )

    tx = pool.liquidate_many(
        [0, unknown, debt_free, safe, due, due], MAX_UINT256, 0, sender=liquidator
    )

    # `due` once: after its partial liquidation it sits at the target health
    assert [e.id for e in tx.decode_logs(pool.Liquidate)] == [due]
    assert tx.return_value == expected.collateral_out
    assert pool.collateral_of(safe) > 0 and pool.collateral_of(debt_free) == weth.unit


def test_liquidate_many__budget__skips_what_does_not_fit(
    weth, borrower, liquidator, admin, chain, stablecoin
):
    pool = weth.pool
    p = weth.params
    ids = crowd(weth, borrower, admin, [20_000 * WAD, 30_000 * WAD, 10_000 * WAD])
    at_head_time(chain)
    price = weth.price()
    costs = [
        risk.liquidation_amounts(pool.collateral_of(i), pool.debt_of(i), price, p, weth.scale).paid
        for i in ids
    ]
    budget = costs[0] + costs[2]  # the second one does not fit after the first
    bhusd = stablecoin.balanceOf(liquidator)

    tx = pool.liquidate_many(ids, budget, 0, sender=liquidator)

    assert [e.id for e in tx.decode_logs(pool.Liquidate)] == [ids[0], ids[2]]
    assert bhusd - stablecoin.balanceOf(liquidator) == budget
    assert pool.health(ids[1]) < WAD  # still due, for the next batch


def test_liquidate_many__nothing_liquidatable__reverts(weth, borrower, liquidator):
    safe = weth.open_at_ltv(borrower, 20_000 * WAD, 5_000)
    with ape.reverts("pool: nothing to liquidate"):
        weth.pool.liquidate_many([safe, safe + 1], MAX_UINT256, 0, sender=liquidator)
    with ape.reverts("pool: nothing to liquidate"):
        weth.pool.liquidate_many([], MAX_UINT256, 0, sender=liquidator)


def test_liquidate_many__budget_below_every_cost__reverts(weth, borrower, liquidator, admin):
    ids = crowd(weth, borrower, admin, [20_000 * WAD, 10_000 * WAD])
    with ape.reverts("pool: nothing to liquidate"):
        weth.pool.liquidate_many(ids, 1, 0, sender=liquidator)


def test_liquidate_many__zero_budget__reverts(weth, borrower, liquidator, admin):
    ids = crowd(weth, borrower, admin, [20_000 * WAD])
    with ape.reverts("pool: zero amount"):
        weth.pool.liquidate_many(ids, 0, 0, sender=liquidator)


def test_liquidate_many__collateral_out_below_minimum__reverts(
    weth, borrower, liquidator, admin, chain
):
    ids = crowd(weth, borrower, admin, [20_000 * WAD, 10_000 * WAD])
    with chain.isolate():
        at_head_time(chain)
        out = weth.pool.liquidate_many(ids, MAX_UINT256, 0, sender=liquidator).return_value
    at_head_time(chain)
    with ape.reverts("pool: collateral out below minimum"):
        weth.pool.liquidate_many(ids, MAX_UINT256, out + 1, sender=liquidator)
    at_head_time(chain)
    assert weth.pool.liquidate_many(ids, MAX_UINT256, out, sender=liquidator).return_value == out


def test_liquidate_many__stale_price__reverts(weth, borrower, liquidator, admin, chain):
    ids = crowd(weth, borrower, admin, [20_000 * WAD])
    chain.pending_timestamp += weth.pool.oracle_params()[1] + 1
    with ape.reverts("oracle: stale price"):
        weth.pool.liquidate_many(ids, MAX_UINT256, 0, sender=liquidator)


def test_liquidate_many__keeper_without_bhusd__reverts_and_moves_nothing(
    weth, borrower, attacker, admin, stablecoin
):
    ids = crowd(weth, borrower, admin, [20_000 * WAD])
    before = books(weth, ids, attacker, stablecoin)
    with ape.reverts("erc20: burn amount exceeds balance"):
        weth.pool.liquidate_many(ids, MAX_UINT256, 0, sender=attacker)
    assert books(weth, ids, attacker, stablecoin) == before


def test_liquidate_many__while_paused__reverts_and_moves_nothing(
    weth, borrower, liquidator, admin, factory, stablecoin
):
    """Pause stops liquidations: the batch reverts and every position keeps its collateral
    and its debt."""
    ids = crowd(weth, borrower, admin, [20_000 * WAD, 10_000 * WAD])
    factory.set_paused(weth.pool, True, sender=admin)
    before = books(weth, ids, liquidator, stablecoin)
    with ape.reverts("pool: paused"):
        weth.pool.liquidate_many(ids, MAX_UINT256, 0, sender=liquidator)
    assert books(weth, ids, liquidator, stablecoin) == before


def test_liquidate_many__zero_budget_while_paused__zero_amount_first(
    weth, borrower, liquidator, admin, factory
):
    ids = crowd(weth, borrower, admin, [20_000 * WAD])
    factory.set_paused(weth.pool, True, sender=admin)
    with ape.reverts("pool: zero amount"):
        weth.pool.liquidate_many(ids, 0, 0, sender=liquidator)


def test_liquidate_many__in_the_grace_window__reverts_until_its_end(
    weth, borrower, liquidator, admin, factory, chain
):
    """After an unpause the batch waits until exactly the grace end, then liquidates."""
    ids = crowd(weth, borrower, admin, [20_000 * WAD, 10_000 * WAD])
    factory.set_paused(weth.pool, True, sender=admin)
    factory.set_paused(weth.pool, False, sender=admin)
    end = weth.pool.controls().grace_end
    assert end > chain.blocks.head.timestamp
    chain.pending_timestamp = end - 1
    with ape.reverts("pool: grace window"):
        weth.pool.liquidate_many(ids, MAX_UINT256, 0, sender=liquidator)
    chain.pending_timestamp = max(end, chain.blocks.head.timestamp + 1)
    tx = weth.pool.liquidate_many(ids, MAX_UINT256, 0, sender=liquidator)
    assert len(tx.decode_logs(weth.pool.Liquidate)) == 2


def test_liquidate_many__more_than_1000_ids__reverts(weth, liquidator):
    # the ABI bound of the id list: rejected while decoding the call, before any state
    with ape.reverts():
        weth.pool.liquidate_many(list(range(1, 1002)), MAX_UINT256, 0, sender=liquidator)


def test_liquidate_many__output_of_positions_to_liquidate__liquidates_all(
    vol, borrower, liquidator, admin
):
    pool = vol.pool
    ids = crowd(vol, borrower, admin, [1_000 * WAD + k * 97 * WAD for k in range(12)], 9_000)
    due = list(pool.positions_to_liquidate(1, pool.position_count()))
    assert set(ids) <= set(due)
    pool.liquidate_many(due, MAX_UINT256, 0, sender=liquidator)
    assert list(pool.positions_to_liquidate(1, pool.position_count())) == []
    assert all(
        pool.health(i) >= vol.params.target_health * (BPS - 1) // BPS
        for i in ids
        if pool.normalised_debt_of(i) > 0
    )
