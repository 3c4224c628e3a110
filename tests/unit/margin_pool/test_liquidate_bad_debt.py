"""liquidate when the collateral cannot fund a partial liquidation: the keeper takes all of it.
With equity after the fee it repays the debt plus the fee; below that it pays the
collateral's worth and the shortfall goes to the pool's reserve first, then to its bad
debt. (A module of its own: its fixture ages the pool by a year.)"""

import ape
import pytest

from bulkhead import risk
from tests.conftest import (
    BPS,
    MAX_UINT256,
    WAD,
    YEAR,
    accrued,
    assert_accounting,
    at_head_time,
    position_state,
)


@pytest.fixture(scope="module", autouse=True)
def aged(weth, borrower, liquidator, keeper, admin, chain):
    """A WETH pool a year after a large and a small position opened: the stability fee
    has built a reserve; the small position (the victim) sits at the max LTV."""
    weth.open_at_ltv(keeper, 400_000 * WAD, 2_500)  # 100,000 bhUSD of debt
    victim = weth.open_at_ltv(borrower, 30_000 * WAD, weth.params.max_ltv)
    weth.mint_bhusd(liquidator, 40_000 * WAD)
    chain.pending_timestamp += YEAR
    weth.refresh(admin)
    weth.pool.accrue(sender=admin)
    return victim


def crash(weth, position_id, admin, value_per_debt_bps: int) -> None:
    """Move the price until the collateral is worth `value_per_debt_bps` of the debt: in one
    round when that is within the pool's jump bound, else in several, each 1 % inside the
    bound and followed by an accrue, which moves the anchor to it (a slide over blocks in
    which nobody liquidates)."""
    debt = weth.pool.debt_of(position_id)
    collateral = weth.pool.collateral_of(position_id)
    target = debt * value_per_debt_bps // BPS * WAD // (collateral * weth.scale)
    step_bps = BPS - weth.pool.oracle_params()[2] + 100  # [bps] of the current price
    while target < weth.price() * step_bps // BPS:
        weth.move_price(step_bps, admin)
        weth.pool.accrue(sender=admin)
    weth.set_price_wad(target, admin)


def test_liquidate__collateral_below_penalty_with_equity__keeper_pays_debt_and_fee(
    aged, weth, liquidator, admin, chain, stablecoin, markets
):
    """Worth 1.04 x debt: less than K x debt, more than debt x (1 + fee). The keeper repays
    the whole debt plus the fee and takes all the collateral; the reserve only gains."""
    pool = weth.pool
    crash(weth, aged, admin, 10_400)
    at_head_time(chain)
    p = weth.params
    collateral, debt, price = pool.collateral_of(aged), pool.debt_of(aged), weth.price()
    paid = risk.ceil_div(debt * (BPS + p.liquidation_fee), BPS)
    assert paid <= weth.value(collateral, price) < risk.penalty_factor(p, debt) * debt // WAD
    expected = risk.liquidation_amounts(collateral, debt, price, p, weth.scale)
    assert (expected.paid, expected.collateral_out, expected.shortfall) == (paid, collateral, 0)
    before = position_state(weth, aged, liquidator, stablecoin)

    tx = pool.liquidate(aged, MAX_UINT256, 0, sender=liquidator)

    (event,) = tx.decode_logs(pool.Liquidate)
    assert (event.debt_repaid, event.paid, event.collateral_out) == (debt, paid, collateral)
    assert (event.reserve_used, event.bad_debt) == (0, 0)
    assert pool.collateral_of(aged) == 0 and pool.debt_of(aged) == 0
    assert weth.token.balanceOf(liquidator) == before["tokens"] + collateral
    assert stablecoin.balanceOf(liquidator) == before["bhusd"] - paid
    assert pool.reserve() == before["reserve"] + accrued(pool, tx) + paid - debt
    assert pool.bad_debt() == before["bad_debt"]
    assert_accounting(stablecoin, markets, chain, admin)


def test_liquidate__collateral_below_debt__keeper_pays_its_worth_and_reserve_covers_the_rest(
    aged, weth, liquidator, admin, chain, stablecoin, markets
):
    """Worth 0.95 x debt: the keeper pays the collateral's worth for all of it (no bonus
    from the reserve); the reserve absorbs exactly debt - value."""
    pool = weth.pool
    crash(weth, aged, admin, 9_500)
    at_head_time(chain)
    p = weth.params
    collateral, debt, price = pool.collateral_of(aged), pool.debt_of(aged), weth.price()
    value = weth.value(collateral, price)
    covered = value * BPS // (BPS + p.liquidation_fee)
    expected = risk.liquidation_amounts(collateral, debt, price, p, weth.scale)
    assert (expected.paid, expected.collateral_out, expected.shortfall) == (
        value,
        collateral,
        debt - covered,
    )
    before = position_state(weth, aged, liquidator, stablecoin)
    assert before["reserve"] > debt - covered

    tx = pool.liquidate(aged, MAX_UINT256, 0, sender=liquidator)

    (event,) = tx.decode_logs(pool.Liquidate)
    assert (event.debt_repaid, event.paid, event.collateral_out) == (debt, value, collateral)
    assert (event.reserve_used, event.bad_debt) == (debt - covered, 0)
    assert pool.collateral_of(aged) == 0 and pool.debt_of(aged) == 0
    assert weth.token.balanceOf(liquidator) == before["tokens"] + collateral
    assert stablecoin.balanceOf(liquidator) == before["bhusd"] - value
    # the reserve's net loss is what the collateral could not cover: debt - value
    assert pool.reserve() == before["reserve"] + accrued(pool, tx) - (debt - value)
    assert pool.bad_debt() == before["bad_debt"]
    assert_accounting(stablecoin, markets, chain, admin)


def test_liquidate__shortfall_above_reserve__records_bad_debt(
    aged, weth, liquidator, admin, chain, stablecoin, markets
):
    pool = weth.pool
    crash(weth, aged, admin, 6_500)  # worth 0.65 x debt: beyond one jump bound
    at_head_time(chain)
    p = weth.params
    collateral, debt, price = pool.collateral_of(aged), pool.debt_of(aged), weth.price()
    expected = risk.liquidation_amounts(collateral, debt, price, p, weth.scale)
    covered = debt - expected.shortfall
    before = position_state(weth, aged, liquidator, stablecoin)
    assert 0 < before["reserve"] < expected.shortfall

    tx = pool.liquidate(aged, MAX_UINT256, 0, sender=liquidator)

    available = before["reserve"] + accrued(pool, tx) + expected.paid - covered
    (event,) = tx.decode_logs(pool.Liquidate)
    assert (event.debt_repaid, event.paid, event.collateral_out) == (
        debt,
        expected.paid,
        collateral,
    )
    assert event.reserve_used == available
    assert event.bad_debt == expected.shortfall - available
    assert pool.reserve() == 0
    assert pool.bad_debt() == before["bad_debt"] + expected.shortfall - available
    assert pool.collateral_of(aged) == 0 and pool.debt_of(aged) == 0
    assert_accounting(stablecoin, markets, chain, admin)


def test_liquidate__bad_debt_max_repay_below_cost__reverts(aged, weth, liquidator, admin, chain):
    crash(weth, aged, admin, 9_000)
    at_head_time(chain)
    p = weth.params
    expected = risk.liquidation_amounts(
        weth.pool.collateral_of(aged), weth.pool.debt_of(aged), weth.price(), p, weth.scale
    )
    assert expected.shortfall > 0
    with ape.reverts("pool: max repay too low"):
        weth.pool.liquidate(aged, expected.paid - 1, 0, sender=liquidator)
    at_head_time(chain)  # the reverted transaction was mined at the same time
    weth.pool.liquidate(aged, expected.paid, 0, sender=liquidator)
    assert weth.pool.debt_of(aged) == 0
