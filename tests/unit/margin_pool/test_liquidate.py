import ape
import pytest

from bulkhead import risk
from tests.conftest import BPS, MAX_UINT256, WAD, accrued, at_head_time, position_state


def unhealthy(market, owner, admin, usd: int, health_bps: int = 9_500) -> int:
    """Open a position at max LTV worth `usd` [wad], then move the price until its health
    is about `health_bps` [bps]."""
    p = market.params
    position_id = market.open_at_ltv(owner, usd, p.max_ltv)
    market.move_price(health_bps * p.max_ltv // p.liquidation_threshold, admin)
    return position_id


@pytest.fixture(scope="module", autouse=True)
def liquidator_funds(wbtc, liquidator):
    """100,000 bhUSD for the liquidator, borrowed once for the module at 20 % LTV in WBTC."""
    wbtc.open_at_ltv(liquidator, 500_000 * WAD, 2_000)


# ------------------------------------------------------------ partial liquidation


def test_liquidate__partial__restores_target_health(
    market, borrower, liquidator, admin, lens, chain, stablecoin
):
    pool = market.pool
    position_id = unhealthy(market, borrower, admin, 20_000 * WAD)
    health_before = pool.health(position_id)
    assert health_before < WAD
    at_head_time(chain)  # the liquidation sees the debt the views see
    p = market.params
    price = market.price()
    debt = pool.debt_of(position_id)
    before = position_state(market, position_id, liquidator, stablecoin)
    expected = risk.liquidation_amounts(before["collateral"], debt, price, p, market.scale)
    assert 0 < expected.repaid < debt - p.min_debt and expected.shortfall == 0
    assert tuple(lens.preview_liquidate(pool, position_id, MAX_UINT256)) == (
        expected.repaid,
        expected.paid,
        expected.collateral_out,
        0,
    )

    tx = pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)

    assert tx.return_value == expected.collateral_out
    (event,) = tx.decode_logs(pool.Liquidate)
    assert (event.id, event.liquidator) == (position_id, liquidator)
    assert (event.debt_repaid, event.paid, event.collateral_out) == (
        expected.repaid,
        expected.paid,
        expected.collateral_out,
    )
    assert (event.reserve_used, event.bad_debt) == (0, 0)
    health_after = pool.health(position_id)
    assert health_after >= health_before
    assert abs(health_after - p.target_health) <= p.target_health // 10**6
    assert pool.collateral_of(position_id) == before["collateral"] - expected.collateral_out
    assert (
        pool.normalised_debt_of(position_id)
        == before["norm"] - expected.repaid * WAD // pool.rate()
    )
    assert stablecoin.balanceOf(liquidator) == before["bhusd"] - expected.paid
    assert stablecoin.totalSupply() == before["supply"] - expected.paid
    assert market.token.balanceOf(liquidator) == before["tokens"] + expected.collateral_out
    assert pool.reserve() == before["reserve"] + accrued(pool, tx) + expected.fee
    (updated,) = tx.decode_logs(pool.PositionUpdated)
    assert (updated.collateral, updated.normalised_debt) == (
        pool.collateral_of(position_id),
        pool.normalised_debt_of(position_id),
    )


def test_liquidate__bonus_fee_and_tip__equal_the_mirror_to_the_wei(
    weth, borrower, liquidator, admin, stablecoin
):
    pool = weth.pool
    position_id = unhealthy(weth, borrower, admin, 20_000 * WAD)
    p = weth.params
    collateral = pool.collateral_of(position_id)
    norm = pool.normalised_debt_of(position_id)

    tx = pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)

    # the inputs the pool used, read at the liquidation's own block
    debt = risk.debt(norm, pool.rate(block_id=tx.block_number))
    price = pool.price(block_id=tx.block_number)
    expected = risk.liquidation_amounts(collateral, debt, price, p, weth.scale)
    (event,) = tx.decode_logs(pool.Liquidate)
    assert (
        event.debt_repaid,
        event.paid,
        event.collateral_out,
        event.reserve_used,
        event.bad_debt,
    ) == (
        expected.repaid,
        expected.paid,
        expected.collateral_out,
        0,
        0,
    )
    # fee: what the keeper burns on top of the debt it repays, credited to the reserve
    assert expected.paid - expected.repaid == risk.ceil_div(
        expected.repaid * p.liquidation_fee, BPS
    )
    # bonus and tip: collateral worth repaid x (1 + fee)(1 + bonus) + tip x repaid / debt
    k = (BPS + p.liquidation_fee) * (
        BPS + p.liquidation_bonus
    ) * 10**10 + p.liquidation_tip * WAD // debt
    assert k == risk.penalty_factor(p, debt)
    worth = expected.repaid * k // WAD
    value_out = weth.value(expected.collateral_out, price)
    assert value_out <= worth <= value_out + price * weth.scale // WAD + 1
    bonus = expected.repaid * (BPS + p.liquidation_fee) * p.liquidation_bonus // BPS**2
    tip = p.liquidation_tip * expected.repaid // debt
    assert (
        abs(value_out - (expected.repaid + (expected.paid - expected.repaid) + bonus + tip))
        <= WAD // 10**6
    )


def test_liquidate__max_repay_below_target__liquidates_up_to_it(
    weth, borrower, liquidator, admin, chain
):
    pool = weth.pool
    position_id = unhealthy(weth, borrower, admin, 20_000 * WAD)
    health_before = pool.health(position_id)
    at_head_time(chain)
    p = weth.params
    collateral, debt = pool.collateral_of(position_id), pool.debt_of(position_id)
    full = risk.liquidation_amounts(collateral, debt, weth.price(), p, weth.scale)
    max_repay = full.paid // 2
    expected = risk.liquidation_amounts(collateral, debt, weth.price(), p, weth.scale, max_repay)
    assert expected.repaid == max_repay * BPS // (BPS + p.liquidation_fee) < full.repaid

    tx = pool.liquidate(position_id, max_repay, 0, sender=liquidator)

    (event,) = tx.decode_logs(pool.Liquidate)
    assert (event.debt_repaid, event.paid, event.collateral_out) == (
        expected.repaid,
        expected.paid,
        expected.collateral_out,
    )
    assert event.paid <= max_repay
    assert health_before < pool.health(position_id) < p.target_health


# ------------------------------------------------------------- full liquidation


def test_liquidate__remainder_below_min_debt__takes_whole_debt(
    weth, borrower, liquidator, admin, chain
):
    pool = weth.pool
    # 150 bhUSD of debt: bringing it to the target health would leave less than 100
    position_id = unhealthy(weth, borrower, admin, 187 * WAD + WAD // 2)
    at_head_time(chain)
    p = weth.params
    price = weth.price()
    collateral, debt = pool.collateral_of(position_id), pool.debt_of(position_id)
    value = weth.value(collateral, price)
    k_threshold = risk.penalty_factor(p, debt) * p.liquidation_threshold // BPS
    to_target = risk.ceil_div(
        p.target_health * debt - value * p.liquidation_threshold * WAD // BPS,
        p.target_health - k_threshold,
    )
    assert 0 < debt - to_target < p.min_debt
    expected = risk.liquidation_amounts(collateral, debt, price, p, weth.scale)
    assert expected.repaid == debt and expected.collateral_out < collateral

    tx = pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)

    (event,) = tx.decode_logs(pool.Liquidate)
    assert (event.debt_repaid, event.paid, event.collateral_out) == (
        debt,
        expected.paid,
        expected.collateral_out,
    )
    assert pool.debt_of(position_id) == 0
    assert pool.normalised_debt_of(position_id) == 0
    assert pool.health(position_id) == MAX_UINT256
    # what the keeper did not take stays with the owner, who can take it without a price
    rest = collateral - expected.collateral_out
    assert pool.collateral_of(position_id) == rest
    pool.withdraw(position_id, rest, sender=borrower)
    assert weth.token.balanceOf(borrower) == rest


def test_liquidate__max_repay_would_leave_dust__reverts(weth, borrower, liquidator, admin):
    position_id = unhealthy(weth, borrower, admin, 187 * WAD + WAD // 2)
    debt = weth.pool.debt_of(position_id)
    # enough for all but the fee: the rest would fall under the minimum debt
    with ape.reverts("pool: max repay too low"):
        weth.pool.liquidate(position_id, debt, 0, sender=liquidator)


def test_liquidate__max_repay_one_wei__reverts(weth, borrower, liquidator, admin):
    position_id = unhealthy(weth, borrower, admin, 20_000 * WAD)
    with ape.reverts("pool: max repay too low"):
        weth.pool.liquidate(position_id, 1, 0, sender=liquidator)


# -------------------------------------------------------------------- guards


def test_liquidate__collateral_out_below_minimum__reverts(
    weth, borrower, liquidator, admin, chain, lens
):
    position_id = unhealthy(weth, borrower, admin, 20_000 * WAD)
    at_head_time(chain)
    out = lens.preview_liquidate(weth.pool, position_id, MAX_UINT256)[2]
    with ape.reverts("pool: collateral out below minimum"):
        weth.pool.liquidate(position_id, MAX_UINT256, out + 1, sender=liquidator)
    at_head_time(chain)  # the reverted transaction was mined at the same time
    assert weth.pool.liquidate(position_id, MAX_UINT256, out, sender=liquidator).return_value == out


def test_liquidate__healthy_position__reverts(market, borrower, liquidator):
    position_id = market.open_at_ltv(borrower, 20_000 * WAD, market.params.max_ltv)
    with ape.reverts("pool: position is healthy"):
        market.pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)


def test_liquidate__at_liquidation_price__reverts_and_one_step_below_liquidates(
    weth, borrower, liquidator, admin, chain
):
    position_id = weth.open_at_ltv(borrower, 20_000 * WAD, weth.params.max_ltv)
    chain.pending_timestamp += 30 * 86400  # a month of fee
    weth.refresh(admin)
    at = weth.pool.liquidation_price(position_id)
    step = 10**10  # one unit of an 8-decimal feed [wad]
    at_head_time(chain)  # every transaction below sees the same debt
    weth.set_price_wad(risk.ceil_div(at, step) * step + step, admin)
    at_head_time(chain)
    with ape.reverts("pool: position is healthy"):
        weth.pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)
    at_head_time(chain)  # the reverted transaction was mined at the same time
    weth.set_price_wad(at // step * step - step, admin)
    at_head_time(chain)
    weth.pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)
    assert weth.pool.health(position_id) > WAD


def test_liquidate__position_without_debt__reverts(weth, borrower, liquidator):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: no debt"):
        weth.pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)


def test_liquidate__zero_max_repay__reverts(weth, borrower, liquidator):
    position_id = weth.open_at_ltv(borrower, 20_000 * WAD, 5_000)
    with ape.reverts("pool: zero amount"):
        weth.pool.liquidate(position_id, 0, 0, sender=liquidator)


def test_liquidate__unknown_position__reverts(weth, liquidator):
    with ape.reverts("pool: unknown position"):
        weth.pool.liquidate(weth.pool.position_count() + 1, MAX_UINT256, 0, sender=liquidator)


def test_liquidate__keeper_without_bhusd__reverts(weth, borrower, attacker, admin):
    position_id = unhealthy(weth, borrower, admin, 20_000 * WAD)
    with ape.reverts("erc20: burn amount exceeds balance"):
        weth.pool.liquidate(position_id, MAX_UINT256, 0, sender=attacker)


# ------------------------------------------------- pause and the grace window after it


def test_liquidate__paused__reverts_while_the_owner_repays_deposits_and_deleverages(
    weth, borrower, liquidator, admin, factory, stablecoin
):
    """Pause stops liquidations; the owner of the unhealthy position can still act."""
    pool = weth.pool
    position_id = unhealthy(weth, borrower, admin, 20_000 * WAD)
    factory.set_paused(pool, True, sender=admin)
    before = position_state(weth, position_id, liquidator, stablecoin)
    with ape.reverts("pool: paused"):
        pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)
    assert position_state(weth, position_id, liquidator, stablecoin) == before
    pool.repay(position_id, 1_000 * WAD, sender=borrower)
    weth.fund(borrower, weth.unit)
    pool.deposit(position_id, weth.unit, sender=borrower)
    pool.deleverage(position_id, 500 * WAD, 0, sender=borrower)
    assert pool.health(position_id) > WAD  # rescued while liquidations waited


def test_liquidate__paused__checks_zero_amount_and_unknown_position_first(
    weth, borrower, liquidator, admin, factory
):
    position_id = unhealthy(weth, borrower, admin, 20_000 * WAD)
    factory.set_paused(weth.pool, True, sender=admin)
    with ape.reverts("pool: zero amount"):
        weth.pool.liquidate(position_id, 0, 0, sender=liquidator)
    with ape.reverts("pool: unknown position"):
        weth.pool.liquidate(weth.pool.position_count() + 1, MAX_UINT256, 0, sender=liquidator)


def test_liquidate__grace_window__reverts_until_exactly_its_end(
    weth, borrower, liquidator, admin, factory, chain, lens
):
    pool = weth.pool
    position_id = unhealthy(weth, borrower, admin, 20_000 * WAD)
    factory.set_paused(pool, True, sender=admin)
    tx = factory.set_paused(pool, False, sender=admin)
    end = chain.blocks[tx.block_number].timestamp + pool.controls().grace_period
    assert pool.controls().grace_end == end
    chain.pending_timestamp = end - 1
    with ape.reverts("pool: grace window"):
        pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)
    assert pool.health(position_id) < WAD  # unhealthy all along, listed for keepers
    assert position_id in pool.positions_to_liquidate(1, 5_000)
    chain.pending_timestamp = max(end, chain.blocks.head.timestamp + 1)
    pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)
    assert pool.health(position_id) > WAD


def test_liquidate__grace_window__owner_repays_in_time_and_nothing_is_liquidated(
    weth, borrower, liquidator, admin, factory, chain
):
    pool = weth.pool
    position_id = unhealthy(weth, borrower, admin, 20_000 * WAD)
    factory.set_paused(pool, True, sender=admin)
    factory.set_paused(pool, False, sender=admin)
    pool.repay(position_id, pool.debt_of(position_id) // 5, sender=borrower)
    assert pool.health(position_id) > WAD
    chain.pending_timestamp = pool.controls().grace_end
    with ape.reverts("pool: position is healthy"):
        pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)


def test_liquidate__paused_again_in_the_window__paused_first(
    weth, borrower, liquidator, admin, factory
):
    position_id = unhealthy(weth, borrower, admin, 20_000 * WAD)
    factory.set_paused(weth.pool, True, sender=admin)
    factory.set_paused(weth.pool, False, sender=admin)
    factory.set_paused(weth.pool, True, sender=admin)
    assert weth.pool.controls().grace_end > 0
    with ape.reverts("pool: paused"):
        weth.pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)


# ------------------------------------------------------------------ self-liquidation


@pytest.mark.parametrize("usd", [20_000 * WAD, 187 * WAD + WAD // 2], ids=["partial", "whole"])
def test_liquidate__by_owner__pays_no_better_than_repaying(
    usd, weth, borrower, admin, chain, lens, stablecoin
):
    pool = weth.pool
    position_id = unhealthy(weth, borrower, admin, usd)
    weth.mint_bhusd(borrower, usd)  # enough to pay either way, in a second position

    def wealth() -> int:
        # bhUSD + collateral in the wallet + equity of the position, at the oracle price
        coll = weth.token.balanceOf(borrower) + pool.collateral_of(position_id)
        return stablecoin.balanceOf(borrower) + weth.value(coll) - pool.debt_of(position_id)

    results = {}
    with chain.isolate():
        at_head_time(chain)
        repaid, paid = lens.preview_liquidate(pool, position_id, MAX_UINT256)[:2]
        results["before"] = wealth()
        pool.repay(position_id, repaid, sender=borrower)
        results["repay"] = wealth()
    with chain.isolate():
        at_head_time(chain)
        pool.liquidate(position_id, MAX_UINT256, 0, sender=borrower)
        results["liquidate"] = wealth()

    assert results["liquidate"] <= results["repay"]
    # the owner's own bonus and tip come out of the owner's own collateral; only the
    # fee leaves, and it goes to the reserve
    assert results["repay"] - results["liquidate"] == paid - repaid > 0
    # repaying removes the normalised debt rounded down: at most a wei or two stays owed
    assert 0 <= results["before"] - results["repay"] <= 2
