"""The simulation: a node, a deployment, a population, keepers, and a price path driven
block by block.

`Simulation` does it in stages that `run()` (one scenario) and `bulkhead.simulate.sweep`
(many scenarios from one snapshot) share:

    start      an embedded Anvil (free port, automine off, FIFO ordering, enough dev
               accounts) unless `rpc_url` names a local dev node
    deploy     `bulkhead.deploy.deploy` with the chosen config plus a side pool `FUND`
               (a $1 mock collateral no scenario moves) that keepers borrow their working
               bhUSD from, so that keeper capital never sits in a pool under test
    prepare    governance parameter changes (`factory.set_risk_params`) and haircuts
               (`factory.set_haircut`), the population (mint, approve, open, protect and
               stop-loss rules, sent without waiting for receipts; positions open under the
               haircut and the position debt cap), the keepers' capital, and `warmup_days`
               of stability fees into each reserve
    run        per block: keepers step (in an order drawn from the seed), the risk steward
               moves haircuts (with `steward` on: `bulkhead.simulate.steward`), governance
               acts on a refused price, the feeds move, one block is mined at
               `start + block x block_time`, the recorder reads it

The oracle guard is modelled, not bypassed: a move beyond a pool's `max_jump_bps` is
refused by the pool until governance calls `factory.reset_price_anchor(pool)` (after
`anchor_reset` blocks; None waits instead until the bound widens a heartbeat later), and
the report lists each refusal and what ended it.
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Self

from web3 import Web3

from bulkhead.accounting import PoolBook, check
from bulkhead.chain import LOCAL_CHAIN_IDS, Sender
from bulkhead.client import UserError
from bulkhead.deploy import Config, ConfigError, Deployment, PoolConfig, deploy
from bulkhead.node import Anvil
from bulkhead.risk import MAX_HAIRCUT, WAD, RiskParams, to_wad, validate
from bulkhead.simulate import keepers as keepers_mod
from bulkhead.simulate.driver import Driver, DriverError, Tx, abi, checksum, to_int
from bulkhead.simulate.population import Planned, PoolSpec, Population, plan
from bulkhead.simulate.recorder import Recorder, Tracked
from bulkhead.simulate.scenario import Replay, Scenario, load_replay, paths
from bulkhead.simulate.schema import AccountingReport, Isolation, PoolReport, Report, VaultReport
from bulkhead.simulate.steward import SimSteward
from bulkhead.steward.core import StewardConfig

FUND = "FUND"
FUND_POOL = {
    "name": FUND,
    "collateral": "mock",
    "decimals": 18,
    "feed": "mock",
    "feed_decimals": 8,
    "price": 1.0,
    "heartbeat": 7 * 86400,
    "max_jump_bps": 5000,
    "max_ltv_bps": 5000,
    "liquidation_threshold_bps": 6000,
    "liquidation_bonus_bps": 500,
    "liquidation_fee_bps": 0,
    "liquidation_tip": 0,
    "target_health": 1.1,
    "min_debt": 1.0,
    "debt_ceiling": 1e14,
    "stability_fee_yearly": 0,
}
FUND_LTV = 4  # keepers post 4x their capital in FUND collateral (25 % LTV)
NATIVE_POOLS = ("WETH", "ETH")
DEFAULT_NATIVE_PRICE = 3000 * WAD  # [wad] gas valuation without a WETH pool
GAS = {
    "mint": 120_000,
    "approve": 80_000,
    "open": 350_000,
    "operator": 80_000,
    "protect": 150_000,
    "call": 200_000,
    "sweep": 400_000,
}
MIN_KEEPER_CAPITAL = 100_000 * WAD  # [wad]
GWEI = 10**9


class SimulationError(UserError):
    """A simulation that cannot run as asked; the message is one line."""


@dataclass
class Settings:
    scenario: Scenario = field(default_factory=Scenario)
    population: Population = field(default_factory=Population)
    keepers: int = 1
    keeper_kind: str = "auto"  # auto | real: both the shipped keeper
    block_time: int = 12  # [seconds]
    seed: int = 7
    rpc_url: str | None = None
    config: str | None = None  # deployment config (default bulkhead/configs/local.toml)
    overrides: dict[str, dict[str, int]] = field(default_factory=dict)  # pool|* -> params
    anchor_reset: int | None = 1  # blocks until governance resets a refused anchor
    warmup_days: float = 30.0  # stability fees accrued into reserves before the scenario
    sweep_fees: bool = True  # after the warm-up, anyone sweeps each reserve above its target
    gas_price_gwei: float = 10.0  # base fee of every scenario block
    keeper_capital: float = 1.0  # bhUSD per keeper, as a multiple of the population's debt
    owners: int = 40  # dev accounts that own positions
    pools: tuple[str, ...] | None = None  # pools the population opens in; None = all
    stop_when_settled: bool = False  # end early once nothing moves and nothing is left
    haircuts: dict[str, int] = field(default_factory=dict)  # pool|* -> [bps] set by governance
    steward: bool = False  # the risk steward moves haircuts during the scenario
    steward_window: int = 86_400  # [seconds] of feed history per volatility estimate

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["scenario"] = {
            k: (dict(v) if isinstance(v, Mapping) else v) for k, v in out["scenario"].items()
        }
        return out


@dataclass
class PoolHandle:
    name: str
    address: str
    token: str
    feed: str
    decimals: int
    feed_decimals: int
    heartbeat: int
    max_jump_bps: int
    params: RiskParams
    haircut: int = 0  # [bps]
    position_debt_cap: int | None = None  # [wad]

    @property
    def scale(self) -> int:
        return to_wad(self.decimals)

    def wad(self, answer: int) -> int:
        return answer * to_wad(self.feed_decimals)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Simulation:
    """One node and one deployment; see the module docstring for the stages."""

    def __init__(self, settings: Settings, log: Callable[[str], None] = _stderr):
        self.s = settings
        self.log = log
        self.anvil: Anvil | None = None
        self.driver: Driver | None = None
        self.w3: Web3 | None = None
        self.deployment: Deployment | None = None
        self.pools: dict[str, PoolHandle] = {}
        self.admin = ""
        self.steward_account = ""  # the factory's risk steward (a dev account of its own)
        self.owners: list[str] = []
        self.keeper_accounts: list[str] = []
        self.planned: list[Planned] = []
        self.ids: list[int] = []
        self.timings: dict[str, float] = {}
        self.replay: Replay | None = None
        self._fifo = False

    # ------------------------------------------------------------------ node

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.driver is not None and self.anvil is None:
            # leave a user's node as we found it (it may be gone already)
            with contextlib.suppress(Exception):
                self.driver.set_automine(True)
        if self.anvil is not None:
            self.anvil.stop()
            self.anvil = None

    def start(self, keepers: int | None = None) -> None:
        started = time.monotonic()
        keepers = keepers or self.s.keepers
        if self.s.rpc_url is None:
            accounts = max(50, 2 + self.s.owners + keepers)
            self.anvil = Anvil(accounts=accounts, extra_args=["--order", "fifo"]).start()
            rpc_url = self.anvil.rpc_url
            self._fifo = True
            self.log(f"embedded Anvil on {rpc_url} ({accounts} dev accounts)")
        else:
            rpc_url = self.s.rpc_url
        self.rpc_url = rpc_url
        self.driver = Driver(rpc_url)
        try:
            chain_id = to_int(self.driver.call("eth_chainId"))
        except Exception:  # noqa: BLE001 - any failure to answer is one line
            raise SimulationError(f"node not reachable at {rpc_url}") from None
        if chain_id not in LOCAL_CHAIN_IDS:
            raise SimulationError(
                f"the simulator runs on local dev chains only, not on chain id {chain_id}"
            )
        from bulkhead.client import connect

        self.w3 = connect(rpc_url)
        dev = [checksum(a) for a in self.driver.call("eth_accounts")]
        if len(dev) < 3 + keepers:
            raise SimulationError(
                f"the node has {len(dev)} dev accounts; the simulator needs at least "
                f"{3 + keepers} (admin, owners, the steward, {keepers} keeper(s))"
            )
        self.admin = dev[0]
        self.keeper_accounts = dev[len(dev) - keepers :]
        self.steward_account = dev[len(dev) - keepers - 1]
        owners = min(self.s.owners, len(dev) - 2 - keepers)
        self.owners = dev[1 : 1 + owners]
        self.timings["node"] = time.monotonic() - started

    # ------------------------------------------------------------------ deploy

    def deploy(self) -> None:
        started = time.monotonic()
        assert self.w3 is not None and self.driver is not None
        config = Config.load(self.s.config)
        if any(p.name.upper() == FUND for p in config.pools):
            raise SimulationError(f"the config already has a pool named {FUND} (reserved)")
        config = replace(config, pools=config.pools + (PoolConfig.from_dict(FUND_POOL),))
        self.driver.set_automine(True)
        self.deployment = deploy(
            self.w3, Sender(self.w3, self.admin), config, steward=self.steward_account
        )
        self.driver.set_automine(False)
        pool_abi = abi("MarginPool")
        feed_abi = abi("MockAggregator")
        for info in self.deployment.pools:
            params_raw, dec_raw, controls_raw = self.driver.calls(
                [
                    (info.address, pool_abi.data("risk_params")),
                    (info.feed, feed_abi.data("decimals")),
                    (info.address, pool_abi.data("controls")),
                ]
            )
            controls = pool_abi.result("controls", controls_raw)
            self.pools[info.name] = PoolHandle(
                name=info.name,
                address=checksum(info.address),
                token=checksum(info.collateral),
                feed=checksum(info.feed),
                decimals=info.collateral_decimals,
                feed_decimals=int(feed_abi.result("decimals", dec_raw)),
                heartbeat=int(info.oracle["heartbeat"]),
                max_jump_bps=int(info.oracle["max_jump_bps"]),
                params=RiskParams(*pool_abi.result("risk_params", params_raw)),
                haircut=int(controls[1]),
                position_debt_cap=int(controls[0]),
            )
        self.timings["deploy"] = time.monotonic() - started
        names = ", ".join(n for n in self.pools if n != FUND)
        self.log(f"deployed pools {names} (and {FUND} for keeper capital)")

    @property
    def sim_pools(self) -> list[PoolHandle]:
        return [p for name, p in self.pools.items() if name != FUND]

    @property
    def population_pools(self) -> list[PoolHandle]:
        if self.s.pools is None:
            return self.sim_pools
        wanted = {n.lower() for n in self.s.pools}
        found = [p for p in self.sim_pools if p.name.lower() in wanted]
        if len(found) != len(wanted):
            known = ", ".join(p.name for p in self.sim_pools)
            raise SimulationError(f"unknown pool in {', '.join(self.s.pools)} (known: {known})")
        return found

    @property
    def native_pool(self) -> str | None:
        return next((p.name for p in self.sim_pools if p.name.upper() in NATIVE_POOLS), None)

    def checkpoint(self) -> None:
        """Remember the chain and the pools' parameters, for `rewind`."""
        assert self.driver is not None
        kept = {n: (p.params, p.haircut) for n, p in self.pools.items()}
        self._checkpoint = (self.driver.snapshot(), kept)

    def rewind(self) -> None:
        """Back to the last `checkpoint` (which stays usable for another rewind)."""
        assert self.driver is not None
        snapshot, kept = self._checkpoint
        self.driver.revert(snapshot)
        for name, (params, haircut) in kept.items():
            self.pools[name].params = params
            self.pools[name].haircut = haircut
        self._checkpoint = (self.driver.snapshot(), kept)

    # ------------------------------------------------------------------ prepare

    def set_params(self, overrides: Mapping[str, Mapping[str, int]]) -> None:
        """Governance: `factory.set_risk_params` for every pool an override names."""
        assert self.driver is not None and self.deployment is not None
        factory = abi("PoolFactory")
        txs = []
        for pool in self.sim_pools:
            changes = {**overrides.get("*", {}), **_lookup(overrides, pool.name)}
            if not changes:
                continue
            try:
                params = replace(pool.params, **changes)
            except TypeError as exc:
                raise SimulationError(
                    f"unknown risk parameter in {sorted(changes)}: {exc}"
                ) from None
            try:
                validate(params)
            except ValueError as exc:
                raise SimulationError(f"pool {pool.name}: {exc} ({_describe(changes)})") from None
            pool.params = params
            txs.append(
                Tx(
                    self.admin,
                    self.deployment.factory,
                    factory.data("set_risk_params", pool.address, params.as_tuple()),
                    GAS["call"],
                    f"set_risk_params {pool.name}",
                )
            )
        if txs:
            self.driver.settle(txs)

    def set_haircuts(self, haircuts: Mapping[str, int]) -> None:
        """Governance: `factory.set_haircut` [bps] for every pool `haircuts` names (`*`: all)."""
        assert self.driver is not None and self.deployment is not None
        factory = abi("PoolFactory")
        txs = []
        for pool in self.sim_pools:
            found = [v for k, v in haircuts.items() if k.lower() == pool.name.lower()]
            bps = found[0] if found else haircuts.get("*")
            if bps is None or bps == pool.haircut:
                continue
            if not 0 <= bps <= MAX_HAIRCUT:
                raise SimulationError(
                    f"pool {pool.name}: a haircut of {bps} bps is outside 0..{MAX_HAIRCUT}"
                )
            pool.haircut = bps
            txs.append(
                Tx(
                    self.admin,
                    self.deployment.factory,
                    factory.data("set_haircut", pool.address, bps),
                    GAS["call"],
                    f"set_haircut {pool.name}",
                )
            )
        if txs:
            self.driver.settle(txs)

    def prepare(self) -> None:
        """Parameters, population, keeper capital and warm-up: the state a scenario starts in."""
        started = time.monotonic()
        if self.s.overrides:
            self.set_params(self.s.overrides)
        if self.s.haircuts:
            self.set_haircuts(self.s.haircuts)
        self.open_population()
        self.fund_keepers()
        self.warmup()
        self.timings["prepare"] = time.monotonic() - started

    def _answers(self) -> dict[str, int]:
        assert self.driver is not None
        feed = abi("MockAggregator")
        raw = self.driver.calls(
            [(p.feed, feed.data("latestRoundData")) for p in self.pools.values()]
        )
        return {
            name: int(feed.result("latestRoundData", r)[1])
            for name, r in zip(self.pools, raw, strict=True)
        }

    def open_population(self) -> None:
        assert self.driver is not None
        answers = self._answers()
        pool_abi = abi("MarginPool")
        chosen = self.population_pools
        totals = self.driver.calls([(p.address, pool_abi.data("total_debt")) for p in chosen])
        specs = [
            PoolSpec(
                p.name,
                p.wad(answers[p.name]),
                p.decimals,
                p.params,
                int(pool_abi.result("total_debt", t)),
                haircut=p.haircut,
                position_debt_cap=p.position_debt_cap,
            )
            for p, t in zip(chosen, totals, strict=True)
        ]
        try:
            self.planned = plan(self.s.population, specs, self.owners, self.s.seed)
        except ValueError as exc:
            raise SimulationError(str(exc)) from None
        token = abi("MockToken")
        need: dict[tuple[str, str], int] = {}
        for x in self.planned:
            need[(x.owner, x.pool)] = need.get((x.owner, x.pool), 0) + x.collateral
        txs = []
        for (owner, name), amount in sorted(need.items()):
            pool = self.pools[name]
            txs.append(
                Tx(
                    owner,
                    pool.token,
                    token.data("mint", owner, amount),
                    GAS["mint"],
                    f"mint {name}",
                )
            )
            txs.append(
                Tx(
                    owner,
                    pool.token,
                    token.data("approve", pool.address, amount),
                    GAS["approve"],
                    f"approve {name}",
                )
            )
        opens = [
            Tx(
                x.owner,
                self.pools[x.pool].address,
                pool_abi.data("open", x.collateral, x.debt),
                GAS["open"],
                f"open in {x.pool}",
            )
            for x in self.planned
        ]
        receipts = self.driver.settle(txs + opens)[len(txs) :]
        open_topic = pool_abi.topics["Open"]
        self.ids = []
        for x, receipt in zip(self.planned, receipts, strict=True):
            log = next(
                entry
                for entry in receipt["logs"]
                if entry["topics"][0] == open_topic
                and entry["address"].lower() == self.pools[x.pool].address.lower()
            )
            self.ids.append(int(log["topics"][1], 16))
        # a protection lives in the automation, which deleverages as the owner's operator
        assert self.deployment is not None  # dev: deployed in `prepare`
        automation = self.deployment.automation
        auto_abi = abi("PositionAutomation")
        protect = []
        operators = set()
        for x, pid in zip(self.planned, self.ids, strict=True):
            if x.protection is None and x.stop_loss is None:
                continue
            if (x.owner, x.pool) not in operators:
                operators.add((x.owner, x.pool))
                protect.append(
                    Tx(
                        x.owner,
                        self.pools[x.pool].address,
                        pool_abi.data("set_operator", automation, True),
                        GAS["operator"],
                        f"set_operator in {x.pool}",
                    )
                )
            if x.protection is not None:
                protect.append(
                    Tx(
                        x.owner,
                        automation,
                        auto_abi.data(
                            "set_protection", self.pools[x.pool].address, pid, *x.protection
                        ),
                        GAS["protect"],
                        f"set_protection in {x.pool}",
                    )
                )
            if x.stop_loss is not None:
                protect.append(
                    Tx(
                        x.owner,
                        automation,
                        auto_abi.data(
                            "set_stop_loss", self.pools[x.pool].address, pid, *x.stop_loss
                        ),
                        GAS["protect"],
                        f"set_stop_loss in {x.pool}",
                    )
                )
        if protect:
            self.driver.settle(protect)
        protected = sum(1 for x in self.planned if x.protection)
        stops = sum(1 for x in self.planned if x.stop_loss)
        debt = sum(x.debt for x in self.planned)
        self.log(
            f"opened {len(self.planned)} positions of {len({x.owner for x in self.planned})} owners "
            f"({protected} protected"
            + (f", {stops} with a stop-loss" if stops else "")
            + f"), debt {debt / WAD:,.0f} bhUSD"
        )

    def fund_keepers(self) -> None:
        """Each keeper borrows its working bhUSD against FUND collateral."""
        assert self.driver is not None
        debt = sum(x.debt for x in self.planned)
        capital = max(int(debt * self.s.keeper_capital), MIN_KEEPER_CAPITAL)
        capital -= capital % WAD
        fund = self.pools[FUND]
        price = fund.wad(self._answers()[FUND])
        coll = capital * FUND_LTV * WAD // price
        token, pool_abi = abi("MockToken"), abi("MarginPool")
        txs = []
        for k in self.keeper_accounts:
            txs += [
                Tx(k, fund.token, token.data("mint", k, coll), GAS["mint"], "mint FUND"),
                Tx(
                    k,
                    fund.token,
                    token.data("approve", fund.address, coll),
                    GAS["approve"],
                    "approve FUND",
                ),
                Tx(
                    k,
                    fund.address,
                    pool_abi.data("open", coll, capital),
                    GAS["open"],
                    "keeper capital",
                ),
            ]
        self.driver.settle(txs)
        self.keeper_capital = capital
        self.log(f"{len(self.keeper_accounts)} keeper(s) hold {capital / WAD:,.0f} bhUSD each")

    def warmup(self) -> None:
        """Let `warmup_days` pass: the feeds answer again, every pool accrues its fee."""
        assert self.driver is not None and self.deployment is not None
        seconds = int(self.s.warmup_days * 86400)
        feed, pool_abi = abi("MockAggregator"), abi("MarginPool")
        answers = self._answers()
        txs = [
            Tx(
                self.admin,
                p.feed,
                feed.data("set_answer", answers[p.name]),
                GAS["call"],
                f"feed {p.name}",
            )
            for p in self.pools.values()
        ]
        txs += [
            Tx(self.admin, p.address, pool_abi.data("accrue"), GAS["call"], f"accrue {p.name}")
            for p in self.pools.values()
        ]
        self.driver.settle(txs, skip=seconds)
        if self.s.sweep_fees and self.deployment.vault:
            factory = abi("PoolFactory")
            self.driver.settle(
                [
                    Tx(
                        self.admin,
                        self.deployment.factory,
                        factory.data("sweep", p.address),
                        GAS["sweep"],
                        f"sweep {p.name}",
                    )
                    for p in self.sim_pools
                ]
            )

    # ------------------------------------------------------------------ run

    def _fees(self) -> int:
        return int(self.s.gas_price_gwei * GWEI)

    def _set_base_fee(self, fee: int) -> None:
        assert self.driver is not None
        for method in ("anvil_setNextBlockBaseFeePerGas", "hardhat_setNextBlockBaseFeePerGas"):
            try:
                self.driver.call(method, [hex(fee)])
                return
            except DriverError:
                continue

    def run(
        self,
        scenario: Scenario | None = None,
        keepers: int | None = None,
        block_time: int | None = None,
        progress: bool = True,
        log_dir: Path | None = None,
    ) -> Report:
        """Drive one scenario from the current state; returns the report."""
        assert self.driver is not None and self.deployment is not None
        scenario = scenario or self.s.scenario
        block_time = block_time or self.s.block_time
        n_keepers = keepers or self.s.keepers
        started = time.monotonic()
        driver = self.driver
        if scenario.kind == "replay" and self.replay is None:
            self.replay = load_replay(scenario.file or "")
        sim = self.sim_pools
        path = paths(scenario, [p.name for p in sim], self.s.seed, block_time, self.replay)
        answers = self._answers()
        base = {p.name: answers[p.name] for p in sim}
        head = driver.block_number()
        t0 = to_int(driver.block(head)["timestamp"])
        native_pool = self.native_pool
        tracked = [
            Tracked(p.name, p.address, p.decimals, p.params, p.max_jump_bps, p.heartbeat)
            for p in sim
        ]
        recorder = Recorder(
            driver,
            tracked,
            self.deployment.automation,
            self.keeper_accounts[:n_keepers],
            native_pool,
            DEFAULT_NATIVE_PRICE,
        )
        recorder.load_positions(self.deployment.deploy_block, head)
        start_positions = {
            t.name: {k: (v[0], v[1]) for k, v in t.positions.items()} for t in tracked
        }
        handles = keepers_mod.make_keepers(
            self.s.keeper_kind,
            self.rpc_url,
            self.deployment,
            self.keeper_accounts[:n_keepers],
            log_dir,
            native_price=None if native_pool else DEFAULT_NATIVE_PRICE,
        )
        steward = self._steward([p.name for p in sim], log_dir) if self.s.steward else None
        market = {p.name: p.wad(base[p.name]) for p in sim}
        recorder.record(head, market, market)
        self._recorded = head
        start_views = {t.name: dict(t.last) for t in tracked}
        vault_start = self._vault_state()
        rng = random.Random(f"bulkhead-keeper-order:{self.s.seed}")
        feed_abi, factory_abi = abi("MockAggregator"), abi("PoolFactory")
        pushed = {p.name: (base[p.name], t0) for p in sim}
        scheduled: dict[int, list[str]] = {}
        refused: dict[str, dict[str, Any]] = {}
        oracle_events: list[dict[str, Any]] = []
        fee = self._fees()
        bar = _progress(scenario.blocks, progress)
        liquidations = 0
        last_move = max(
            (
                b
                for p in sim
                for b in range(1, scenario.blocks + 1)
                if path[p.name][b] != path[p.name][b - 1]
            ),
            default=0,
        )
        blocks_run = 0
        keeper_seconds = 0.0
        try:
            for b in range(1, scenario.blocks + 1):
                order = list(handles)
                rng.shuffle(order)
                k_started = time.monotonic()
                for handle in order:
                    handle.step()
                keeper_seconds += time.monotonic() - k_started
                # the steward sees the rounds up to the last block; it acts in this one
                txs = [] if steward is None else steward.step(b, t0 + b * block_time)
                for name in scheduled.pop(b, []):
                    txs.append(
                        Tx(
                            self.admin,
                            self.deployment.factory,
                            factory_abi.data("reset_price_anchor", self.pools[name].address),
                            GAS["call"],
                            f"reset_price_anchor {name}",
                        )
                    )
                    oracle_events.append(
                        {
                            "block": b,
                            "pool": name,
                            "event": "governance calls factory.reset_price_anchor",
                        }
                    )
                timestamp = t0 + b * block_time
                executed_at = dict(market)
                for p in sim:
                    answer = max(round(base[p.name] * path[p.name][b]), 1)
                    last_answer, last_time = pushed[p.name]
                    if answer != last_answer or timestamp - last_time >= p.heartbeat // 2:
                        txs.append(
                            Tx(
                                self.admin,
                                p.feed,
                                feed_abi.data("set_answer", answer),
                                GAS["call"],
                                f"feed {p.name}",
                            )
                        )
                        pushed[p.name] = (answer, timestamp)
                    market[p.name] = p.wad(answer)
                fund = self.pools[FUND]
                if timestamp - pushed.get(FUND, (0, t0))[1] >= fund.heartbeat // 2:
                    txs.append(
                        Tx(
                            self.admin,
                            fund.feed,
                            feed_abi.data("set_answer", answers[FUND]),
                            GAS["call"],
                            "feed FUND",
                        )
                    )
                    pushed[FUND] = (answers[FUND], timestamp)
                if txs:
                    driver.send(txs)
                self._set_base_fee(fee)
                driver.call("evm_setNextBlockTimestamp", [hex(timestamp)])
                driver.call("evm_mine", [])
                number = driver.block_number()
                rows = recorder.record(number, market, executed_at, step=b)
                self._recorded = number
                blocks_run = b
                for p in sim:
                    row = rows[p.name]
                    liquidations += row["liquidations"]
                    status = row["oracle"]
                    if status != "ok" and p.name not in refused:
                        refused[p.name] = {"block": b, "status": status}
                        event = {
                            "block": b,
                            "pool": p.name,
                            "event": f"pool refuses the feed: {status}",
                        }
                        if status == "price jump":
                            moved = market[p.name] / executed_at[p.name] - 1
                            event["move"] = round(moved, 4)
                            event["max_jump_bps"] = p.max_jump_bps
                            if self.s.anchor_reset is not None:
                                when = b + max(self.s.anchor_reset, 1)
                                scheduled.setdefault(when, []).append(p.name)
                                event["response"] = f"governance reset scheduled for block {when}"
                            else:
                                event["response"] = (
                                    f"none: the bound widens to {2 * p.max_jump_bps} bps once "
                                    f"{p.heartbeat} s have passed since the last anchor"
                                )
                        oracle_events.append(event)
                    elif status == "ok" and p.name in refused:
                        since = refused.pop(p.name)
                        oracle_events.append(
                            {
                                "block": b,
                                "pool": p.name,
                                "event": "pool accepts the feed again",
                                "refused_blocks": b - since["block"],
                            }
                        )
                if bar is not None:
                    bad = sum(rows[p.name]["bad_debt"] for p in sim)
                    bar.set_postfix(liquidations=liquidations, bad_debt=f"{bad:,.0f}")
                    bar.update(1)
                settled = b > last_move and not scheduled and not refused
                if (
                    self.s.stop_when_settled
                    and settled
                    and all(rows[p.name]["liquidatable"] == 0 for p in sim)
                ):
                    break
        finally:
            if bar is not None:
                bar.close()
        blocks_seconds = time.monotonic() - started
        keeper_summaries = [h.summary() for h in handles]
        end_views = {t.name: dict(t.last) for t in tracked}
        vault = self._vault_report(vault_start, head, self._recorded)
        isolation = self._isolation(scenario, tracked, start_positions, start_views, end_views)
        accounting = self._accounting(recorder)
        return {
            "version": 1,
            "seed": self.s.seed,
            "settings": {**self.s.as_json(), "keepers": n_keepers, "block_time": block_time},
            "scenario": {
                k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(scenario).items()
            }
            | {"phases": scenario.phases()},
            "chain": {
                "rpc_url": self.rpc_url,
                "embedded": self.anvil is not None,
                "fifo": self._fifo,
                "chain_id": self.deployment.chain_id,
                "deploy_block": self.deployment.deploy_block,
                "start_block": head,
                "blocks": blocks_run,
                "start_timestamp": t0,
            },
            "keepers": {
                "implementation": handles[0].implementation if handles else None,
                "count": n_keepers,
                "addresses": [h.address for h in handles],
                "capital_each": round(getattr(self, "keeper_capital", 0) / WAD, 2),
                "metrics": keeper_summaries,
            },
            "pools": [
                _pool_report(
                    t, self.pools[t.name], scenario, start_views[t.name], end_views[t.name]
                )
                for t in tracked
            ],
            "oracle_events": oracle_events,
            "events": recorder.events,
            "steward": None if steward is None else steward.report(),
            "isolation": isolation,
            "savings_vault": vault,
            "accounting": accounting,
            "timings": {
                **{k: round(v, 2) for k, v in self.timings.items()},
                "blocks": round(blocks_seconds, 2),
                "keeper_steps": round(keeper_seconds, 2),
                "per_block_ms": round(blocks_seconds / max(blocks_run, 1) * 1000, 1),
            },
            "ok": accounting["ok"],
        }

    def _steward(self, pools: Sequence[str], log_dir: Path | None) -> SimSteward:
        assert self.w3 is not None and self.deployment is not None
        config = StewardConfig(window=self.s.steward_window)
        path = log_dir / "steward.jsonl" if log_dir is not None else None
        return SimSteward(self.w3, self.deployment, self.steward_account, pools, config, path)

    # ------------------------------------------------------------------ checks

    def _isolation(
        self,
        scenario: Scenario,
        tracked: Sequence[Tracked],
        start_positions: dict[str, dict[int, tuple[int, int]]],
        start_views: dict[str, dict[str, int]],
        end_views: dict[str, dict[str, int]],
    ) -> dict[str, Isolation]:
        """For every pool the scenario does not move: did anything of it change?"""
        out: dict[str, Isolation] = {}
        for t in tracked:
            if scenario.moves(t.name):
                continue
            now = {k: tuple(v) for k, v in t.positions.items()}
            out[t.name] = {
                "positions_unchanged": now == start_positions[t.name],
                "reserve_unchanged": start_views[t.name]["reserve"] == end_views[t.name]["reserve"],
                "bad_debt_unchanged": start_views[t.name]["bad_debt"]
                == end_views[t.name]["bad_debt"],
                "reserve": str(end_views[t.name]["reserve"]),
                "bad_debt": str(end_views[t.name]["bad_debt"]),
            }
        return out

    def _vault_state(self) -> dict[str, int] | None:
        """The savings vault's own books: what it holds, its shares, its assets now."""
        assert self.driver is not None and self.deployment is not None
        if not getattr(self.deployment, "vault", None):
            return None
        vault = abi("SavingsVault")
        views = ("tracked_assets", "totalSupply", "totalAssets", "locked_assets")
        raw = self.driver.calls([(self.deployment.vault, vault.data(v)) for v in views])
        return {v: int(vault.result(v, r)) for v, r in zip(views, raw, strict=True)}

    def _vault_report(
        self, start: dict[str, int] | None, from_block: int, to_block: int
    ) -> VaultReport | None:
        """The vault before and after the scenario, and the covers it paid meanwhile."""
        assert self.driver is not None and self.deployment is not None
        if start is None:
            return None
        end = self._vault_state()
        assert end is not None
        vault = abi("SavingsVault")
        covers = self.driver.logs(
            [self.deployment.vault], from_block + 1, to_block, [vault.topics["Cover"]]
        )
        return {
            "address": self.deployment.vault,
            "start": {k: str(v) for k, v in start.items()},
            "end": {k: str(v) for k, v in end.items()},
            "covers": len(covers),
            "unchanged": start["tracked_assets"] == end["tracked_assets"]
            and start["totalSupply"] == end["totalSupply"]
            and not covers,
        }

    def _accounting(self, recorder: Recorder) -> AccountingReport:
        """bhUSD supply + reserves == debts + bad debts, over every pool (FUND included),
        after each pool accrued in one block (the rate from its Accrue event)."""
        assert self.driver is not None and self.deployment is not None
        pool_abi, coin = abi("MarginPool"), abi("Stablecoin")
        pools = list(self.pools.values())
        receipts = self.driver.settle(
            [
                Tx(self.admin, p.address, pool_abi.data("accrue"), GAS["call"], f"accrue {p.name}")
                for p in pools
            ]
        )
        block = to_int(receipts[-1]["blockNumber"])
        recorder.load_positions(self._recorded + 1, block)  # keeper txs mined meanwhile
        late_operations = recorder.count_events(self._recorded + 1, block)
        fund = Tracked(FUND, self.pools[FUND].address, 18, self.pools[FUND].params, 0, 0)
        fund_recorder = Recorder(self.driver, [fund], self.deployment.automation, [], None, 0)
        fund_recorder.load_positions(self.deployment.deploy_block, block)
        positions = {t.address.lower(): t.positions for t in recorder.pools.values()}
        positions[fund.address.lower()] = fund.positions
        accrue_topic = pool_abi.topics["Accrue"]
        reads = [(self.deployment.stablecoin, coin.data("totalSupply"))]
        for p in pools:
            reads += [
                (p.address, pool_abi.data("reserve")),
                (p.address, pool_abi.data("bad_debt")),
                (p.address, pool_abi.data("rate")),
            ]
        raw = self.driver.calls(reads, block)
        books = []
        for k, (p, receipt) in enumerate(zip(pools, receipts, strict=True)):
            reserve, bad_debt, rate = (
                int(pool_abi.result(fn, raw[1 + 3 * k + j]))
                for j, fn in enumerate(("reserve", "bad_debt", "rate"))
            )
            for entry in receipt["logs"]:
                decoded = pool_abi.event(entry) if entry["topics"][0] == accrue_topic else None
                if decoded is not None:
                    rate = int(decoded[1]["rate"])
            held = positions[p.address.lower()]
            norm = sum(v[1] for v in held.values())
            books.append(PoolBook(norm, rate, reserve, bad_debt, len(held) + 1))
        supply = int(coin.result("totalSupply", raw[0]))
        acc = check(supply, books, len(recorder.events) + late_operations)
        return {
            "supply": str(acc.supply),
            "reserves": str(acc.reserves),
            "debts": str(acc.debts),
            "bad_debt": str(acc.bad_debt),
            "gap_wei": acc.gap,
            "tolerance_wei": acc.tolerance,
            "ok": acc.ok,
        }


# ---------------------------------------------------------------------- helpers


def _lookup(table: Mapping[str, Any], name: str) -> Any:
    for key, value in table.items():
        if key.lower() == name.lower():
            return value
    return {}


def _describe(changes: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(changes.items()))


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="simulate", unit="block", file=sys.stderr, leave=False)


def _pool_report(
    t: Tracked,
    handle: PoolHandle,
    scenario: Scenario,
    start: Mapping[str, int],
    end: Mapping[str, int],
) -> PoolReport:
    series = t.series
    return {
        "name": t.name,
        "address": t.address,
        "moving": scenario.moves(t.name),
        "params": asdict(t.params),
        "oracle": {"heartbeat": handle.heartbeat, "max_jump_bps": handle.max_jump_bps},
        "positions": len(t.positions),
        "start": {k: str(v) for k, v in start.items()},
        "end": {k: str(v) for k, v in end.items()},
        "series": series,
    }


def run(
    settings: Settings,
    out: Path | None = None,
    progress: bool = True,
    plots: bool = True,
    log: Callable[[str], None] = _stderr,
) -> Report:
    """One simulation from a fresh deployment: report (and files in `out`, when given)."""
    from bulkhead.simulate import report as report_mod

    started = time.monotonic()
    if settings.scenario.kind == "replay":
        replay = load_replay(settings.scenario.file or "")
    else:
        replay = None
    with Simulation(settings, log) as sim:
        sim.replay = replay
        try:
            sim.start()
            sim.deploy()
            sim.prepare()
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
            result = sim.run(progress=progress, log_dir=out)
        except DriverError as exc:
            raise SimulationError(str(exc)) from None
        except ConfigError as exc:
            raise SimulationError(str(exc)) from None
    result["timings"]["total"] = round(time.monotonic() - started, 2)
    if out is not None:
        report_mod.write(result, out, plots=plots)
    return result
