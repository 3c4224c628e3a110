"""Streaming: whatever arrives (a fee sweep, a donation) is released to the share price
linearly over the stream period; a new arrival merges at the amount-weighted end; time
and arrivals never lower the share price; the period is governance's, within bounds."""

from __future__ import annotations

import ape
import pytest

from bulkhead.risk import WAD
from bulkhead.vault import VaultState, stream_end

PERIOD_MIN, PERIOD_MAX = 3_600, 30 * 86_400


@pytest.fixture
def funded(vault, stablecoin, deposit, give_bhusd, borrower, admin):
    """A depositor in the vault, and the admin holding bhUSD to send to it."""
    deposit(borrower, 10_000 * WAD)
    give_bhusd(admin, 100_000 * WAD)
    return vault


def _arrive(vault, stablecoin, sender, amount):
    """Send `amount` and skim it, both in the head's second: time moves only in `_wait`."""
    head = ape.chain.blocks.head.timestamp
    ape.chain.pending_timestamp = head
    stablecoin.transfer(vault, amount, sender=sender)
    ape.chain.pending_timestamp = head
    return vault.skim(sender=sender)


def _wait(chain, seconds):
    chain.pending_timestamp += seconds
    chain.mine()


def test_skim__nothing_arrived__returns_zero_and_logs_nothing(funded, keeper):
    tx = funded.skim(sender=keeper)
    assert tx.return_value == 0
    assert tx.decode_logs(funded.Stream) == []
    assert funded.unlock_end() == 0


def test_skim__arrival__locks_it_for_the_period_and_logs(funded, stablecoin, admin, keeper, chain):
    total, price = funded.totalAssets(), funded.convertToAssets(WAD)
    stablecoin.transfer(funded, 500 * WAD, sender=admin)
    tx = funded.skim(sender=keeper)  # anyone may skim
    now = chain.blocks.head.timestamp
    assert tx.return_value == 500 * WAD
    [event] = tx.decode_logs(funded.Stream)
    assert (event.added, event.locked, event.unlock_end) == (
        500 * WAD,
        500 * WAD,
        now + funded.stream_period(),
    )
    # nothing is released in the block of the arrival
    assert (funded.totalAssets(), funded.convertToAssets(WAD)) == (total, price)
    assert funded.locked_assets() == 500 * WAD
    assert funded.tracked_assets() == total + 500 * WAD


def test_stream__time_passes__releases_linearly_to_the_wei(funded, stablecoin, admin, chain):
    amount = 777 * WAD + 1
    period = funded.stream_period()
    total = funded.totalAssets()
    tx = _arrive(funded, stablecoin, admin, amount)
    start = chain.blocks.head.timestamp
    [event] = tx.decode_logs(funded.Stream)
    state = VaultState(tracked=total + amount, locked=amount, start=start, end=event.unlock_end)
    for elapsed in (1, period // 7, period // 2, period - 1, period, period + 100):
        chain.pending_timestamp = start + elapsed
        chain.mine()
        now = chain.blocks.head.timestamp
        released = amount * min(now - start, period) // period
        assert funded.totalAssets() == state.total_assets(now) == total + released
        assert funded.locked_assets() == state.locked_at(now)
    assert funded.totalAssets() == total + amount
    assert funded.locked_assets() == 0


def test_skim__during_stream__merges_at_weighted_end_without_a_jump(
    funded, stablecoin, admin, chain
):
    period = funded.stream_period()
    _arrive(funded, stablecoin, admin, 1_000 * WAD)
    first_end = funded.unlock_end()
    _wait(chain, period // 2)
    now_total, still = funded.totalAssets(), funded.locked_assets()
    tx = _arrive(funded, stablecoin, admin, 3_000 * WAD)
    now = chain.blocks.head.timestamp
    [event] = tx.decode_logs(funded.Stream)
    assert event.locked == still + 3_000 * WAD
    assert event.unlock_end == stream_end(still, first_end, 3_000 * WAD, period, now)
    assert first_end < event.unlock_end <= now + period
    assert funded.totalAssets() == now_total  # continuous at the arrival
    # the merged stream never releases faster than the two streams would on their own
    _wait(chain, 3_600)
    released = funded.totalAssets() - now_total
    assert released <= (still * 3_600 // (first_end - now)) + 3_000 * WAD * 3_600 // period + 1


def test_skim__dust_during_stream__does_not_delay_the_rest(funded, stablecoin, admin, chain):
    _arrive(funded, stablecoin, admin, 5_000 * WAD)
    end = funded.unlock_end()
    _wait(chain, funded.stream_period() // 2)
    tx = _arrive(funded, stablecoin, admin, 1)
    [event] = tx.decode_logs(funded.Stream)
    assert event.unlock_end - end <= 1


def test_share_price__time_and_arrivals__never_falls(funded, stablecoin, admin, chain):
    price = funded.convertToAssets(10**36)
    for step in range(6):
        if step % 2 == 0:
            _arrive(funded, stablecoin, admin, (step + 1) * 333 * WAD)
        _wait(chain, funded.stream_period() // 5)
        new_price = funded.convertToAssets(10**36)
        assert new_price >= price
        price = new_price
    assert price > 10**36


def test_sandwich__deposit_before_arrival_redeem_after__gains_only_the_streamed_part(
    funded, stablecoin, give_bhusd, attacker, admin, chain
):
    period = funded.stream_period()
    give_bhusd(attacker, 1_000_000 * WAD)
    stablecoin.approve(funded, 2**256 - 1, sender=attacker)
    shares = funded.deposit(1_000_000 * WAD, attacker, sender=attacker).return_value
    swept = 20_000 * WAD
    _arrive(funded, stablecoin, admin, swept)
    stay = 12  # [seconds] one block
    _wait(chain, stay)
    supply = funded.totalSupply()
    out = funded.redeem(shares, attacker, attacker, sender=attacker).return_value
    elapsed = chain.blocks.head.timestamp - funded.unlock_end() + period
    streamed = swept * elapsed // period  # released while the attacker was in
    gain = out - 1_000_000 * WAD
    assert gain <= streamed * shares // supply + 1
    assert gain * 1_000 < swept  # far from the whole sweep


def test_set_stream_period__governance__sets_future_arrivals_only(funded, stablecoin, admin, chain):
    _arrive(funded, stablecoin, admin, 100 * WAD)
    end = funded.unlock_end()
    tx = funded.set_stream_period(7 * 86_400, sender=admin)
    assert [e.period for e in tx.decode_logs(funded.StreamPeriodSet)] == [7 * 86_400]
    assert funded.stream_period() == 7 * 86_400
    assert funded.unlock_end() == end
    for period in (PERIOD_MIN, PERIOD_MAX):
        funded.set_stream_period(period, sender=admin)
        assert funded.stream_period() == period


def test_set_stream_period__not_governance__reverts(funded, attacker):
    with ape.reverts("vault: only governance"):
        funded.set_stream_period(7 * 86_400, sender=attacker)


def test_set_stream_period__new_factory_owner__governs(funded, factory, admin, operator):
    factory.transfer_ownership(operator, sender=admin)
    factory.accept_ownership(sender=operator)
    funded.set_stream_period(2 * 86_400, sender=operator)
    with ape.reverts("vault: only governance"):
        funded.set_stream_period(86_400, sender=admin)


def test_set_stream_period__out_of_bounds__reverts(funded, admin):
    for period in (0, PERIOD_MIN - 1, PERIOD_MAX + 1):
        with ape.reverts("vault: stream period out of bounds"):
            funded.set_stream_period(period, sender=admin)


def test_cover__not_factory__reverts(funded, admin, attacker):
    for caller in (admin, attacker):
        with ape.reverts("vault: only factory"):
            funded.cover(1, sender=caller)
