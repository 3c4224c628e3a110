"""Shared fixtures: one deployment through `bulkhead.deploy.deploy` (the same function the
CLI and the demo use), role-named accounts, and funded positions.

Ape runs every test in a snapshot of the chain, so session fixtures deploy once and each
test starts from the same state.
"""

from __future__ import annotations

import pytest

from bulkhead.chain import Sender
from bulkhead.deploy import Config, deploy
from bulkhead.risk import WAD, RiskParams

FEED_DECIMALS = 8


@pytest.fixture(scope="session")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def borrower(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def liquidator(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def keeper(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def operator(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def deployment(admin, chain):
    w3 = chain.provider.web3
    return deploy(w3, Sender(w3, admin.address), Config.load())


@pytest.fixture(scope="session")
def stablecoin(project, deployment):
    return project.Stablecoin.at(deployment.stablecoin)


@pytest.fixture(scope="session")
def factory(project, deployment):
    return project.PoolFactory.at(deployment.factory)


@pytest.fixture(scope="session")
def lens(project, deployment):
    return project.PoolLens.at(deployment.lens)


class Market:
    """One pool with its token and feed, and helpers that speak human units."""

    def __init__(self, project, info):
        self.info = info
        self.pool = project.MarginPool.at(info.address)
        self.token = project.MockToken.at(info.collateral)
        self.feed = project.MockAggregator.at(info.feed)
        self.decimals = info.collateral_decimals
        self.unit = 10**self.decimals
        self.scale = 10 ** (18 - self.decimals)

    @property
    def params(self) -> RiskParams:
        return RiskParams(*self.pool.risk_params())

    def set_price(self, usd: float, sender) -> None:
        self.feed.set_answer(int(round(usd * 10**FEED_DECIMALS)), sender=sender)

    def fund(self, account, amount: int) -> None:
        self.token.mint(account, amount, sender=account)
        self.token.approve(self.pool, 2**256 - 1, sender=account)

    def open(self, account, collateral: int, debt: int) -> int:
        self.fund(account, collateral)
        tx = self.pool.open(collateral, debt, sender=account)
        return tx.return_value


@pytest.fixture(scope="session")
def markets(project, deployment):
    return {p.name: Market(project, p) for p in deployment.pools}


@pytest.fixture(scope="session")
def weth(markets):
    return markets["WETH"]


@pytest.fixture(scope="session")
def wbtc(markets):
    return markets["WBTC"]


@pytest.fixture(scope="session")
def vol(markets):
    return markets["VOL"]


@pytest.fixture(params=["WETH", "WBTC", "VOL"])
def market(request, markets):
    """Each test that takes `market` runs for 18, 8 and 6 decimals of collateral."""
    return markets[request.param]


def wad(x: float | int) -> int:
    return int(x * WAD)


# ---------------------------------------------------------- savings vault
# bhUSD only exists as pool debt, so an account gets it by borrowing from the WETH pool.

MIN_LOAN = 100 * WAD  # [wad] the pools' min debt
WETH_PER_BHUSD = 2_000 * WAD  # [wad] borrow 1 bhUSD per 1/2000 WETH: LTV 67 % at 3,000 USD


@pytest.fixture(scope="session")
def vault(project, deployment):
    return project.SavingsVault.at(deployment.vault)


@pytest.fixture(scope="session")
def give_bhusd(weth, stablecoin):
    """Borrow at least `amount` bhUSD for `account` from the WETH pool; return its balance."""

    def give(account, amount: int) -> int:
        # refresh the feed's round so that a test that moved time still borrows
        weth.feed.set_answer(weth.feed.latestAnswer(), sender=account)
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
