"""ERC-4626 to the letter: previews equal results, rounding in the vault's favour, max*
honoured, zero-share deposits refused, and the standard's events."""

from __future__ import annotations

import ape
import pytest

from bulkhead.risk import WAD
from bulkhead.vault import MAX_TOTAL_ASSETS, VIRTUAL

ZERO = "0x0000000000000000000000000000000000000000"
AMOUNTS = [1, 7, 10**9 + 3, 999_999_999_999_999_999, 123_456 * WAD + 789]


@pytest.fixture
def priced(vault, stablecoin, deposit, give_bhusd, borrower, admin, chain):
    """A vault whose share price is not 1 and still rising: a deposit, then a donation
    streamed for a third of the period. The next transaction runs in the head's second,
    so previews read at the head equal what it does."""
    deposit(borrower, 1_000 * WAD)
    give_bhusd(admin, 200 * WAD)
    stablecoin.transfer(vault, 123_456_789_012_345_678_901, sender=admin)
    vault.skim(sender=admin)
    chain.pending_timestamp += vault.stream_period() // 3
    chain.mine()
    assert vault.convertToAssets(WAD) > WAD
    return vault


def _same_second(chain):
    chain.pending_timestamp = chain.blocks.head.timestamp


def test_metadata__deployed__bhusd_with_18_decimals(vault, stablecoin, factory):
    assert vault.asset() == stablecoin.address
    assert vault.decimals() == 18
    assert vault.name() == "Bulkhead Savings bhUSD"
    assert vault.symbol() == "sbUSD"
    assert vault.FACTORY() == factory.address
    assert vault.totalAssets() == 0
    assert vault.convertToAssets(WAD) == WAD  # virtual shares start at one to one


def test_deposit__assets__mints_preview_shares_and_logs(
    priced, stablecoin, give_bhusd, keeper, operator, chain
):
    give_bhusd(keeper, 500 * WAD)
    stablecoin.approve(priced, 2**256 - 1, sender=keeper)
    assets = 321 * WAD + 17
    total_before = priced.totalAssets()
    _same_second(chain)
    expected = priced.previewDeposit(assets)
    tx = priced.deposit(assets, operator, sender=keeper)
    assert tx.return_value == expected > 0
    assert priced.balanceOf(operator) == expected
    assert priced.totalAssets() == total_before + assets
    [event] = tx.decode_logs(priced.Deposit)
    assert (event.sender, event.owner, event.assets, event.shares) == (
        keeper,
        operator,
        assets,
        expected,
    )
    [mint] = [
        log for log in tx.decode_logs(priced.Transfer) if log.contract_address == priced.address
    ]
    assert (mint.sender, mint.receiver, mint.value) == (ZERO, operator, expected)


def test_mint__shares__pulls_preview_assets_and_logs(
    priced, stablecoin, give_bhusd, keeper, operator, chain
):
    give_bhusd(keeper, 500 * WAD)
    stablecoin.approve(priced, 2**256 - 1, sender=keeper)
    shares = 250 * WAD + 3
    balance_before = stablecoin.balanceOf(keeper)
    _same_second(chain)
    expected = priced.previewMint(shares)
    tx = priced.mint(shares, operator, sender=keeper)
    assert tx.return_value == expected
    assert balance_before - stablecoin.balanceOf(keeper) == expected
    assert priced.balanceOf(operator) == shares
    [event] = tx.decode_logs(priced.Deposit)
    assert (event.sender, event.owner, event.assets, event.shares) == (
        keeper,
        operator,
        expected,
        shares,
    )


def test_withdraw__assets__burns_preview_shares_and_logs(
    priced, stablecoin, borrower, keeper, chain
):
    assets = 400 * WAD + 11
    shares_before = priced.balanceOf(borrower)
    _same_second(chain)
    expected = priced.previewWithdraw(assets)
    tx = priced.withdraw(assets, keeper, borrower, sender=borrower)
    assert tx.return_value == expected
    assert shares_before - priced.balanceOf(borrower) == expected
    assert stablecoin.balanceOf(keeper) == assets
    [event] = tx.decode_logs(priced.Withdraw)
    assert (event.sender, event.receiver, event.owner) == (borrower, keeper, borrower)
    assert (event.assets, event.shares) == (assets, expected)


def test_redeem__shares__sends_preview_assets_and_logs(priced, stablecoin, borrower, keeper, chain):
    shares = 300 * WAD + 5
    _same_second(chain)
    expected = priced.previewRedeem(shares)
    tx = priced.redeem(shares, keeper, borrower, sender=borrower)
    assert tx.return_value == expected
    assert stablecoin.balanceOf(keeper) == expected
    [event] = tx.decode_logs(priced.Withdraw)
    assert (event.sender, event.receiver, event.owner) == (borrower, keeper, borrower)
    assert (event.assets, event.shares) == (expected, shares)
    [burn] = [
        log for log in tx.decode_logs(priced.Transfer) if log.contract_address == priced.address
    ]
    assert (burn.sender, burn.receiver, burn.value) == (borrower, ZERO, shares)


def test_redeem__by_spender__spends_share_allowance(priced, borrower, operator, chain):
    priced.approve(operator, 100 * WAD, sender=borrower)
    priced.redeem(60 * WAD, operator, borrower, sender=operator)
    assert priced.allowance(borrower, operator) == 40 * WAD
    with ape.reverts("erc20: insufficient allowance"):
        priced.redeem(40 * WAD + 1, operator, borrower, sender=operator)


def test_previews__rounding__always_in_vaults_favour(priced, chain):
    total = priced.totalAssets()
    supply = priced.totalSupply()
    for x in AMOUNTS:
        # shares out and assets out round down, shares in and assets in round up
        assert priced.previewDeposit(x) == x * (supply + VIRTUAL) // (total + VIRTUAL)
        # a pay-out is also capped at the total assets
        assert priced.previewRedeem(x) == min(x * (total + VIRTUAL) // (supply + VIRTUAL), total)
        assert priced.previewMint(x) == -(-x * (total + VIRTUAL) // (supply + VIRTUAL))
        assert priced.previewWithdraw(x) == -(-x * (supply + VIRTUAL) // (total + VIRTUAL))
        assert priced.convertToShares(x) == priced.previewDeposit(x)
        assert priced.convertToAssets(x) == x * (total + VIRTUAL) // (supply + VIRTUAL)


def test_round_trips__every_path__never_profit(priced, stablecoin, give_bhusd, keeper, chain):
    """Each pair runs within one second, so no streamed yield comes in between."""
    give_bhusd(keeper, 300_000 * WAD)
    stablecoin.approve(priced, 2**256 - 1, sender=keeper)

    def now(call, *args):
        _same_second(chain)
        return call(*args, sender=keeper).return_value

    for x in AMOUNTS[2:]:
        # deposit then redeem what it minted: never more assets back
        shares = now(priced.deposit, x, keeper)
        assert now(priced.redeem, shares, keeper, keeper) <= x
        # mint then redeem the same shares: never more than they cost
        cost = now(priced.mint, x, keeper)
        assert now(priced.redeem, x, keeper, keeper) <= cost
        # withdraw then deposit the same assets: never more shares than were burned
        now(priced.deposit, 2 * x, keeper)
        burned = now(priced.withdraw, x, keeper, keeper)
        assert now(priced.deposit, x, keeper) <= burned
        # redeem then mint the same shares: never cheaper than what they paid out
        paid = now(priced.redeem, x, keeper, keeper)
        assert now(priced.mint, x, keeper) >= paid
        now(priced.redeem, priced.balanceOf(keeper), keeper, keeper)


def test_share_price__deposits_and_withdrawals__never_lower_it(
    priced, stablecoin, give_bhusd, keeper, borrower, chain
):
    give_bhusd(keeper, 1_000 * WAD)
    stablecoin.approve(priced, 2**256 - 1, sender=keeper)
    for action in range(8):
        _same_second(chain)
        price = priced.convertToAssets(10**36)  # fine-grained share price
        if action % 4 == 0:
            priced.deposit(13 * WAD + action, keeper, sender=keeper)
        elif action % 4 == 1:
            priced.mint(7 * WAD + action, keeper, sender=keeper)
        elif action % 4 == 2:
            priced.withdraw(5 * WAD + action, keeper, keeper, sender=keeper)
        else:
            priced.redeem(3 * WAD + action, borrower, borrower, sender=borrower)
        assert priced.convertToAssets(10**36) >= price


def test_max_deposit__cap__deposit_above_reverts(priced, stablecoin, keeper, give_bhusd):
    give_bhusd(keeper, 10 * WAD)
    stablecoin.approve(priced, 2**256 - 1, sender=keeper)
    cap = priced.maxDeposit(keeper)
    assert cap == MAX_TOTAL_ASSETS - priced.tracked_assets()
    with ape.reverts("vault: deposit above maximum"):
        priced.deposit(cap + 1, keeper, sender=keeper)
    # at the cap the vault itself accepts; only the caller's balance is short
    with ape.reverts("erc20: transfer amount exceeds balance"):
        priced.deposit(cap, keeper, sender=keeper)


def test_max_mint__cap__mint_above_reverts(priced, stablecoin, keeper, give_bhusd, chain):
    give_bhusd(keeper, 10 * WAD)
    stablecoin.approve(priced, 2**256 - 1, sender=keeper)
    _same_second(chain)
    cap = priced.maxMint(keeper)
    assert cap == priced.convertToShares(priced.maxDeposit(keeper))
    with ape.reverts("vault: mint above maximum"):
        priced.mint(cap + 1, keeper, sender=keeper)
    _same_second(chain)
    with ape.reverts("erc20: transfer amount exceeds balance"):
        priced.mint(cap, keeper, sender=keeper)


def test_max_withdraw__all_shares__withdraws_exactly_and_one_more_reverts(priced, borrower, chain):
    _same_second(chain)
    most = priced.maxWithdraw(borrower)
    assert most == priced.convertToAssets(priced.balanceOf(borrower))
    with ape.reverts("vault: withdraw above maximum"):
        priced.withdraw(most + 1, borrower, borrower, sender=borrower)
    _same_second(chain)
    priced.withdraw(most, borrower, borrower, sender=borrower)
    assert priced.maxWithdraw(borrower) == 0


def test_max_redeem__all_shares__redeems_exactly_and_one_more_reverts(priced, borrower, chain):
    most = priced.maxRedeem(borrower)
    assert most == priced.balanceOf(borrower) > 0
    with ape.reverts("vault: redeem above maximum"):
        priced.redeem(most + 1, borrower, borrower, sender=borrower)
    priced.redeem(most, borrower, borrower, sender=borrower)
    assert priced.balanceOf(borrower) == 0
    assert priced.maxRedeem(borrower) == 0


def test_deposit__below_one_share__reverts(priced, stablecoin, give_bhusd, keeper):
    give_bhusd(keeper, 10 * WAD)
    stablecoin.approve(priced, 2**256 - 1, sender=keeper)
    assert priced.previewDeposit(1) == 0
    with ape.reverts("vault: zero shares"):
        priced.deposit(1, keeper, sender=keeper)


def test_mint__zero_shares__reverts(priced, keeper):
    with ape.reverts("vault: zero shares"):
        priced.mint(0, keeper, sender=keeper)


def test_redeem__worth_zero_assets__reverts(priced, borrower):
    with ape.reverts("vault: zero assets"):
        priced.redeem(0, borrower, borrower, sender=borrower)


def test_withdraw__zero_assets__reverts(priced, borrower):
    with ape.reverts("vault: zero assets"):
        priced.withdraw(0, borrower, borrower, sender=borrower)


def test_donation__not_skimmed__changes_nothing(
    vault, deposit, give_bhusd, stablecoin, borrower, attacker
):
    deposit(borrower, 100 * WAD)
    give_bhusd(attacker, 1_000 * WAD)
    price, total = vault.convertToAssets(WAD), vault.totalAssets()
    stablecoin.transfer(vault, 1_000 * WAD, sender=attacker)
    assert (vault.convertToAssets(WAD), vault.totalAssets()) == (price, total)
    assert vault.tracked_assets() == 100 * WAD
    assert stablecoin.balanceOf(vault) == 1_100 * WAD


def deploy_vault(project, chain, sender, *args):
    """Deploy a SavingsVault from `sender`, first making ape forget what it cached about the
    address the vault lands at. Ape keeps each address's contract type across the snapshots
    that isolate tests, and another test may have deployed something else from `sender` at
    the same nonce (e.g. a MockAggregator): ape would then decode the reverted constructor's
    trace with that contract's ABI and fail with eth_abi's InvalidPointer instead of raising
    the revert."""
    del chain.contracts[sender.get_deployment_address()]
    return project.SavingsVault.deploy(*args, sender=sender)


def test_constructor__zero_address__reverts(project, admin, stablecoin, factory, chain):
    with ape.reverts("vault: zero address"):
        deploy_vault(project, chain, admin, ZERO, factory, 86_400)
    with ape.reverts("vault: zero address"):
        deploy_vault(project, chain, admin, stablecoin, ZERO, 86_400)


def test_constructor__period_out_of_bounds__reverts(project, admin, stablecoin, factory, chain):
    for period in (3_599, 30 * 86_400 + 1):
        with ape.reverts("vault: stream period out of bounds"):
            deploy_vault(project, chain, admin, stablecoin, factory, period)
