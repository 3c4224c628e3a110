from bulkhead import risk
from tests.conftest import WAD


def total_normalised_debt(pool) -> int:
    return sum(pool.normalised_debt_of(i) for i in range(1, pool.position_count() + 1))


def test_accrue__after_a_day__grows_rate_and_credits_reserve(market, borrower, admin, chain):
    market.open_at_ltv(borrower, 100_000 * WAD, 3_000)
    first = market.pool.accrue(sender=admin)
    rate_before = market.pool.rate()
    reserve_before = market.pool.reserve()
    total_norm = total_normalised_debt(market.pool)
    chain.pending_timestamp = chain.blocks[first.block_number].timestamp + 86400

    tx = market.pool.accrue(sender=admin)

    rate = tx.return_value
    assert rate == risk.grow(rate_before, 86400, market.params.stability_fee) > rate_before
    assert market.pool.rate() == rate
    interest = total_norm * rate // WAD - total_norm * rate_before // WAD
    (event,) = tx.decode_logs(market.pool.Accrue)
    assert (event.rate, event.interest) == (rate, interest)
    assert interest > 0
    assert market.pool.reserve() == reserve_before + interest


def test_accrue__same_timestamp__changes_nothing(weth, admin, chain):
    weth.pool.accrue(sender=admin)
    rate = weth.pool.rate()
    chain.pending_timestamp = chain.blocks.head.timestamp
    tx = weth.pool.accrue(sender=admin)
    assert tx.decode_logs(weth.pool.Accrue) == []
    assert tx.return_value == rate


def test_accrue__invalid_price__still_accrues(weth, borrower, admin, chain):
    weth.open_at_ltv(borrower, 100_000 * WAD, 3_000)
    weth.feed.set_reverting(True, sender=admin)
    reserve = weth.pool.reserve()
    chain.pending_timestamp += 3600
    tx = weth.pool.accrue(sender=admin)
    assert tx.return_value > WAD
    assert weth.pool.reserve() > reserve


def test_accrue__valid_price__moves_the_anchor_to_now(weth, admin, chain):
    # two heartbeats without a trade widen the jump bound to three bounds; accrue sets the
    # anchor again at the current price, so the next price is held to one bound
    chain.pending_timestamp += 2 * 3600
    weth.refresh(admin)
    up = weth.price() * 16_000 // 10_000  # +60 %, more than the 50 % bound
    statuses = {}
    with chain.isolate():
        weth.set_price_wad(up, admin)
        statuses["without"] = weth.pool.price_status()[1]
    with chain.isolate():
        weth.pool.accrue(sender=admin)
        weth.set_price_wad(up, admin)
        statuses["with"] = weth.pool.price_status()[1]
    assert statuses == {"without": 0, "with": 6}


def test_accrue__deposit_and_withdraw__do_not_accrue(weth, borrower, chain):
    """The total normalised debt does not change, so neither does the reserve's interest:
    deposit and withdraw read the current rate without writing it."""
    pid = weth.open_at_ltv(borrower, 100_000 * WAD, 3_000)
    reserve = weth.pool.reserve()
    chain.pending_timestamp += 86_400
    weth.refresh(borrower)
    weth.fund(borrower, weth.unit)
    deposit = weth.pool.deposit(pid, weth.unit, sender=borrower)
    withdraw = weth.pool.withdraw(pid, weth.unit, sender=borrower)
    for tx in (deposit, withdraw):
        assert tx.decode_logs(weth.pool.Accrue) == []
    assert weth.pool.reserve() == reserve
    # the debt still grew with time: the view reads the current rate
    (updated,) = withdraw.decode_logs(weth.pool.PositionUpdated)
    assert updated.debt == weth.pool.debt_of(pid, block_id=withdraw.block_number)


def test_accrue__open_and_close_without_debt__do_not_accrue(weth, borrower, chain):
    weth.open_at_ltv(borrower, 100_000 * WAD, 3_000)
    reserve = weth.pool.reserve()
    chain.pending_timestamp += 86_400
    weth.fund(borrower, weth.unit)
    opened = weth.pool.open(weth.unit, 0, sender=borrower)
    closed = weth.pool.close(opened.return_value, sender=borrower)
    for tx in (opened, closed):
        assert tx.decode_logs(weth.pool.Accrue) == []
    assert weth.pool.reserve() == reserve


def test_accrue__borrow_and_repay__accrue_first(weth, borrower, chain):
    pid = weth.open_at_ltv(borrower, 100_000 * WAD, 3_000)
    for action in (weth.pool.borrow, weth.pool.repay):
        chain.pending_timestamp += 86_400
        weth.refresh(borrower)
        tx = action(pid, 100 * WAD, sender=borrower)
        (event,) = tx.decode_logs(weth.pool.Accrue)
        assert event.interest > 0
