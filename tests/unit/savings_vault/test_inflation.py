"""The first-depositor inflation attack: an attacker deposits 1 wei into the empty vault and
donates bhUSD, hoping a victim's later deposit rounds down to few shares that the
attacker's one share then shares in. The vault tracks its assets (a donation counts for
nothing until skimmed) and carries a virtual dead deposit of 1 bhUSD (a skimmed donation
mostly belongs to the virtual shares), so the victim loses at most 0.1 % either way."""

from __future__ import annotations

import ape
import pytest

from bulkhead.risk import WAD

DONATIONS = [10**18, 10**21, 10**24]
VICTIM_DEPOSITS = [100 * WAD, 10_000 * WAD]


@pytest.mark.parametrize("victim_deposit", VICTIM_DEPOSITS)
@pytest.mark.parametrize("donation", DONATIONS)
@pytest.mark.parametrize("skimmed", [False, True], ids=["donated", "donated-skimmed-streamed"])
def test_inflation_attack__one_wei_then_donation__victim_loses_at_most_a_thousandth(
    vault, stablecoin, give_bhusd, attacker, borrower, chain, donation, victim_deposit, skimmed
):
    give_bhusd(attacker, donation + 1)
    give_bhusd(borrower, victim_deposit)
    stablecoin.approve(vault, 2**256 - 1, sender=attacker)
    stablecoin.approve(vault, 2**256 - 1, sender=borrower)
    attacker_start = stablecoin.balanceOf(attacker)

    assert vault.totalSupply() == 0
    attacker_shares = vault.deposit(1, attacker, sender=attacker).return_value
    stablecoin.transfer(vault, donation, sender=attacker)
    if skimmed:
        # the attacker turns the donation into yield and waits until all of it is released
        vault.skim(sender=attacker)
        chain.pending_timestamp += vault.stream_period()
        chain.mine()
        assert vault.totalAssets() == donation + 1

    victim_shares = vault.deposit(victim_deposit, borrower, sender=borrower).return_value
    assert victim_shares > 0
    vault.redeem(attacker_shares, attacker, attacker, sender=attacker)
    victim_out = vault.redeem(victim_shares, borrower, borrower, sender=borrower).return_value

    victim_loss = victim_deposit - victim_out
    attacker_result = stablecoin.balanceOf(attacker) - attacker_start  # what the attack netted
    print(
        f"\ndonation {donation:.0e} victim {victim_deposit:.0e} skimmed {skimmed}: "
        f"victim loss {victim_loss} wei ({victim_loss / victim_deposit:.3e}), "
        f"attacker net {attacker_result} wei"
    )
    assert victim_loss * 1_000 <= victim_deposit
    assert attacker_result <= 0  # the attacker never profits


def test_inflation_attack__deposit_worth_no_share__reverts_with_reason(
    vault, stablecoin, give_bhusd, attacker, borrower, chain
):
    give_bhusd(attacker, 10**24 + 1)
    give_bhusd(borrower, 1_000 * WAD)
    stablecoin.approve(vault, 2**256 - 1, sender=attacker)
    stablecoin.approve(vault, 2**256 - 1, sender=borrower)
    vault.deposit(1, attacker, sender=attacker)
    stablecoin.transfer(vault, 10**24, sender=attacker)
    vault.skim(sender=attacker)
    chain.pending_timestamp += vault.stream_period()
    chain.mine()
    # one share is now worth about a million wei: smaller deposits mint nothing and revert
    assert vault.previewDeposit(10**5) == 0
    with ape.reverts("vault: zero shares"):
        vault.deposit(10**5, borrower, sender=borrower)
