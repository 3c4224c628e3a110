"""Shared fixtures: one deployment through `bulkhead.deploy.deploy` (the same function the
CLI and the demo use), role-named accounts, and funded positions.

Ape runs every test in a snapshot of the chain, so session fixtures deploy once and each
test starts from the same state.
"""

from __future__ import annotations

import ape
import pytest

from bulkhead import risk
from bulkhead.chain import Sender
from bulkhead.deploy import Config, deploy
from bulkhead.risk import BPS, MAX_UINT256, WAD, RiskParams  # noqa: F401 (tests import them from here)

FEED_DECIMALS = 8
YEAR = risk.SECONDS_PER_YEAR
ZERO_ADDRESS = "0x" + "00" * 20


# A fixture that only looks things up (an account, a contract at an address): telling ape
# it holds no chain state spares a re-snapshot ("rebase") when a test first asks for it.
def stateless(**kwargs):
    return ape.fixture(chain_isolation=False, **kwargs)


@stateless(scope="session")
def admin(accounts):
    return accounts[0]


@stateless(scope="session")
def borrower(accounts):
    return accounts[1]


@stateless(scope="session")
def liquidator(accounts):
    return accounts[2]


@stateless(scope="session")
def keeper(accounts):
    return accounts[3]


@stateless(scope="session")
def attacker(accounts):
    return accounts[4]


@stateless(scope="session")
def operator(accounts):
    return accounts[5]


@stateless(scope="session")
def steward(accounts):
    """The risk steward's account; governance names it (`factory.set_steward`) where needed."""
    return accounts[6]


@pytest.fixture(scope="session", autouse=True)
def _fast_expected_reverts():
    """Make an expected revert cost milliseconds instead of seconds (ape 0.8.51).

    - ape builds a source traceback through the Vyper sources for every revert it raises
      (ethpm_types walks the AST per frame: 2-6 s for a revert deep in MarginPool), once
      for the Python traceback and once to look for a compiler `dev:` message. A revert
      with a reason string has no compiler message to find, and the suite checks reasons
      with `ape.reverts("...")`, never `dev_message`; so both are skipped for reverts
      with a reason (reasonless ones, e.g. an overflow, keep both). Set
      BULKHEAD_APE_TRACEBACKS=1 to get them back for every revert when debugging.
    - ape derives the ten HD test accounts again each time it enriches a revert trace
      (`address in accounts`), about 0.2 s per revert; they are derived once here.
    """
    import os

    from ape.exceptions import TransactionError
    from ape.managers.compilers import CompilerManager
    from ape_test.accounts import TestAccountContainer

    original = TestAccountContainer.get_test_account
    derived: dict[tuple[str, int], object] = {}

    def get_test_account(self, index: int):
        if index >= self.number_of_accounts:  # generated accounts are cached by ape itself
            return original(self, index)
        key = (self.mnemonic, index)
        if key not in derived:
            derived[key] = original(self, index)
        return derived[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TestAccountContainer, "get_test_account", get_test_account)
        if not os.environ.get("BULKHEAD_APE_TRACEBACKS"):
            enrich = CompilerManager.enrich_error
            traceback = TransactionError.with_ape_traceback

            def has_reason(err) -> bool:
                return bool(err.message) and err.message != TransactionError.DEFAULT_MESSAGE

            def enrich_error(self, err):
                return err if has_reason(err) else enrich(self, err)

            def with_ape_traceback(self):
                return self if has_reason(self) else traceback(self)

            patch.setattr(CompilerManager, "enrich_error", enrich_error)
            patch.setattr(TransactionError, "with_ape_traceback", with_ape_traceback)
        yield


@pytest.fixture(scope="session")
def deployment(admin, chain):
    w3 = chain.provider.web3
    return deploy(w3, Sender(w3, admin.address), Config.load())


@stateless(scope="session")
def stablecoin(project, deployment):
    return project.Stablecoin.at(deployment.stablecoin)


@stateless(scope="session")
def factory(project, deployment):
    return project.PoolFactory.at(deployment.factory)


@stateless(scope="session")
def lens(project, deployment):
    return project.PoolLens.at(deployment.lens)


@stateless(scope="session")
def automation(project, deployment):
    """`PositionAutomation`: every owner rule (protection, boost, top-up) of every pool."""
    return project.PositionAutomation.at(deployment.automation)


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
        self.feed.set_answer(round(usd * 10**FEED_DECIMALS), sender=sender)

    def fund(self, account, amount: int) -> None:
        self.token.mint(account, amount, sender=account)
        if self.token.allowance(account, self.pool) < amount:  # a call is cheaper than a tx
            self.token.approve(self.pool, 2**256 - 1, sender=account)

    def open(self, account, collateral: int, debt: int) -> int:
        self.fund(account, collateral)
        tx = self.pool.open(collateral, debt, sender=account)
        return tx.return_value

    # ---- helpers added for the core test suite (prices in [wad], amounts in contract units)

    def price(self) -> int:
        """The pool's oracle price [wad]; reverts while the price is invalid."""
        return self.pool.price()

    def set_price_wad(self, price: int, sender) -> None:
        """Post `price` [wad] as a new feed round at the next block's time."""
        self.feed.set_answer(price // 10 ** (18 - FEED_DECIMALS), sender=sender)

    def refresh(self, sender) -> None:
        """Post the feed's current answer again, e.g. after moving time past the heartbeat."""
        self.feed.set_answer(self.feed.latestRoundData()[1], sender=sender)

    def collateral_for(self, usd: int, price: int | None = None) -> int:
        """Collateral [collateral units] worth `usd` [wad] at `price` (default: the pool's)."""
        price = self.price() if price is None else price
        return usd * WAD // (price * self.scale)

    def value(self, collateral: int, price: int | None = None) -> int:
        price = self.price() if price is None else price
        return risk.value(collateral, price, self.scale)

    def open_at_ltv(self, account, usd: int, ltv_bps: int) -> int:
        """Open a position with collateral worth `usd` [wad] and debt at `ltv_bps` of it
        (2 wei less: the pool rounds the normalised debt up, which may add up to 2 wei)."""
        price = self.price()
        collateral = self.collateral_for(usd, price)
        debt = risk.value(collateral, price, self.scale) * ltv_bps // BPS - 2
        return self.open(account, collateral, debt)

    def mint_bhusd(self, account, amount: int) -> int:
        """Give `account` `amount` bhUSD by borrowing it at a quarter of the collateral value."""
        return self.open(account, self.collateral_for(4 * amount) + 1, amount)

    def move_price(self, ratio_bps: int, sender) -> int:
        """Move the price to `ratio_bps` of the current one; returns the new price [wad]."""
        price = self.price() * ratio_bps // BPS
        price -= price % 10 ** (18 - FEED_DECIMALS)
        self.set_price_wad(price, sender)
        return price

    def snapshot(self, ids) -> dict:
        """Everything stored about the pool and the given positions (no time-dependent views)."""
        pool = self.pool
        return {
            "positions": {
                i: (pool.owner_of(i), pool.collateral_of(i), pool.normalised_debt_of(i))
                for i in ids
            },
            "reserve": pool.reserve(),
            "bad_debt": pool.bad_debt(),
            "total_collateral": pool.total_collateral(),
            "position_count": pool.position_count(),
            "params": pool.risk_params(),
            "paused": pool.paused(),
            "token_balance": self.token.balanceOf(pool),
        }


def at_head_time(chain) -> int:
    """Make the next block share the latest block's timestamp, so that views read at the
    latest block (previews, debt_of) describe exactly what the next transaction sees."""
    head = chain.blocks.head.timestamp
    chain.pending_timestamp = head
    return head


def accrued(pool, tx) -> int:
    """Interest a transaction credited to `pool`'s reserve when it accrued."""
    return sum(e.interest for e in tx.decode_logs(pool.Accrue))


def position_state(market, position_id, account, stablecoin) -> dict:
    """A position's stored state, its pool's books, and `account`'s balances."""
    pool = market.pool
    return {
        "collateral": pool.collateral_of(position_id),
        "norm": pool.normalised_debt_of(position_id),
        "reserve": pool.reserve(),
        "bad_debt": pool.bad_debt(),
        "supply": stablecoin.totalSupply(),
        "bhusd": stablecoin.balanceOf(account),
        "tokens": market.token.balanceOf(account),
    }


def assert_accounting(stablecoin, markets, chain, sender) -> None:
    """bhUSD supply + reserves == debts + bad debts, up to a few wei of rounding per
    operation, always in the protocol's favour (debts round up). Every pool accrues first,
    at the latest block's time: between accruals the debts already include interest the
    reserves are credited with only at the next accrual."""
    for m in markets.values():
        at_head_time(chain)
        m.pool.accrue(sender=sender)
    supply = stablecoin.totalSupply()
    reserves = sum(m.pool.reserve() for m in markets.values())
    debts = sum(m.pool.total_debt() for m in markets.values())
    bad = sum(m.pool.bad_debt() for m in markets.values())
    assert supply + reserves <= debts + bad
    assert debts + bad - (supply + reserves) <= 100


@pytest.fixture
def impersonate(accounts, chain):
    """An account that sends as `address` (a contract), funded with ether for gas."""

    def _impersonate(address):
        chain.set_balance(address, 10**21)
        return accounts.impersonate_account(address)

    return _impersonate


@pytest.fixture
def as_factory(impersonate, factory):
    return impersonate(factory.address)


@stateless(scope="session")
def markets(project, deployment):
    return {p.name: Market(project, p) for p in deployment.pools}


@stateless(scope="session")
def weth(markets):
    return markets["WETH"]


@stateless(scope="session")
def wbtc(markets):
    return markets["WBTC"]


@stateless(scope="session")
def vol(markets):
    return markets["VOL"]


@pytest.fixture(params=["WETH", "WBTC", "VOL"])
def market(request, markets):
    """Each test that takes `market` runs for 18, 8 and 6 decimals of collateral."""
    return markets[request.param]


def wad(x: float) -> int:
    return int(x * WAD)


# ---------------------------------------------------------- savings vault
# bhUSD only exists as pool debt, so an account gets it by borrowing from the WETH pool.

MIN_LOAN = 100 * WAD  # [wad] the pools' min debt
WETH_PER_BHUSD = 1_000 * WAD  # [wad] borrow 1 bhUSD per 1/1000 WETH: LTV 33 % at 3,000 USD


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


# A collateral token with the faults a pool must refuse: a transfer fee (the pool gets
# less than it asked for) and `False` returned instead of a revert (by transfers, or by
# approve alone). Tests only.
QUIRKY_TOKEN = """
# pragma version 0.4.3
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
fee_bps: public(uint256)
failing: public(bool)
approve_failing: public(bool)

@deploy
def __init__(_decimals: uint8):
    self.decimals = _decimals

@external
def mint(_to: address, _amount: uint256):
    self.balanceOf[_to] += _amount
    self.totalSupply += _amount

@external
def approve(_spender: address, _amount: uint256) -> bool:
    if self.approve_failing:
        return False
    self.allowance[msg.sender][_spender] = _amount
    return True

@external
def set_approve_failing(_failing: bool):
    self.approve_failing = _failing

@external
def set_fee_bps(_fee_bps: uint256):
    self.fee_bps = _fee_bps

@external
def set_failing(_failing: bool):
    self.failing = _failing

@external
def transfer(_to: address, _amount: uint256) -> bool:
    if self.failing:
        return False
    self.balanceOf[msg.sender] -= _amount
    self.balanceOf[_to] += _amount
    return True

@external
def transferFrom(_from: address, _to: address, _amount: uint256) -> bool:
    if self.failing:
        return False
    self.allowance[_from][msg.sender] -= _amount
    fee: uint256 = _amount * self.fee_bps // 10000
    self.balanceOf[_from] -= _amount
    self.balanceOf[_to] += _amount - fee
    self.totalSupply -= fee
    return True
"""


def compile_inline(source: str, name: str):
    """A deployable ape ContractContainer for Vyper source that lives only in a test."""
    import vyper
    from ape.contracts import ContractContainer
    from ethpm_types import ContractType

    out = vyper.compile_code(source, output_formats=["abi", "bytecode"])
    return ContractContainer(
        ContractType(
            contractName=name, abi=out["abi"], deploymentBytecode={"bytecode": out["bytecode"]}
        )
    )


@pytest.fixture(scope="module")
def quirky(project, factory, weth, admin):
    """(token, pool): a pool on QUIRKY_TOKEN created through the factory, priced by the
    WETH feed, with WETH's risk parameters."""
    token = compile_inline(QUIRKY_TOKEN, "QuirkyToken").deploy(18, sender=admin)
    tx = factory.create_pool(token, weth.feed, weth.pool.risk_params(), 3600, 5000, sender=admin)
    return token, project.MarginPool.at(tx.return_value)
