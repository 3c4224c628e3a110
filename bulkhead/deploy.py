"""The one deployment function: tests, scripts, the CLI and the demo all call `deploy`.

It deploys bhUSD, the `MarginPool` blueprint and the `PoolFactory`, hands bhUSD's
ownership to the factory (two steps), deploys the `SavingsVault` and names it in the
factory, and creates one pool per configured collateral (with its reserve target), with
mock tokens and feeds on local chains. It returns a `Deployment`, which is also the
manifest written to disk as JSON.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from web3 import Web3

from bulkhead.chain import Sender
from bulkhead.errors import BulkheadError
from bulkhead.risk import (
    MAX_GRACE_PERIOD,
    MAX_HAIRCUT,
    STEWARD_COOLDOWN_BOUNDS,
    WAD,
    RiskParams,
    fee_per_second,
    validate,
)
from bulkhead.vault import (
    DEFAULT_RESERVE_TARGET,
    validate_reserve_target,
    validate_stream_period,
)

if TYPE_CHECKING:
    from bulkhead.eth.backend import Backend

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "local.toml"
MANIFEST_VERSION = 1


class ConfigError(BulkheadError, ValueError):
    """A deployment config or manifest that cannot be used; the message is one line."""


def _wad(amount: Any) -> int:
    return int(Decimal(str(amount)) * WAD)


@dataclass(frozen=True)
class PoolConfig:
    name: str
    collateral: str  # "mock" or an address
    feed: str  # "mock" or an address
    params: RiskParams
    heartbeat: int  # [seconds]
    max_jump_bps: int  # [bps]
    decimals: int = 18  # of a mock collateral
    feed_decimals: int = 8  # of a mock feed
    price: Decimal = Decimal(0)  # [USD] first answer of a mock feed
    reserve_target: int | None = None  # [wad] None: the vault table's, else the factory's
    position_debt_cap: int | None = None  # [wad] None: the debt ceiling
    grace_period: int = 0  # [seconds] liquidations wait this long after an unpause
    # what the risk steward may do to the haircut: ceiling [bps], step [bps], cooldown
    # [seconds]; None: no steward rules for this pool
    steward_rules: tuple[int, int, int] | None = None

    @classmethod
    def from_dict(cls, raw: dict) -> PoolConfig:
        try:
            params = RiskParams(
                max_ltv=int(raw["max_ltv_bps"]),
                liquidation_threshold=int(raw["liquidation_threshold_bps"]),
                liquidation_bonus=int(raw["liquidation_bonus_bps"]),
                liquidation_fee=int(raw.get("liquidation_fee_bps", 0)),
                liquidation_tip=_wad(raw.get("liquidation_tip", 0)),
                target_health=_wad(raw["target_health"]),
                min_debt=_wad(raw["min_debt"]),
                debt_ceiling=_wad(raw["debt_ceiling"]),
                stability_fee=fee_per_second(float(raw.get("stability_fee_yearly", 0))),
            )
            pool = cls(
                name=str(raw["name"]),
                collateral=str(raw.get("collateral", "mock")),
                feed=str(raw.get("feed", "mock")),
                params=params,
                heartbeat=int(raw.get("heartbeat", 3600)),
                max_jump_bps=int(raw.get("max_jump_bps", 5000)),
                decimals=int(raw.get("decimals", 18)),
                feed_decimals=int(raw.get("feed_decimals", 8)),
                price=Decimal(str(raw.get("price", 0))),
                reserve_target=_wad(raw["reserve_target"]) if "reserve_target" in raw else None,
                position_debt_cap=_wad(raw["position_debt_cap"])
                if "position_debt_cap" in raw
                else None,
                grace_period=int(raw.get("grace_period", 0)),
                steward_rules=(
                    int(raw["steward_max_haircut_bps"]),
                    int(raw["steward_max_step_bps"]),
                    int(raw["steward_cooldown"]),
                )
                if "steward_max_haircut_bps" in raw
                else None,
            )
        except KeyError as missing:
            raise ConfigError(f"pool {raw.get('name', '?')!r}: missing key {missing}") from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ConfigError(f"pool {raw.get('name', '?')!r}: {exc}") from None
        try:
            validate(params)
        except ValueError as exc:
            raise ConfigError(f"pool {pool.name!r}: {exc}") from None
        for key in ("collateral", "feed"):
            value = getattr(pool, key)
            if value != "mock" and not Web3.is_address(value):
                raise ConfigError(f"pool {pool.name!r}: {key} is neither 'mock' nor an address")
        if pool.feed == "mock" and pool.price <= 0:
            raise ConfigError(f"pool {pool.name!r}: a mock feed needs a positive price")
        if pool.reserve_target is not None:
            try:
                validate_reserve_target(pool.reserve_target)
            except ValueError as exc:
                raise ConfigError(f"pool {pool.name!r}: {exc}") from None
        problem = _controls_problem(pool)
        if problem:
            raise ConfigError(f"pool {pool.name!r}: {problem}")
        return pool


def _controls_problem(pool: PoolConfig) -> str | None:
    """What the factory would refuse of a pool's controls and steward rules, in words."""
    if pool.position_debt_cap is not None and pool.position_debt_cap > pool.params.debt_ceiling:
        return "position_debt_cap is above debt_ceiling"
    if not 0 <= pool.grace_period <= MAX_GRACE_PERIOD:
        return f"grace_period must be between 0 and {MAX_GRACE_PERIOD} seconds"
    if pool.steward_rules is not None:
        ceiling, step, cooldown = pool.steward_rules
        low, high = STEWARD_COOLDOWN_BOUNDS
        if not 0 <= ceiling <= MAX_HAIRCUT:
            return f"steward_max_haircut_bps must be between 0 and {MAX_HAIRCUT}"
        if not 0 < step <= ceiling:
            return "steward_max_step_bps must be above 0 and at most steward_max_haircut_bps"
        if not low <= cooldown <= high:
            return f"steward_cooldown must be between {low} and {high} seconds"
    return None


DEFAULT_STREAM_PERIOD = 86_400  # [seconds]


@dataclass(frozen=True)
class VaultConfig:
    stream_period: int = DEFAULT_STREAM_PERIOD  # [seconds]
    reserve_target: int = DEFAULT_RESERVE_TARGET  # [wad] for every pool without its own

    @classmethod
    def from_dict(cls, raw: Any) -> VaultConfig:
        if not isinstance(raw, dict):
            raise ConfigError("config [vault] is not a table")
        try:
            vault = cls(
                stream_period=int(raw.get("stream_period", DEFAULT_STREAM_PERIOD)),
                reserve_target=_wad(raw["reserve_target"])
                if "reserve_target" in raw
                else DEFAULT_RESERVE_TARGET,
            )
            validate_stream_period(vault.stream_period)
            validate_reserve_target(vault.reserve_target)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ConfigError(f"config [vault]: {exc}") from None
        return vault


@dataclass(frozen=True)
class Config:
    pools: tuple[PoolConfig, ...]
    vault: VaultConfig = VaultConfig()

    @classmethod
    def load(cls, path: str | Path | None = None) -> Config:
        path = Path(path) if path else DEFAULT_CONFIG
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                raw = yaml.safe_load(text)
            else:
                raw = tomllib.loads(text)
        except Exception as exc:  # a syntax error in a user's file: one line
            raise ConfigError(f"config {path} is not valid: {exc}") from None
        if not isinstance(raw, dict) or not raw.get("pools"):
            raise ConfigError(f"config {path} has no pools")
        pools = tuple(PoolConfig.from_dict(p) for p in raw["pools"])
        names = [p.name for p in pools]
        if len(set(names)) != len(names):
            raise ConfigError(f"config {path}: pool names repeat")
        return cls(pools, VaultConfig.from_dict(raw.get("vault", {})))

    def reserve_target(self, pool: PoolConfig) -> int:
        """[wad] the pool's own reserve target, else the one of the [vault] table."""
        return self.vault.reserve_target if pool.reserve_target is None else pool.reserve_target

    @property
    def uses_mocks(self) -> bool:
        return any(p.collateral == "mock" or p.feed == "mock" for p in self.pools)


@dataclass
class PoolInfo:
    name: str
    address: str
    collateral: str
    collateral_decimals: int
    feed: str
    oracle: dict  # the guard's settings: it lives inside the pool (modules/oracle_guard.vy)
    params: dict  # RiskParams as a dict, integers in contract units
    mock: bool
    reserve_target: int = DEFAULT_RESERVE_TARGET  # [wad] kept; the rest is swept to the vault


@dataclass
class Deployment:
    """The deployment manifest."""

    chain_id: int
    deploy_block: int
    deployer: str
    stablecoin: str
    factory: str
    pool_blueprint: str
    lens: str
    automation: str
    vault: str
    pools: list[PoolInfo] = field(default_factory=list)
    version: int = MANIFEST_VERSION
    # the deploy block's hash: tells this chain from another node's with the same chain id and
    # the same addresses (a dev node restarted and deployed again); "" in older manifests
    deploy_block_hash: str = ""

    def pool(self, name_or_address: str) -> PoolInfo:
        for p in self.pools:
            if (
                p.name.lower() == name_or_address.lower()
                or p.address.lower() == name_or_address.lower()
            ):
                return p
        known = ", ".join(p.name for p in self.pools)
        raise ConfigError(f"unknown pool {name_or_address!r} (known: {known})")

    def to_dict(self) -> dict:
        """The manifest as JSON data: each pool lists its risk parameters at its top level."""
        data = asdict(self)
        for pool in data["pools"]:
            pool.update(pool.pop("params"))
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json() + "\n")
        tmp.replace(path)

    @classmethod
    def from_dict(cls, raw: Any) -> Deployment:
        if not isinstance(raw, dict):
            raise ConfigError("manifest is not a JSON object")
        try:
            pools = [_pool_info(p) for p in raw["pools"]]
            deployment = cls(
                chain_id=int(raw["chain_id"]),
                deploy_block=int(raw["deploy_block"]),
                deployer=str(raw["deployer"]),
                stablecoin=str(raw["stablecoin"]),
                factory=str(raw["factory"]),
                pool_blueprint=str(raw["pool_blueprint"]),
                lens=str(raw["lens"]),
                automation=str(raw["automation"]),
                vault=str(raw["vault"]),
                pools=pools,
                version=int(raw.get("version", MANIFEST_VERSION)),
                deploy_block_hash=str(raw.get("deploy_block_hash", "")),
            )
        except KeyError as missing:
            raise ConfigError(f"manifest is missing {missing}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"manifest is malformed: {exc}") from None
        if deployment.version != MANIFEST_VERSION:
            raise ConfigError(f"manifest version {deployment.version} is not {MANIFEST_VERSION}")
        contracts = ("stablecoin", "factory", "pool_blueprint", "lens", "automation", "vault")
        addresses = [getattr(deployment, name) for name in contracts]
        for p in deployment.pools:
            addresses += [p.address, p.collateral, p.feed]
            if not isinstance(p.reserve_target, int) or p.reserve_target < 0:
                raise ConfigError(f"manifest pool {p.name!r} has a malformed reserve target")
            if not all(isinstance(v, int) and v >= 0 for v in p.params.values()):
                raise ConfigError(f"manifest pool {p.name!r} has malformed risk parameters")
        for address in addresses:
            if not Web3.is_address(address):
                raise ConfigError(f"manifest holds a malformed address {address!r}")
        if deployment.deploy_block_hash and not re.fullmatch(
            r"0x[0-9a-fA-F]{64}", deployment.deploy_block_hash
        ):
            raise ConfigError("manifest holds a malformed deploy block hash")
        return deployment

    @classmethod
    def load(cls, path: str | Path) -> Deployment:
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"no manifest at {path} (run `bulkhead deploy` first)") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"manifest {path} is not valid JSON: {exc}") from None
        return cls.from_dict(raw)


def _pool_info(raw: Any) -> PoolInfo:
    """A manifest pool entry; its risk parameters sit at its top level."""
    if not isinstance(raw, dict):
        raise TypeError("a pool entry is not an object")
    raw = dict(raw)
    params = {key: raw.pop(key) for key in RiskParams.__dataclass_fields__}
    return PoolInfo(**raw, params=params)


def _quiet(_line: str) -> None: ...


def deploy(
    w3: Web3,
    sender: Sender,
    config: Config | None = None,
    progress: Callable[[str], None] = _quiet,
    steward: str | None = None,
) -> Deployment:
    """Deploy the whole system with `sender` paying; return the manifest.

    `steward`: the risk steward to name (`factory.set_steward`), never the deployer
    (governance's haircut changes bypass the steward's rules); None names none."""
    from bulkhead.eth.backend import Web3Backend

    return deploy_on(Web3Backend(w3, sender), config, progress, steward)


def deploy_on(
    b: Backend,
    config: Config | None = None,
    progress: Callable[[str], None] = _quiet,
    steward: str | None = None,
) -> Deployment:
    """The deployment recipe on the backend `b`: what `deploy` sends to a node and what the
    fuzzer runs in titanoboa are the same steps in the same order."""
    config = config or Config.load()
    _refuse(b, config, steward)
    deploy_block = b.first_block()

    progress("deploying bhUSD")
    stablecoin = b.deploy("Stablecoin")
    progress("deploying the MarginPool blueprint")
    blueprint = b.deploy_blueprint("MarginPool")
    progress("deploying PoolFactory")
    factory = b.deploy("PoolFactory", stablecoin, blueprint)
    progress("handing bhUSD ownership to the factory")
    b.transact("Stablecoin", stablecoin, "transfer_ownership", factory)
    b.transact("PoolFactory", factory, "accept_stablecoin_ownership")
    progress("deploying PoolLens")
    lens = b.deploy("PoolLens")
    progress("deploying PositionAutomation")
    automation = b.deploy("PositionAutomation", factory, stablecoin)
    b.transact("PoolFactory", factory, "set_automation", automation)
    progress(f"deploying SavingsVault (stream period {config.vault.stream_period} s)")
    vault = b.deploy("SavingsVault", stablecoin, factory, config.vault.stream_period)
    b.transact("PoolFactory", factory, "set_vault", vault)

    deployment = Deployment(
        chain_id=b.chain_id(),
        deploy_block=deploy_block,
        deployer=b.address,
        stablecoin=stablecoin,
        factory=factory,
        pool_blueprint=blueprint,
        lens=lens,
        automation=automation,
        vault=vault,
    )
    for pool_cfg in config.pools:
        info = create_pool(b, factory, pool_cfg, progress)
        configure_pool(b, factory, info, pool_cfg, config.reserve_target(pool_cfg), progress)
        deployment.pools.append(info)
    if steward is not None:
        progress(f"naming {steward} the risk steward")
        b.transact("PoolFactory", factory, "set_steward", Web3.to_checksum_address(steward))
    deployment.deploy_block_hash = b.block_hash(deploy_block)
    return deployment


def _refuse(backend: Backend, config: Config, steward: str | None) -> None:
    """ConfigError, before anything is sent, for a deployment the recipe must not make."""
    if steward is not None:
        if not Web3.is_address(steward):
            raise ConfigError(f"the steward {steward!r} is not an address")
        if steward.lower() == backend.address.lower():
            raise ConfigError(
                "the steward must not be the deployer: governance's haircut changes bypass "
                "the steward's rules"
            )
    if config.uses_mocks and not backend.is_local():
        raise ConfigError(
            f"mock tokens and feeds are refused on chain id {backend.chain_id()} "
            "(not a local dev chain)"
        )


def configure_pool(
    backend: Backend,
    factory: str,
    info: PoolInfo,
    cfg: PoolConfig,
    reserve_target: int,
    progress: Callable[[str], None] = _quiet,
) -> None:
    """A new pool's reserve target, controls and steward rules from its config (a pool as
    `create_pool` leaves it has the default reserve target and no controls)."""

    def send(function: str, *args: Any) -> None:
        backend.transact("PoolFactory", factory, function, info.address, *args)

    if reserve_target != DEFAULT_RESERVE_TARGET:
        progress(f"{cfg.name}: reserve target {reserve_target / WAD:,.0f} bhUSD")
        send("set_reserve_target", reserve_target)
    info.reserve_target = backend.call("PoolFactory", factory, "reserve_target", info.address)
    if cfg.position_debt_cap is not None:
        progress(f"{cfg.name}: position debt cap {cfg.position_debt_cap / WAD:,.0f} bhUSD")
        send("set_position_debt_cap", cfg.position_debt_cap)
    if cfg.grace_period:
        progress(f"{cfg.name}: grace period {cfg.grace_period} s after an unpause")
        send("set_grace_period", cfg.grace_period)
    if cfg.steward_rules is not None:
        ceiling, step, cooldown = cfg.steward_rules
        progress(
            f"{cfg.name}: steward may set the haircut up to {ceiling} bps, "
            f"{step} bps a step, every {cooldown} s"
        )
        send("set_steward_rules", ceiling, step, cooldown)


def create_pool(
    backend: Backend, factory: str, cfg: PoolConfig, progress: Callable[[str], None] = _quiet
) -> PoolInfo:
    """One pool through `PoolFactory.create_pool`, with a mock token and feed where the config
    says "mock"; the pool has no controls yet (`configure_pool` sets them)."""
    collateral = cfg.collateral
    if collateral == "mock":
        progress(f"{cfg.name}: deploying mock token ({cfg.decimals} decimals)")
        collateral = backend.deploy("MockToken", cfg.name, cfg.name[:5], cfg.decimals)
    feed = cfg.feed
    if feed == "mock":
        progress(f"{cfg.name}: deploying mock feed at {cfg.price} USD")
        answer = int(cfg.price * 10**cfg.feed_decimals)
        feed = backend.deploy("MockAggregator", cfg.feed_decimals, answer, f"{cfg.name} / USD")
    collateral, feed = Web3.to_checksum_address(collateral), Web3.to_checksum_address(feed)
    progress(f"{cfg.name}: creating pool")
    backend.transact(
        "PoolFactory",
        factory,
        "create_pool",
        collateral,
        feed,
        cfg.params.as_tuple(),
        cfg.heartbeat,
        cfg.max_jump_bps,
    )
    address = backend.call("PoolFactory", factory, "pool_of", collateral)
    return PoolInfo(
        name=cfg.name,
        address=Web3.to_checksum_address(address),
        collateral=collateral,
        collateral_decimals=backend.call("MockToken", collateral, "decimals"),
        feed=feed,
        oracle={"guard": "in pool", "heartbeat": cfg.heartbeat, "max_jump_bps": cfg.max_jump_bps},
        params=asdict(cfg.params),
        mock=cfg.collateral == "mock",
    )
