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
               of stability fees into each reserve (`bulkhead.simulate.setup`)
    run        per block: keepers step (in an order drawn from the seed), the risk steward
               moves haircuts (with `steward` on: `bulkhead.simulate.steward`), governance
               acts on a refused price, the feeds move, one block is mined at
               `start + block x block_time`, the recorder reads it (the loop's state:
               `bulkhead.simulate.blocks`; the report: `bulkhead.simulate.outcome`)

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
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from bulkhead.chain import LOCAL_CHAIN_IDS, Sender
from bulkhead.deploy import Config, ConfigError, PoolConfig, deploy
from bulkhead.node import Anvil
from bulkhead.risk import RiskParams
from bulkhead.simulate import keepers as keepers_mod
from bulkhead.simulate.base import (  # noqa: F401 (GAS, MIN_KEEPER_CAPITAL: importable from here)
    GAS,
    GWEI,
    MIN_KEEPER_CAPITAL,
    Settings,
    SimulationError,
    _stderr,
)
from bulkhead.simulate.blocks import RunState
from bulkhead.simulate.driver import Driver, DriverError, abi, checksum, to_int
from bulkhead.simulate.outcome import Outcome
from bulkhead.simulate.pools import (  # noqa: F401 (FUND_LTV, NATIVE_POOLS: importable from here)
    DEFAULT_NATIVE_PRICE,
    FUND,
    FUND_LTV,
    FUND_POOL,
    NATIVE_POOLS,
    PoolHandle,
)
from bulkhead.simulate.recorder import Recorder, Tracked
from bulkhead.simulate.scenario import Scenario, load_replay, paths
from bulkhead.simulate.schema import Report
from bulkhead.simulate.setup import Setup
from bulkhead.simulate.steward import SimSteward
from bulkhead.steward.core import StewardConfig


class Simulation(Setup, Outcome):
    """One node and one deployment; see the module docstring for the stages."""

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
        if scenario.kind == "replay" and self.replay is None:
            self.replay = load_replay(scenario.file or "")
        run = self._begin(scenario, n_keepers, block_time, log_dir)
        fee = self._fees()
        bar = _progress(scenario.blocks, progress)
        try:
            for b in range(1, scenario.blocks + 1):
                rows = self._block(run, b, fee)
                if bar is not None:
                    bad = sum(rows[p.name]["bad_debt"] for p in run.pools)
                    bar.set_postfix(liquidations=run.liquidations, bad_debt=f"{bad:,.0f}")
                    bar.update(1)
                if self.s.stop_when_settled and run.settled(b, rows):
                    break
        finally:
            if bar is not None:
                bar.close()
        return self._report(run, time.monotonic() - started)

    def _begin(
        self, scenario: Scenario, n_keepers: int, block_time: int, log_dir: Path | None
    ) -> RunState:
        """The run's start: the price paths, the recorder on the head block, the keepers
        and the steward, and what the report compares the end with."""
        assert self.driver is not None and self.deployment is not None
        sim = self.sim_pools
        path = paths(scenario, [p.name for p in sim], self.s.seed, block_time, self.replay)
        answers = self._answers()
        head = self.driver.block_number()
        t0 = to_int(self.driver.block(head)["timestamp"])
        native_pool = self.native_pool
        tracked = [Tracked(p) for p in sim]
        recorder = Recorder(
            self.driver,
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
        market = {p.name: p.wad(answers[p.name]) for p in sim}
        recorder.record(head, market, market)
        self._recorded = head
        start_views = {t.name: dict(t.last) for t in tracked}
        vault_start = self._vault_state()
        return RunState(
            scenario=scenario,
            keepers=n_keepers,
            block_time=block_time,
            pools=sim,
            path=path,
            answers=answers,
            head=head,
            t0=t0,
            tracked=tracked,
            recorder=recorder,
            handles=handles,
            steward=steward,
            start_positions=start_positions,
            start_views=start_views,
            vault_start=vault_start,
            market=market,
            rng=random.Random(f"bulkhead-keeper-order:{self.s.seed}"),
            pushed={p.name: (answers[p.name], t0) for p in sim},
        )

    def _block(self, run: RunState, b: int, fee: int) -> dict[str, dict[str, Any]]:
        """Scenario block `b`: the keepers step, the steward and governance act, the feeds
        move; the block is mined at its time and recorded. Returns the recorder's rows."""
        assert self.driver is not None and self.deployment is not None
        order = run.keeper_order()
        started = time.monotonic()
        for handle in order:
            handle.step()
        run.keeper_seconds += time.monotonic() - started
        timestamp = run.timestamp(b)
        # the steward sees the rounds up to the last block; it acts in this one
        txs = [] if run.steward is None else run.steward.step(b, timestamp)
        txs += run.resets(b, self.admin, self.deployment.factory, self.pools)
        executed_at = dict(run.market)
        txs += run.feeds(b, self.admin, self.pools[FUND])
        if txs:
            self.driver.send(txs)
        self._set_base_fee(fee)
        self.driver.call("evm_setNextBlockTimestamp", [hex(timestamp)])
        self.driver.call("evm_mine", [])
        number = self.driver.block_number()
        rows = run.recorder.record(number, run.market, executed_at, step=b)
        self._recorded = number
        run.blocks_run = b
        run.watch(b, rows, executed_at, self.s.anchor_reset)
        return rows

    def _steward(self, pools: Sequence[str], log_dir: Path | None) -> SimSteward:
        assert self.w3 is not None and self.deployment is not None
        config = StewardConfig(window=self.s.steward_window)
        path = log_dir / "steward.jsonl" if log_dir is not None else None
        return SimSteward(self.w3, self.deployment, self.steward_account, pools, config, path)


# ---------------------------------------------------------------------- helpers


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="simulate", unit="block", file=sys.stderr, leave=False)


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
