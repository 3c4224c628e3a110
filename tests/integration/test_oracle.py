"""The oracle guard through the pool: every way a price is invalid blocks what needs a
price (borrow, withdraw with debt, liquidate) with its own reason and leaves what does
not (repay, deposit, close, withdraw without debt, open without debt) working."""

import ape
import pytest

from tests.conftest import MAX_UINT256, WAD


def _zero(m, admin, chain):
    m.feed.set_answer(0, sender=admin)


def _negative(m, admin, chain):
    m.feed.set_answer(-1, sender=admin)


def _stale(m, admin, chain):
    chain.mine(timestamp=m.feed.latestRoundData()[3] + m.pool.oracle_params()[1] + 1)


def _updated_at_zero(m, admin, chain):
    round_id, answer, started, _, _ = m.feed.latestRoundData()
    m.feed.set_round_data(round_id + 1, answer, started, 0, round_id + 1, sender=admin)


def _updated_at_in_future(m, admin, chain):
    m.feed.set_updated_at(chain.blocks.head.timestamp + 1800, sender=admin)


def _answered_in_earlier_round(m, admin, chain):
    round_id, answer, started, updated, _ = m.feed.latestRoundData()
    m.feed.set_round_data(round_id + 1, answer, started, updated, round_id, sender=admin)


def _reverting_feed(m, admin, chain):
    m.feed.set_reverting(True, sender=admin)


def _jump_up(m, admin, chain):
    m.move_price(16_000, admin)  # +60 %, the bound is 50 %


def _jump_down(m, admin, chain):
    m.move_price(4_500, admin)  # -55 %


def _above_max_answer(m, admin, chain):
    m.feed.set_answer(10**30 + 1, sender=admin)  # above 1e30 before scaling


def _above_max_price(m, admin, chain):
    m.feed.set_answer(10**21, sender=admin)  # 1e13 USD: 1e31 [wad] once scaled


INVALID = {
    "zero": (_zero, "oracle: non-positive price", 2),
    "negative": (_negative, "oracle: non-positive price", 2),
    "stale": (_stale, "oracle: stale price", 4),
    "updated_at_zero": (_updated_at_zero, "oracle: incomplete round", 3),
    "updated_at_in_future": (_updated_at_in_future, "oracle: incomplete round", 3),
    "answered_in_earlier_round": (_answered_in_earlier_round, "oracle: incomplete round", 3),
    "reverting_feed": (_reverting_feed, "oracle: feed call failed", 1),
    "jump_up": (_jump_up, "oracle: price jump", 6),
    "jump_down": (_jump_down, "oracle: price jump", 6),
    "above_max_answer": (_above_max_answer, "oracle: price out of range", 5),
    "above_max_price": (_above_max_price, "oracle: price out of range", 5),
}


@pytest.fixture(scope="module")
def positions(weth, borrower, keeper):
    """Set up once for every invalid condition: a WETH position with debt, one without,
    and a borrower holding spare bhUSD and collateral."""
    with_debt = weth.open_at_ltv(borrower, 10_000 * WAD, 5_000)
    without_debt = weth.open(keeper, weth.unit, 0)
    weth.mint_bhusd(borrower, 200 * WAD)  # covers the fee accrued until the close
    weth.fund(borrower, 3 * weth.unit)
    return with_debt, without_debt


@pytest.mark.parametrize("condition", INVALID)
def test_invalid_price__price_users_revert_with_its_reason_and_the_rest_works(
    condition, positions, weth, borrower, keeper, liquidator, admin, chain, lens
):
    make_invalid, reason, status = INVALID[condition]
    pool = weth.pool
    position_id, spare = positions
    collateral = pool.collateral_of(position_id)

    make_invalid(weth, admin, chain)

    # what needs a price: blocked, with the guard's reason
    assert pool.price_status() == (0, status)
    assert lens.max_borrow(pool, position_id) == 0
    assert list(pool.positions_to_liquidate(1, 5000)) == []
    with ape.reverts(reason):
        pool.price()
    with ape.reverts(reason):
        pool.borrow(position_id, 100 * WAD, sender=borrower)
    with ape.reverts(reason):
        pool.withdraw(position_id, 1, sender=borrower)
    with ape.reverts(reason):
        pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)
    # what does not: repay, deposit, close; withdraw and open without debt
    assert pool.repay(position_id, 100 * WAD, sender=borrower).return_value == 100 * WAD
    pool.deposit(position_id, weth.unit, sender=borrower)
    pool.close(position_id, sender=borrower)
    assert pool.debt_of(position_id) == 0
    assert weth.token.balanceOf(borrower) == 3 * weth.unit + collateral  # 1 deposited, all back
    pool.withdraw(spare, weth.unit, sender=keeper)
    assert pool.collateral_of(spare) == 0
    assert pool.collateral_of(pool.open(weth.unit, 0, sender=borrower).return_value) == weth.unit


def test_invalid_price__open_with_debt__reverts(weth, borrower, admin):
    weth.fund(borrower, weth.unit)
    weth.feed.set_reverting(True, sender=admin)
    with ape.reverts("oracle: feed call failed"):
        weth.pool.open(weth.unit, 100 * WAD, sender=borrower)
    weth.pool.open(weth.unit, 0, sender=borrower)


def test_invalid_price__valid_again__borrowing_resumes(weth, borrower, admin):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 3_000)
    weth.feed.set_reverting(True, sender=admin)
    with ape.reverts("oracle: feed call failed"):
        weth.pool.borrow(position_id, 100 * WAD, sender=borrower)
    weth.feed.set_reverting(False, sender=admin)
    weth.pool.borrow(position_id, 100 * WAD, sender=borrower)


# ------------------------------------------------------------------ jump bound


def test_jump_bound__each_heartbeat_since_the_anchor__widens_by_one_bound(
    weth, factory, admin, chain
):
    status = weth.pool.price_status
    tx = factory.reset_price_anchor(weth.pool, sender=admin)  # anchor: 3,000 now
    anchor_time, price = chain.blocks[tx.block_number].timestamp, weth.price()
    heartbeat = weth.pool.oracle_params()[1]

    chain.pending_timestamp = anchor_time + heartbeat - 1
    weth.set_price_wad(price * 16_000 // 10_000, admin)  # +60 %: beyond one bound (50 %)
    assert status()[1] == 6
    chain.pending_timestamp = anchor_time + heartbeat
    weth.set_price_wad(price * 16_000 // 10_000, admin)  # one heartbeat later: two bounds
    assert status() == (price * 16_000 // 10_000, 0)
    weth.set_price_wad(price * 21_000 // 10_000, admin)  # +110 %: beyond two bounds
    assert status()[1] == 6
    chain.pending_timestamp = anchor_time + 2 * heartbeat
    weth.set_price_wad(price * 21_000 // 10_000, admin)  # two heartbeats: three bounds
    assert status()[1] == 0


def test_jump_bound__accepted_price__becomes_the_anchor(weth, borrower, admin):
    position_id = weth.open(borrower, 10 * weth.unit, 0)
    weth.move_price(14_000, admin)  # +40 %, within the bound
    weth.pool.borrow(position_id, 1_000 * WAD, sender=borrower)  # a state change moves the anchor
    weth.move_price(14_000, admin)  # +40 % from there, +96 % from the first anchor
    weth.pool.borrow(position_id, 1_000 * WAD, sender=borrower)


def test_jump_bound__crash_beyond_it__blocks_liquidation_until_the_factory_resets(
    weth, borrower, liquidator, admin, factory, stablecoin
):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, weth.params.max_ltv)
    weth.mint_bhusd(liquidator, 10_000 * WAD)
    weth.move_price(4_000, admin)  # -60 %: under water from any max LTV above 40 %
    with ape.reverts("oracle: price jump"):
        weth.pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)
    factory.reset_price_anchor(weth.pool, sender=admin)
    weth.pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)
    assert weth.pool.debt_of(position_id) == 0
    assert weth.pool.bad_debt() > 0


# --------------------------------------------------------- feeds of any decimals


def test_price__each_pool__scales_its_feed_to_wad(markets):
    for market in markets.values():
        answer = market.feed.latestRoundData()[1]
        assert market.pool.price() == answer * 10 ** (18 - market.feed.decimals())
