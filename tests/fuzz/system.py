"""The whole Bulkhead system on titanoboa, deployed by the users' own recipe.

`deploy_system` runs `bulkhead.deploy.deploy_on`, the recipe `bulkhead deploy`, the demo
and the ape tests run through `bulkhead.deploy.deploy`, with `BoaBackend` in place of web3:
the same steps in the same order (bhUSD, the `MarginPool` blueprint, the factory, the lens,
`PositionAutomation` and the `SavingsVault` named in the factory, then every pool through
`PoolFactory.create_pool` with the parameters, reserve target, controls and steward rules of
`bulkhead/configs/local.toml`). Only the transport differs: titanoboa's in-process EVM
instead of a JSON-RPC node, which makes stateful fuzzing about fifteen times faster. The
contract files are the same too (snekmate from site-packages), compiled by titanoboa.
"""

from __future__ import annotations

import os
import sysconfig
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import boa

from bulkhead import deploy as recipe
from bulkhead.artifacts import DEPLOYABLE
from bulkhead.deploy import Config, Deployment, PoolConfig
from bulkhead.risk import RiskParams

ROOT = Path(__file__).resolve().parents[2]
# `make mutate` (tests/mutation) points the suites at a mutated copy of contracts/
CONTRACTS = Path(os.environ.get("BULKHEAD_CONTRACTS") or ROOT / "contracts").resolve()
FEED_DECIMALS = 8

boa.interpret.set_search_paths([str(CONTRACTS), sysconfig.get_paths()["purelib"]])


def deployer(name: str):
    """The compiled contract `name`: a deployable's name (`artifacts.DEPLOYABLE`) or a path
    under contracts/ without `.vy`."""
    return _compiled(DEPLOYABLE.get(name, f"{name}.vy"))


@cache
def _compiled(path: str):
    return boa.load_partial(str(CONTRACTS / path))


@dataclass
class BoaMarket:
    """One pool with its token and feed."""

    name: str
    pool: object
    token: object
    feed: object
    decimals: int
    config: PoolConfig

    @property
    def unit(self) -> int:
        return 10**self.decimals

    @property
    def scale(self) -> int:
        return 10 ** (18 - self.decimals)

    @property
    def params(self) -> RiskParams:
        return RiskParams(*self.pool.risk_params())

    def set_price_wad(self, price: int) -> None:
        """Post a new round with `price` [wad] (feed answers have 8 decimals)."""
        self.feed.set_answer(price // 10 ** (18 - FEED_DECIMALS))

    def fund(self, account: str, amount: int) -> None:
        with boa.env.prank(account):
            self.token.mint(account, amount)
            self.token.approve(self.pool.address, 2**256 - 1)


@dataclass
class BoaSystem:
    admin: str
    stablecoin: object
    factory: object
    lens: object
    blueprint: str
    markets: dict[str, BoaMarket]
    automation: object
    vault: object
    actors: tuple = ()  # set by whoever deploys for a test
    steward: str = ""  # the risk steward, when one is named (`factory.set_steward`)
    backend: BoaBackend | None = None  # what deployed it; `create_pool` adds pools through it
    deployment: Deployment | None = None  # the recipe's manifest of it (`deploy_on`)


class BoaBackend:
    """`bulkhead.eth.backend.Backend` on titanoboa: every step is sent by `admin`
    (`boa.env.prank`), and the contract objects it deploys are kept for the system."""

    def __init__(self, admin: str):
        self.address = str(admin)
        self._contracts: dict[tuple[str, str], object] = {}

    def contract(self, name: str, address: str):
        """The contract `name` at `address`: the object deployed here, or a new handle."""
        key = (name, str(address).lower())
        if key not in self._contracts:
            self._contracts[key] = deployer(name).at(address)
        return self._contracts[key]

    def adopt(self, name: str, contract) -> None:
        """Keep `contract` (deployed by a test, e.g. an exotic token) as what `name` at its
        address is, so that a market built on it holds that object, with its own ABI."""
        self._contracts[(name, str(contract.address).lower())] = contract

    def chain_id(self) -> int:
        return boa.env.evm.patch.chain_id

    def is_local(self) -> bool:
        return True  # an in-process EVM: nothing but this process ever sees it

    def first_block(self) -> int:
        return boa.env.evm.patch.block_number  # titanoboa does not mine a block per call

    def block_hash(self, number: int) -> str:
        return ""  # no node to tell this chain from another

    def deploy(self, name: str, *args) -> str:
        with boa.env.prank(self.address):
            contract = deployer(name).deploy(*args)
        self._contracts[(name, str(contract.address).lower())] = contract
        return str(contract.address)

    def deploy_blueprint(self, name: str) -> str:
        with boa.env.prank(self.address):
            return str(deployer(name).deploy_as_blueprint().address)

    def transact(self, name: str, address: str, function: str, *args) -> None:
        with boa.env.prank(self.address):
            getattr(self.contract(name, address), function)(*args)

    def call(self, name: str, address: str, function: str, *args):
        return getattr(self.contract(name, address), function)(*args)


def deploy_system(names: tuple[str, ...] = ("WETH", "WBTC", "VOL")) -> BoaSystem:
    """Deploy the system with the pools `names` of the local config, in that order, by
    `bulkhead.deploy.deploy_on`."""
    full = Config.load()
    by_name = {p.name: p for p in full.pools}
    admin = boa.env.generate_address("admin")
    boa.env.set_balance(admin, 10**21)
    backend = BoaBackend(admin)
    config = Config(tuple(by_name[name] for name in names), full.vault)
    deployment = recipe.deploy_on(backend, config)
    markets = {info.name: _market(backend, info, by_name[info.name]) for info in deployment.pools}
    return BoaSystem(
        admin,
        backend.contract("Stablecoin", deployment.stablecoin),
        backend.contract("PoolFactory", deployment.factory),
        backend.contract("PoolLens", deployment.lens),
        deployment.pool_blueprint,
        markets,
        backend.contract("PositionAutomation", deployment.automation),
        backend.contract("SavingsVault", deployment.vault),
        backend=backend,
        deployment=deployment,
    )


def create_pool(system: BoaSystem, cfg: PoolConfig, token=None, feed=None) -> BoaMarket:
    """Create one more pool through the factory (`bulkhead.deploy.create_pool`), optionally on
    a given token or feed; like a pool just created by governance, it has no controls."""
    if token is not None:
        system.backend.adopt("MockToken", token)
        cfg = replace(cfg, collateral=str(token.address))
    if feed is not None:
        system.backend.adopt("MockAggregator", feed)
        cfg = replace(cfg, feed=str(feed.address))
    info = recipe.create_pool(system.backend, system.factory.address, cfg)
    market = _market(system.backend, info, cfg)
    system.markets[cfg.name] = market
    return market


def _market(backend: BoaBackend, info: recipe.PoolInfo, cfg: PoolConfig) -> BoaMarket:
    return BoaMarket(
        info.name,
        backend.contract("MarginPool", info.address),
        backend.contract("MockToken", info.collateral),
        backend.contract("MockAggregator", info.feed),
        info.collateral_decimals,
        cfg,
    )
