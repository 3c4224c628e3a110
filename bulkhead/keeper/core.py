"""The keeper: one `step` per block (collect, discover, decide, simulate, send, collect).

A step
1. collects receipts of earlier transactions and replaces stuck ones (`TxManager.poll`);
2. brings the event index up to the head (`eth_getLogs`, one batch);
3. reads each pool's price, rate and parameters and asks the paginated views what is due,
   all in one JSON-RPC batch: `positions_to_liquidate` (5,000 ids per call),
   `PositionAutomation.due` (1,000 ids per call, only over ids that carry a rule: one view
   for protections, boosts, top-ups and stop-losses), and whether each pool is paused or in
   its grace window after an unpause (`paused()`, `controls()`): a closed pool gets no
   liquidation (logged once per window, `pool_paused` / `grace_window`, then
   `liquidations_open`), while owners' rules go on;
4. plans with `planning.plan` (pure): a pool's whole liquidations go out together as
   `liquidate_many` transactions of at most `batch_size` positions (and few enough for
   the block gas limit), everything else one transaction per action; simulates every
   transaction with `eth_call` (and estimates its gas) in one batch right before sending,
   and sends the ones that pass in one batch, each at its own nonce;
5. waits a little for the receipts and records what happened in `Metrics`.

The class is made of its parts: `Scanning` (scan.py: steps 2 and 3), `planning.plan`
(step 4's decisions), `Executing` (execute.py: simulate, approve, send) and `Recording`
(record.py: step 5), over the state `KeeperBase` (base.py) declares.

Connection errors escape `step`; `run_keeper` (bulkhead.keeper.runner) retries with back-off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from bulkhead import artifacts
from bulkhead.deploy import ConfigError, Deployment
from bulkhead.eth.abi import Abi, Call
from bulkhead.eth.rpc import Rpc
from bulkhead.keeper.base import NATIVE_POOLS, KeeperConfig, PoolCalls
from bulkhead.keeper.execute import Executing
from bulkhead.keeper.index import EventIndex, LogSource
from bulkhead.keeper.metrics import EventLog, Metrics
from bulkhead.keeper.model import DEFAULT_GAS, KINDS, Skip
from bulkhead.keeper.planning import Due, Plan, plan
from bulkhead.keeper.reasons import ORACLE_INVALID
from bulkhead.keeper.scan import Scanning
from bulkhead.keeper.tx import Signer, TxManager
from bulkhead.risk import Controls, oracle_status

__all__ = ["Keeper", "KeeperConfig", "StepReport"]


@dataclass
class StepReport:
    block: int
    scanned: int
    due: dict[str, int]
    sent: int
    outcomes: dict[str, int]
    skips: dict[str, int]
    seconds: float
    scan_seconds: float
    plan: Plan | None = field(default=None, repr=False)


class Keeper(Scanning, Executing):
    """A keeper for every pool of one deployment, sending from one account."""

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        signer: Signer,
        config: KeeperConfig | None = None,
        log: Callable[..., None] | None = None,
        metrics: Metrics | None = None,
    ):
        self.w3 = w3
        self.rpc = Rpc(w3.provider)
        self.deployment = deployment
        self.signer = signer
        self.address = signer.address
        self.config = config or KeeperConfig()
        self.log = log or EventLog()
        self.metrics = metrics or Metrics()
        pool_abi = artifacts.abi("MarginPool")
        automation_abi = artifacts.abi("PositionAutomation")
        token_abi = artifacts.abi("MockToken")  # only its ERC-20 part is used
        self.pools: dict[str, Any] = {}
        self.tokens: dict[str, Any] = {}
        self.info: dict[str, Any] = {}
        checksum = Web3.to_checksum_address
        self.automation = w3.eth.contract(
            address=checksum(deployment.automation), abi=automation_abi
        )
        self.lens = w3.eth.contract(
            address=checksum(deployment.lens), abi=artifacts.abi("PoolLens")
        )
        stablecoin = w3.eth.contract(
            address=checksum(deployment.stablecoin), abi=artifacts.abi("Stablecoin")
        )
        self.stablecoin = stablecoin
        self._bhusd_balance = Call.of(stablecoin.functions.balanceOf(self.address))
        self._bhusd_allowance = Call.of(
            stablecoin.functions.allowance(self.address, self.automation.address)
        )
        self._calls: dict[str, PoolCalls] = {}
        for p in deployment.pools:
            address = checksum(p.address)
            pool = w3.eth.contract(address=address, abi=pool_abi)
            token = w3.eth.contract(address=checksum(p.collateral), abi=token_abi)
            self.pools[address], self.tokens[address], self.info[address] = pool, token, p
            self._calls[address] = PoolCalls(
                Call.of(pool.functions.price_status()),
                Call.of(pool.functions.risk_params()),
                Call.of(pool.functions.rate()),
                Call.of(pool.functions.paused()),
                Call.of(pool.functions.controls()),
                Call.of(token.functions.balanceOf(self.address)),
                Call.of(token.functions.allowance(self.address, self.automation.address)),
            )
        self.index = EventIndex.empty(self.pools, deployment.automation, deployment.deploy_block)
        self.logs = LogSource(self.rpc, pool_abi, automation_abi, self.config.log_chunk)
        self._results = {
            "pool": Abi(pool_abi, ("Liquidate",)),
            "automation": Abi(automation_abi, ("AutoDeleverage", "Boost", "TopUp", "StopLoss")),
        }
        self.tx = TxManager(
            self.rpc,
            signer,
            deployment.chain_id,
            max_fee=self.config.max_fee,
            priority_fee=self.config.priority_fee,
            stuck_blocks=self.config.stuck_blocks,
            stuck_seconds=self.config.stuck_seconds,
            log=self.log,
        )
        self.native_pool = next(
            (a for a, p in self.info.items() if p.name.upper() in NATIVE_POOLS), None
        )
        if self.config.native_price is None and self.native_pool is None:
            raise ConfigError("no WETH pool to price gas with: give the native coin's USD price")
        self.gas: dict[str, int] = dict(DEFAULT_GAS)
        self.first_unsafe: dict[tuple[str, int], int] = {}  # position -> block first seen unsafe
        self.prices: dict[str, int] = {}  # pool -> last valid price [wad]
        self.controls: dict[str, Controls] = {}  # pool -> its risk controls at the last pass
        # pool -> why its liquidations were closed at the last pass (None: open) and the
        # grace window's end then: a change is logged once
        self.windows: dict[str, tuple[str | None, int]] = {}
        # what the automation may pull from us: pools (their collateral, for boosts) and
        # BHUSD (our bhUSD, for protections and stop-losses)
        self.approved: set[str] = set()
        self._last_skips: set[tuple[str, str, int, str]] = set()
        # the last pass's due actions skipped for want of bhUSD (the summary's `unfunded`)
        self.unfunded: list[Skip] = []
        self._simulated: set[tuple[str, str, int]] = set()  # dry run: each action once
        self.log(
            "keeper_start",
            address=self.address,
            chain_id=deployment.chain_id,
            pools=[p.name for p in deployment.pools],
            dry_run=self.config.dry_run,
            max_fee=self.config.max_fee,
        )

    def step(self) -> StepReport:
        """One pass: collect, discover, decide, simulate, send, collect."""
        m = self.metrics
        started = time.perf_counter()
        self._record(self.tx.poll(self._still_valid))
        if not self.tx.in_flight:
            self.tx.sync_nonce()

        scan_started = time.perf_counter()
        head = self._check_chain()
        m.logs_applied += self.logs.sync(self.index, head)
        scan = self._discover()
        states = scan.states
        scan_seconds = time.perf_counter() - scan_started
        m.scan_seconds += scan_seconds
        m.positions_scanned += scan.scanned
        self._watch_windows(states)
        self._track_unsafe(scan.due, states, scan.block)

        skips: list[Skip] = [
            Skip("scan", a, 0, ORACLE_INVALID, oracle_status(s.status))
            for a, s in states.items()
            if not s.price_ok
        ]
        due = [d for d in scan.due if d.kind in self.config.kinds and self._owns(d)]
        sent = 0
        the_plan = None
        if due:
            quote = self.tx.quote()
            the_plan = plan(
                due,
                states,
                self._positions(due),
                self.index.rules(),
                scan.bhusd,
                scan.collateral,
                self._costs(quote),
                in_flight=self._busy(),
                slippage_bps=self.config.slippage_bps,
                batch_size=self._batch_size(),
            )
            skips += the_plan.skips
            if quote is None:
                skips += [
                    Skip(a.kind, a.pool, a.id, "fee_cap", "base fee above the max fee")
                    for a in the_plan.actions
                ]
            elif the_plan.actions:
                sent, late = self._execute(the_plan, (quote[1], quote[2]), scan.allowance)
                skips += late
        skip_counts = self._report_skips(skips)
        outcomes = self._wait(self.config.receipt_wait) if self.tx.in_flight else []
        self._record(outcomes)
        self._sync_counters()
        m.cycles += 1
        closed = {s.name: s.closed for s in states.values() if s.closed}
        report = StepReport(
            block=head,
            scanned=scan.scanned,
            due={k: sum(1 for d in due if d.kind == k) for k in KINDS},
            sent=sent,
            outcomes={
                s: sum(1 for o in outcomes if o.status == s)
                for s in ("mined", "reverted", "cancelled", "dropped")
            },
            skips=skip_counts,
            seconds=time.perf_counter() - started,
            scan_seconds=scan_seconds,
            plan=the_plan,
        )
        self.log(
            "cycle",
            block=head,
            scanned=scan.scanned,
            scan_ms=round(scan_seconds * 1000, 2),
            due=report.due,
            sent=sent,
            in_flight=len(self.tx.in_flight),
            outcomes=report.outcomes,
            skips=skip_counts,
            # pools whose liquidations wait (paused, grace_window), only while any does
            **({"closed": closed} if closed else {}),
        )
        return report

    def _owns(self, due: Due) -> bool:
        """Whether this keeper acts on `due` (a fleet worker: only on its share)."""
        return self.config.owns is None or self.config.owns(due.pool, due.id)

    def run_until_idle(self, max_steps: int = 20) -> list[StepReport]:
        """Step until a step sends nothing and nothing is in flight (tests, the demo)."""
        reports = []
        for _ in range(max_steps):
            report = self.step()
            reports.append(report)
            if not report.sent and not self.tx.in_flight:
                break
        return reports
