"""The whole Bulkhead system on titanoboa, deployed the way `bulkhead.deploy.deploy` does it.

The same contract files are compiled (snekmate from site-packages), the `MarginPool` is
deployed as an ERC-5202 blueprint, the lens, `PositionAutomation` and the `SavingsVault` (both
named in the factory) follow in the same order, and every pool is created by
`PoolFactory.create_pool`, with the parameters of `bulkhead/configs/local.toml` (reserve
targets, position debt caps, grace periods and steward rules included). Only the transport
differs: titanoboa's in-process EVM instead of a JSON-RPC node, which makes stateful fuzzing
about fifteen times faster.
"""

from __future__ import annotations

import os
import sysconfig
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import boa

from bulkhead.deploy import Config, PoolConfig
from bulkhead.risk import RiskParams
from bulkhead.vault import DEFAULT_RESERVE_TARGET

ROOT = Path(__file__).resolve().parents[2]
# `make mutate` (tests/mutation) points the suites at a mutated copy of contracts/
CONTRACTS = Path(os.environ.get("BULKHEAD_CONTRACTS") or ROOT / "contracts").resolve()
FEED_DECIMALS = 8

boa.interpret.set_search_paths([str(CONTRACTS), sysconfig.get_paths()["purelib"]])


@cache
def deployer(name: str):
    """The compiled contract `name` (a path under contracts/ without `.vy`)."""
    return boa.load_partial(str(CONTRACTS / f"{name}.vy"))


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


def deploy_system(names: tuple[str, ...] = ("WETH", "WBTC", "VOL")) -> BoaSystem:
    """Deploy bhUSD, the pool blueprint, the factory, the lens, the automation, the savings
    vault and the named pools, as `bulkhead.deploy.deploy` does."""
    full = Config.load()
    config = {p.name: p for p in full.pools}
    admin = boa.env.generate_address("admin")
    boa.env.set_balance(admin, 10**21)
    with boa.env.prank(admin):
        stablecoin = deployer("Stablecoin").deploy()
        blueprint = deployer("MarginPool").deploy_as_blueprint()
        factory = deployer("PoolFactory").deploy(stablecoin.address, blueprint.address)
        stablecoin.transfer_ownership(factory.address)
        factory.accept_stablecoin_ownership()
        lens = deployer("PoolLens").deploy()
        automation = deployer("PositionAutomation").deploy(factory.address, stablecoin.address)
        factory.set_automation(automation.address)
        vault = deployer("SavingsVault").deploy(
            stablecoin.address, factory.address, full.vault.stream_period
        )
        factory.set_vault(vault.address)
        markets = {}
        for name in names:
            cfg = config[name]
            markets[name] = _create_pool(factory, cfg)
            target = full.vault.reserve_target if cfg.reserve_target is None else cfg.reserve_target
            if target != DEFAULT_RESERVE_TARGET:
                factory.set_reserve_target(markets[name].pool.address, target)
            _set_controls(factory, markets[name].pool.address, cfg)
    return BoaSystem(
        admin, stablecoin, factory, lens, blueprint.address, markets, automation, vault
    )


def _set_controls(factory, pool: str, cfg: PoolConfig) -> None:
    """The pool's controls and steward rules from its config, as `bulkhead.deploy` sets
    them (a new pool has none)."""
    if cfg.position_debt_cap is not None:
        factory.set_position_debt_cap(pool, cfg.position_debt_cap)
    if cfg.grace_period:
        factory.set_grace_period(pool, cfg.grace_period)
    if cfg.steward_rules is not None:
        factory.set_steward_rules(pool, *cfg.steward_rules)


def create_pool(system: BoaSystem, cfg: PoolConfig, token=None, feed=None) -> BoaMarket:
    """Create one more pool through the factory, optionally on a given token or feed."""
    with boa.env.prank(system.admin):
        market = _create_pool(system.factory, cfg, token, feed)
    system.markets[cfg.name] = market
    return market


def _create_pool(factory, cfg: PoolConfig, token=None, feed=None) -> BoaMarket:
    if token is None:
        token = deployer("mocks/MockToken").deploy(cfg.name, cfg.name[:5], cfg.decimals)
    if feed is None:
        answer = int(cfg.price * 10**FEED_DECIMALS)
        feed = deployer("mocks/MockAggregator").deploy(FEED_DECIMALS, answer, f"{cfg.name} / USD")
    factory.create_pool(
        token.address, feed.address, cfg.params.as_tuple(), cfg.heartbeat, cfg.max_jump_bps
    )
    pool = deployer("MarginPool").at(factory.pool_of(token.address))
    return BoaMarket(cfg.name, pool, token, feed, token.decimals(), cfg)
