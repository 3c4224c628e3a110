"""`bulkhead.vault` mirrors the vault to the wei: pure checks, then a replay of a real
vault's events against its on-chain state."""

from __future__ import annotations

import math

import pytest

from bulkhead import artifacts
from bulkhead.risk import WAD
from bulkhead.vault import (
    VaultEvent,
    VaultState,
    annualise,
    replay,
    still_locked,
    stream_end,
    validate_reserve_target,
    validate_stream_period,
    vault_events,
)


def test_still_locked__linear_schedule__rounds_the_locked_part_up():
    assert still_locked(1_000, 100, 200, 100) == 1_000
    assert still_locked(1_000, 100, 200, 150) == 500
    assert still_locked(1_000, 100, 400, 101) == 1_000 - 1_000 // 300  # 997: released rounds down
    assert still_locked(1_000, 100, 200, 200) == 0
    assert still_locked(0, 0, 0, 5) == 0


def test_stream_end__merge__releases_at_the_sum_of_both_rates():
    # nothing streaming: a full period
    assert stream_end(0, 0, 10, 86_400, 1_000) == 1_000 + 86_400
    # equal amounts, half a period left on the old one: 20 / (10 / 43,200 + 10 / 86,400)
    assert stream_end(10, 1_000 + 43_200, 10, 86_400, 1_000) == 1_000 + 57_600
    # dust does not move an end (finding 4 of issue 12: it moved it a second per skim)
    assert stream_end(10**24, 1_000 + 43_200, 1, 86_400, 1_000) == 1_000 + 43_200
    # what was streaming is never released later: the merged rate is at least the old one
    for added in (1, 10**18, 10**24, 10**30):
        end = stream_end(10**24, 1_000 + 43_200, added, 86_400, 1_000)
        assert (10**24 + added) * 43_200 >= 10**24 * (end - 1_000)


def test_annualise__growth__compounds_over_a_year():
    assert annualise(WAD, WAD, 86_400) == 0.0
    assert annualise(WAD, 2 * WAD, 365 * 86_400) == pytest.approx(1.0)
    assert annualise(WAD, WAD + WAD // 10_000, 86_400) == pytest.approx(
        math.exp(math.log(1.0001) * 365) - 1
    )
    assert annualise(0, WAD, 86_400) == 0.0
    assert annualise(WAD, 2 * WAD, 0) == 0.0
    assert annualise(1, 10**30, 1) == math.inf


def test_validate__bounds__raise_the_contract_reasons():
    validate_stream_period(3_600)
    validate_stream_period(30 * 86_400)
    for bad in (3_599, 30 * 86_400 + 1):
        with pytest.raises(ValueError, match="vault: stream period out of bounds"):
            validate_stream_period(bad)
    validate_reserve_target(1_000 * WAD)
    for bad in (0, 1_000 * WAD - 1, 10**33 + 1):
        with pytest.raises(ValueError, match="factory: reserve target out of bounds"):
            validate_reserve_target(bad)


def test_assets_out__share_price_below_one__pays_out_at_most_the_total():
    # after a loss the real shares would claim a little of the virtual assets
    state = VaultState(tracked=50 * WAD, supply=100 * WAD)
    assert state.to_assets(100 * WAD, 0) > 50 * WAD
    assert state.assets_out(100 * WAD, 0) == 50 * WAD
    assert state.assets_out(WAD, 0) == state.to_assets(WAD, 0) == WAD * (51 * WAD) // (101 * WAD)


def test_replay__events_out_of_order__applied_in_chain_order():
    events = [
        VaultEvent(5, 0, 2_000, "Withdraw", {"assets": 40, "shares": 40}),
        VaultEvent(3, 1, 1_000, "Deposit", {"assets": 100, "shares": 100}),
        VaultEvent(4, 0, 1_500, "Stream", {"added": 50, "locked": 50, "unlock_end": 2_500}),
    ]
    state = replay(events)
    assert state == VaultState(tracked=110, locked=50, start=1_500, end=2_500, supply=60)
    assert replay(events, until=1_200) == VaultState(tracked=100, supply=100)
    assert state.total_assets(2_000) == 85
    with pytest.raises(ValueError, match="unknown vault event"):
        replay([VaultEvent(1, 0, 1, "Sweep", {})])


def test_replay__real_vault_history__equals_the_chain(
    vault, stablecoin, deposit, give_bhusd, borrower, operator, admin, chain, deployment
):
    period = vault.stream_period()
    deposit(borrower, 1_000 * WAD)
    give_bhusd(admin, 10_000 * WAD)
    stablecoin.transfer(vault, 333 * WAD, sender=admin)
    vault.skim(sender=admin)
    chain.pending_timestamp += period // 3
    deposit(operator, 2_500 * WAD + 7)
    chain.pending_timestamp += period // 5
    stablecoin.transfer(vault, 1_234 * WAD, sender=admin)
    vault.skim(sender=admin)
    chain.pending_timestamp += 977
    vault.withdraw(101 * WAD, borrower, borrower, sender=borrower)
    vault.redeem(vault.balanceOf(operator) // 3, operator, operator, sender=operator)
    for wait in (0, period // 2, 2 * period):
        chain.pending_timestamp += wait
        chain.mine()
        head = chain.blocks.head
        events = vault_events(
            chain.provider.web3, _web3_vault(chain, vault), deployment.deploy_block, head.number
        )
        state = replay(events)
        now = head.timestamp
        assert state.tracked == vault.tracked_assets()
        assert state.supply == vault.totalSupply()
        assert state.locked_at(now) == vault.locked_assets()
        assert state.total_assets(now) == vault.totalAssets()
        assert state.share_price(now) == vault.convertToAssets(WAD)
        assert state.to_shares(10**21 + 3, now) == vault.convertToShares(10**21 + 3)
        assert state.to_assets(10**21 + 3, now, True) == vault.previewMint(10**21 + 3)
        assert state.assets_out(10**21 + 3, now) == vault.previewRedeem(10**21 + 3)


def _web3_vault(chain, vault):
    w3 = chain.provider.web3
    return w3.eth.contract(address=vault.address, abi=artifacts.load("SavingsVault").abi)
