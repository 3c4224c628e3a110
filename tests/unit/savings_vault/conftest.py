"""Fixtures of the savings vault tests: the deployed vault and bhUSD for any account.

bhUSD only exists as pool debt, so an account gets it by borrowing from the WETH pool.
"""

from __future__ import annotations

import pytest

from bulkhead.risk import WAD

MIN_LOAN = 100 * WAD  # [wad] the pools' min debt
WETH_PER_BHUSD = 2_000 * WAD  # [wad] borrow 1 bhUSD per 1/2000 WETH: LTV 67 % at 3,000 USD


@pytest.fixture(scope="session")
def vault(project, deployment):
    return project.SavingsVault.at(deployment.vault)


@pytest.fixture(scope="session")
def give_bhusd(weth, stablecoin):
    """Borrow at least `amount` bhUSD for `account` from the WETH pool; return its balance."""

    def give(account, amount: int) -> int:
        loan = max(amount, MIN_LOAN)
        collateral = loan * weth.unit // WETH_PER_BHUSD + weth.unit
        weth.open(account, collateral, loan)
        return stablecoin.balanceOf(account)

    return give


@pytest.fixture(scope="session")
def deposit(vault, stablecoin, give_bhusd):
    """`account` borrows `amount` bhUSD and deposits exactly it; return the shares minted."""

    def enter(account, amount: int) -> int:
        give_bhusd(account, amount)
        stablecoin.approve(vault, 2**256 - 1, sender=account)
        return vault.deposit(amount, account, sender=account).return_value

    return enter
