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

Connection errors escape `step`; `run_keeper` (bulkhead.keeper.runner) retries with back-off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from bulkhead import artifacts, fmt
from bulkhead.deploy import ConfigError, Deployment
from bulkhead.eth.abi import Abi, Call
from bulkhead.eth.fees import effective_gas_price
from bulkhead.eth.rpc import Rpc, RpcError, to_int
from bulkhead.keeper import decide
from bulkhead.keeper.decide import (
    KINDS,
    Action,
    Batch,
    Costs,
    Kind,
    PoolState,
    Position,
    Skip,
)
from bulkhead.keeper.index import EventIndex, LogSource
from bulkhead.keeper.kinds import BHUSD, BHUSD_KINDS, BY_EVENT, TABLE, approval_key
from bulkhead.keeper.metrics import EventLog, Metrics, PoolWindow, usd
from bulkhead.keeper.planning import Due, Plan, plan
from bulkhead.keeper.tx import Outcome, Pending, SendError, Signer, TxManager, TxRequest
from bulkhead.risk import WAD, Controls, RiskParams, oracle_status, to_wad

MAX_UINT256 = 2**256 - 1
LIQUIDATION_PAGE = 5_000  # MarginPool.MAX_SCAN
LIQUIDATION_RESULTS = 1_000  # MarginPool.MAX_RESULTS
RULE_PAGE = 1_000  # PositionAutomation MAX_PAGE
# `PositionAutomation.due` reports each position's due rules as bits
DUE_BITS: tuple[tuple[Kind, int], ...] = (
    ("deleverage", 1),
    ("boost", 2),
    ("top_up", 4),
    ("stop_loss", 8),
)
# the approvals' key for our bhUSD (protections and stop-losses), beside each pool's collateral
APPROVE_GAS = 80_000
BLOCK_GAS_LIMIT = 30_000_000  # [gas] assumed until the node's latest block was read
NATIVE_POOLS = ("WETH", "ETH")
POOL_WIDE_SKIPS = (decide.PAUSED, decide.GRACE_WINDOW)  # logged per pool, not per position


@dataclass
class KeeperConfig:
    dry_run: bool = False  # simulate and report, never send
    max_fee: int | None = None  # [wei per gas] cap on the max fee of every transaction
    priority_fee: int | None = None  # [wei per gas]; None = the node's suggestion
    native_price: int | None = None  # [wad] USD per native coin; None = the WETH pool's price
    min_profit: int = 0  # [wad] USD an action must earn above its gas
    clear_under_water: bool = True  # liquidate positions under water for no bounty
    slippage_bps: int = 100  # least collateral out of a liquidation, below the expected
    stuck_blocks: int = 3  # a transaction pending this many blocks is replaced
    stuck_seconds: float = 30.0  # ... or pending this long
    receipt_wait: float = 10.0  # [seconds] a step waits at most for its receipts
    gas_margin_bps: int = 2_500  # gas limit above the estimate
    kinds: tuple[str, ...] = KINDS  # which actions this keeper takes
    log_chunk: int = 10_000  # blocks per eth_getLogs
    # most positions per `liquidate_many` (a pool's due liquidations go out together, also
    # bounded by the block gas limit); 1 = one `liquidate` per position
    batch_size: int = decide.MAX_BATCH
    # a fleet worker's share (bulkhead.keeper.fleet): act only on the positions `owns(pool,
    # id)` accepts, and send only while `fence()` says the share is still ours (None: all)
    owns: Callable[[str, int], bool] | None = None
    fence: Callable[[], bool] | None = None


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


@dataclass
class _PoolCalls:
    """The calls a step makes for one pool, encoded once."""

    price_status: Call
    risk_params: Call
    rate: Call
    paused: Call
    controls: Call
    keeper_collateral: Call
    automation_allowance: Call


class Keeper:
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
        self._calls: dict[str, _PoolCalls] = {}
        for p in deployment.pools:
            address = checksum(p.address)
            pool = w3.eth.contract(address=address, abi=pool_abi)
            token = w3.eth.contract(address=checksum(p.collateral), abi=token_abi)
            self.pools[address], self.tokens[address], self.info[address] = pool, token, p
            self._calls[address] = _PoolCalls(
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
        self.gas: dict[str, int] = dict(decide.DEFAULT_GAS)
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

    # =============================================================== step

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
        states, due, scanned, wallet = self._discover()
        scan_seconds = time.perf_counter() - scan_started
        m.scan_seconds += scan_seconds
        m.positions_scanned += scanned
        self._watch_windows(states)
        self._track_unsafe(due, states, wallet["block"])

        skips: list[Skip] = [
            Skip(
                "scan",
                a,
                0,
                decide.ORACLE_INVALID,
                oracle_status(s.status),
            )
            for a, s in states.items()
            if not s.price_ok
        ]
        owns = self.config.owns
        due = [d for d in due if d.kind in self.config.kinds and (not owns or owns(d.pool, d.id))]
        sent = 0
        the_plan = None
        if due:
            quote = self.tx.quote()
            the_plan = plan(
                due,
                states,
                self._positions(due),
                self.index.rules(),
                wallet["bhusd"],
                wallet["collateral"],
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
                sent, late = self._execute(the_plan, (quote[1], quote[2]), wallet["allowance"])
                skips += late
        skip_counts = self._report_skips(skips)
        outcomes = self._wait(self.config.receipt_wait) if self.tx.in_flight else []
        self._record(outcomes)
        self._sync_counters()
        m.cycles += 1
        closed = {s.name: s.closed for s in states.values() if s.closed}
        report = StepReport(
            block=head,
            scanned=scanned,
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
            scanned=scanned,
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

    def run_until_idle(self, max_steps: int = 20) -> list[StepReport]:
        """Step until a step sends nothing and nothing is in flight (tests, the demo)."""
        reports = []
        for _ in range(max_steps):
            report = self.step()
            reports.append(report)
            if not report.sent and not self.tx.in_flight:
                break
        return reports

    # ========================================================== discovery

    def _check_chain(self) -> int:
        """The head; starts the index over when the chain went back or changed under it."""
        index = self.index
        requests: list[tuple[str, list]] = [("eth_blockNumber", [])]
        if index.synced >= 0:
            requests.append(("eth_getBlockByNumber", [hex(index.synced), False]))
        results = self.rpc.batch(requests)
        head = to_int(_ok(results[0]))
        if index.synced >= 0:
            block = results[1]
            changed = head < index.synced or block is None or isinstance(block, RpcError)
            changed = changed or block["hash"] != index.synced_hash
            if changed:
                self.log("index_reset", synced=index.synced, head=head)
                self.metrics.index_resets += 1
                index.reset()
        return head

    def _discover(self) -> tuple[dict[str, PoolState], list[Due], int, dict[str, Any]]:
        """Pool states, what the views say is due, how many ids they covered, our balances:
        one JSON-RPC batch (plus one call per 1,000 liquidatable ids found, rarely)."""
        requests: list[tuple[str, list]] = []
        decoders: list[Callable[[Any], None]] = []
        raw: dict[str, Any] = {}
        views: list[tuple[str, str, int, Call]] = []  # kind, pool, start, call

        def add(call: Call, key: str) -> None:
            requests.append(call.request())

            def decode(result: Any, call: Call = call, key: str = key) -> None:
                raw[key] = call.decode(result)

            decoders.append(decode)

        add(self._bhusd_balance, "bhusd")
        bhusd_kinds = [k for k in BHUSD_KINDS if k in self.config.kinds]
        if (
            BHUSD not in self.approved
            and bhusd_kinds
            and any(p.rule_ids(*bhusd_kinds) for p in self.index.pools.values())
        ):
            add(self._bhusd_allowance, f"{BHUSD}:allowance")
        kinds = [k for k, _bit in DUE_BITS if k in self.config.kinds]
        scanned = 0
        for address, pool_index in self.index.pools.items():
            calls = self._calls[address]
            add(calls.price_status, f"{address}:price_status")
            add(calls.risk_params, f"{address}:risk_params")
            add(calls.rate, f"{address}:rate")
            add(calls.paused, f"{address}:paused")
            add(calls.controls, f"{address}:controls")
            if pool_index.boosts and "boost" in self.config.kinds:
                add(calls.keeper_collateral, f"{address}:collateral")
                if address not in self.approved:
                    add(calls.automation_allowance, f"{address}:allowance")
            pool = self.pools[address]
            for start in range(1, pool_index.count + 1, LIQUIDATION_PAGE):
                views.append(
                    (
                        "liquidate",
                        address,
                        start,
                        Call.of(pool.functions.positions_to_liquidate(start, LIQUIDATION_PAGE)),
                    )
                )
            scanned += pool_index.count
            if kinds:
                for start in _windows(pool_index.rule_ids(*kinds), RULE_PAGE):
                    views.append(
                        (
                            "rules",
                            address,
                            start,
                            Call.of(self.automation.functions.due(address, start, RULE_PAGE)),
                        )
                    )
        for i, (_kind, _address, _start, call) in enumerate(views):
            add(call, f"view:{i}")
        # the views saw this block or an earlier one; its time judges the grace windows
        requests.append(("eth_getBlockByNumber", ["latest", False]))

        def decode_block(result: Any) -> None:
            block = _ok(result)
            raw["block"], raw["time"] = to_int(block["number"]), to_int(block["timestamp"])

        decoders.append(decode_block)
        results = self.rpc.batch(requests)
        self.metrics.view_calls += len(views)
        for decode, result in zip(decoders, results):
            decode(result)

        states: dict[str, PoolState] = {}
        for address, info in self.info.items():
            price, status = raw[f"{address}:price_status"]
            if status == 0:
                self.prices[address] = price
            controls = Controls(*raw[f"{address}:controls"])
            self.controls[address] = controls
            states[address] = PoolState(
                address=address,
                name=info.name,
                params=RiskParams(*raw[f"{address}:risk_params"]),
                scale=to_wad(info.collateral_decimals),
                price=price if status == 0 else 0,
                status=status,
                rate=raw[f"{address}:rate"],
                paused=raw[f"{address}:paused"],
                grace_end=controls.grace_end,
                now=raw["time"],
            )
        due: list[Due] = []
        for i, (kind, address, _start, _call) in enumerate(views):
            found = raw[f"view:{i}"]
            if kind == "liquidate":
                due += [Due("liquidate", address, pid) for pid in found]
                while len(found) == LIQUIDATION_RESULTS:  # the view stopped at 1,000: go on after
                    call = Call.of(
                        self.pools[address].functions.positions_to_liquidate(
                            found[-1] + 1, LIQUIDATION_PAGE
                        )
                    )
                    found = call.decode(self.rpc.request(*call.request()))
                    self.metrics.view_calls += 1
                    due += [Due("liquidate", address, pid) for pid in found]
            else:
                for pid, rules in found:
                    due += [
                        Due(k, address, pid) for k, bit in DUE_BITS if rules & bit and k in kinds
                    ]
        wallet = {
            "block": raw["block"],
            "bhusd": raw["bhusd"],
            "collateral": {
                a: raw[f"{a}:collateral"] for a in self.pools if f"{a}:collateral" in raw
            },
            "allowance": {
                a: raw[f"{a}:allowance"] for a in (*self.pools, BHUSD) if f"{a}:allowance" in raw
            },
        }
        for address, allowance in wallet["allowance"].items():
            if allowance >= 2**255:
                self.approved.add(address)
        return states, due, scanned, wallet

    def _positions(self, due: list[Due]) -> dict[tuple[str, int], Position]:
        out: dict[tuple[str, int], Position] = {}
        missing: list[Due] = []
        for d in due:
            pos = self.index.position(d.pool, d.id)
            if pos is None:
                missing.append(d)
            else:
                out[(d.pool, d.id)] = pos
        if missing:  # the view saw a block the index has not: read those positions directly
            calls = []
            for d in missing:
                f = self.pools[d.pool].functions
                calls += [
                    Call.of(f.owner_of(d.id)),
                    Call.of(f.collateral_of(d.id)),
                    Call.of(f.normalised_debt_of(d.id)),
                ]
            results = self.rpc.batch([c.request() for c in calls])
            for k, d in enumerate(missing):
                owner, coll, norm = (calls[3 * k + j].decode(results[3 * k + j]) for j in range(3))
                out[(d.pool, d.id)] = Position(d.pool, d.id, owner, coll, norm)
                self.log("index_miss", pool=self.info[d.pool].name, id=d.id)
        return out

    def _watch_windows(self, states: dict[str, PoolState]) -> None:
        """Log once when a pool's liquidations close (paused, or a grace window with its end)
        and when they open again; keep each pool's window in the metrics."""
        for address, s in states.items():
            closed = s.closed
            window = (closed, s.grace_end if closed == decide.GRACE_WINDOW else 0)
            self.metrics.windows[s.name] = PoolWindow(
                closed or "open",
                s.grace_end if closed == decide.GRACE_WINDOW else 0,
                s.grace_left,
            )
            before = self.windows.get(address)
            if window == before:
                continue
            self.windows[address] = window
            if closed == decide.PAUSED:
                self.log(
                    "pool_paused",
                    pool=s.name,
                    detail="no liquidations or boosts until the pool is unpaused and its grace "
                    "window has passed; stop-losses, protections and top-ups go on",
                    grace_period_s=self.controls[address].grace_period,
                )
            elif closed == decide.GRACE_WINDOW:
                self.log(
                    "grace_window",
                    pool=s.name,
                    grace_end=s.grace_end,
                    ends_at=fmt.timestamp(s.grace_end),
                    seconds_left=s.grace_left,
                    detail="no liquidations until it ends; owners' rules go on",
                )
            elif before is not None:
                self.log("liquidations_open", pool=s.name, after=before[0])

    def _track_unsafe(self, due: list[Due], states: dict[str, PoolState], head: int) -> None:
        """When each unsafe position was first seen unsafe while its pool let it be
        liquidated (a pause or a grace window is not the keeper's delay)."""
        unsafe = {
            (d.pool, d.id)
            for d in due
            if d.kind == "liquidate" and d.pool in states and states[d.pool].closed is None
        }
        for key in unsafe:
            self.first_unsafe.setdefault(key, head)
        busy = self._busy()
        for key in list(self.first_unsafe):
            if key not in unsafe and key not in busy:
                del self.first_unsafe[key]

    def _busy(self) -> set[tuple[str, int]]:
        busy: set[tuple[str, int]] = set()
        for p in self.tx.in_flight.values():
            if isinstance(p.payload, Action):
                busy.add(p.payload.key)
            elif isinstance(p.payload, Batch):
                busy.update(p.payload.keys)
        return busy

    def _batch_size(self) -> int:
        """Most positions per liquidation transaction now: the configured size, within what
        fits the block gas limit at the gas per position measured so far (1: no batches)."""
        if self.config.batch_size <= 1:
            return 1
        limit = self.tx.gas_limit or BLOCK_GAS_LIMIT
        return decide.batch_capacity(limit, self.gas, self.config.batch_size)

    def _costs(self, quote: tuple[int, int, int] | None) -> Costs:
        gas_price = effective_gas_price(quote[1], quote[2], quote[0]) if quote else 0
        return Costs(
            gas_price=gas_price,
            native_price=self._native_price(),
            gas=dict(self.gas),
            min_profit=self.config.min_profit,
            clear_under_water=self.config.clear_under_water,
        )

    def _native_price(self) -> int:
        if self.config.native_price is not None:
            return self.config.native_price
        return self.prices.get(self.native_pool, 0) if self.native_pool else 0

    # ========================================================== execution

    def _request(self, action: Action | Batch) -> TxRequest:
        if isinstance(action, Batch):
            fn = self.pools[action.pool].functions.liquidate_many(
                action.ids, action.amount, action.min_out
            )
        else:
            kind = TABLE[action.kind]
            target = self.pools[action.pool] if kind.target == "pool" else self.automation
            fn = kind.encode(target, action)
        return TxRequest(fn.address, fn._encode_transaction_data(), 0, action.kind, action)

    def _fields(self, action: Action | Batch) -> dict[str, Any]:
        """How a log line names a transaction's action: its position, or a batch's."""
        if isinstance(action, Batch):
            return {
                "kind": action.kind,
                "pool": self.info[action.pool].name,
                "ids": action.ids,
                "size": len(action.actions),
                "amount": action.amount,
                "min_out": action.min_out,
            }
        return {
            "kind": action.kind,
            "pool": self.info[action.pool].name,
            "id": action.id,
            "amount": action.amount,
        }

    def _execute(
        self, the_plan: Plan, fees: tuple[int, int], allowances: dict[str, int]
    ) -> tuple[int, list[Skip]]:
        """Simulate every transaction of the plan in one batch, send those that pass in one
        batch. A liquidation batch counts as one transaction and as one failure per position."""
        late: list[Skip] = []
        waiting = self._approve(the_plan.actions, allowances, fees)
        ready: list[Action | Batch] = []
        for a in the_plan.transactions():
            if isinstance(a, Batch):  # liquidations: no approval needed
                ready.append(a)
            elif _approval_key(a) in waiting:
                late.append(Skip(a.kind, a.pool, a.id, "approving"))
            elif self.config.dry_run and self._unapproved(a, allowances):
                # a dry run sends no approval, so this action cannot be simulated: report
                # what would happen (an approval first, then the action)
                self._would_send(a, gas=0, batch=1, approve_first=True)
            else:
                ready.append(a)
        items = [self._request(a) for a in ready]
        requests: list[tuple[str, list]] = []
        for item in items:
            tx = {"from": self.address, "to": item.to, "data": item.data}
            requests += [("eth_call", [tx, "latest"]), ("eth_estimateGas", [tx, "latest"])]
        results = self.rpc.batch(requests)
        block_limit = self.tx.gas_limit or BLOCK_GAS_LIMIT
        to_send: list[TxRequest] = []
        for k, (action, item) in enumerate(zip(ready, items)):
            fields = self._fields(action)
            failed = next((r for r in results[2 * k : 2 * k + 2] if isinstance(r, RpcError)), None)
            if failed is not None:
                reason = failed.reason
                bucket = decide.classify_revert(reason)
                self.metrics.failures[bucket] += _positions(action)
                self.log("simulation_failed", **fields, reason=reason, bucket=bucket)
                continue
            estimate = to_int(results[2 * k + 1])
            # a batch near the block's gas limit gets what margin the block leaves
            gas = max(
                estimate,
                min(estimate + estimate * self.config.gas_margin_bps // 10_000, block_limit),
            )
            if self.config.dry_run:
                members = action.actions if isinstance(action, Batch) else (action,)
                for a in members:
                    self._would_send(a, gas=gas, batch=len(members))
                continue
            to_send.append(TxRequest(item.to, item.data, gas, item.label, action))
        if to_send and self.config.fence is not None and not self.config.fence():
            late += [Skip(a.kind, a.pool, a.id, "lease_lost") for a in _members(to_send)]
            to_send = []
        sent = 0
        for item, result in zip(to_send, self.tx.send_batch(to_send, fees)):
            action = item.payload
            fields = self._fields(action)
            if isinstance(result, SendError):
                self.metrics.failures["send_refused"] += _positions(action)
                self.log("send_refused", **fields, reason=result.reason)
                continue
            sent += 1
            extra = (
                {}
                if isinstance(action, Batch)
                else {"partial": action.partial, "health": action.health}
            )
            self.log(
                "sent",
                **fields,
                nonce=result.nonce,
                tx=result.hashes[-1],
                gas=item.gas,
                **extra,
                bounty_usd=usd(action.bounty),
                gas_usd=usd(action.gas_cost),
            )
        return sent, late

    def _approve(
        self, actions: list[Action], allowances: dict[str, int], fees: tuple[int, int]
    ) -> set[str]:
        """Let the automation pull our collateral for boosts (once per pool) and our bhUSD
        for protections (once); the keys (pools, BHUSD) whose approval is not mined yet."""
        keys = {_approval_key(a) for a in actions} - {None, *self.approved}
        pools = {k for k in keys if k is not None and allowances.get(k, 0) < 2**255}
        if not pools or self.config.dry_run:
            return set()
        pending_approvals = {p.payload for p in self.tx.in_flight.values() if p.label == "approve"}
        items = []
        for key in sorted(pools - pending_approvals):
            token = self.stablecoin if key == BHUSD else self.tokens[key]
            fn = token.functions.approve(self.automation.address, MAX_UINT256)
            items.append(
                TxRequest(fn.address, fn._encode_transaction_data(), APPROVE_GAS, "approve", key)
            )
        for item, result in zip(items, self.tx.send_batch(items, fees)):
            name = self._approval_name(item.payload)
            if isinstance(result, SendError):
                self.log("send_refused", kind="approve", pool=name, reason=result.reason)
            else:
                self.log(
                    "sent", kind="approve", pool=name, nonce=result.nonce, tx=result.hashes[-1]
                )
        self._record(self.tx.poll(self._still_valid))  # mined at once on an automining node
        return pools - self.approved

    def _would_send(self, a: Action, gas: int, batch: int, **extra: Any) -> None:
        """A dry run's report of one action it would send."""
        # a dry run that loops sees the same due action every pass: count it once
        if (a.kind, a.pool, a.id) not in self._simulated:
            self._simulated.add((a.kind, a.pool, a.id))
            self.metrics.simulated[a.kind] += 1
        self.log(
            "would_send",
            **self._fields(a),
            gas=gas,
            batch=batch,
            **extra,
            bounty_usd=usd(a.bounty),
            gas_usd=usd(a.gas_cost),
        )

    def _unapproved(self, action: Action | Batch, allowances: dict[str, int]) -> bool:
        """Whether the action needs an approval to the automation that we have not given."""
        key = _approval_key(action)
        return key is not None and key not in self.approved and allowances.get(key, 0) < 2**255

    def _approval_name(self, key: str) -> str:
        return BHUSD if key == BHUSD else self.info[key].name

    def _still_valid(self, p: Pending) -> str | None:
        if not isinstance(p.payload, (Action, Batch)):
            return None
        tx = {"from": self.address, "to": p.tx["to"], "data": p.tx["data"]}
        try:
            self.rpc.request("eth_call", [tx, "latest"])
        except RpcError as exc:
            return exc.reason
        return None

    def _wait(self, timeout: float) -> list[Outcome]:
        deadline = time.monotonic() + timeout
        outcomes: list[Outcome] = []
        delay = 0.01
        while True:
            outcomes += self.tx.poll(self._still_valid)
            if not self.tx.in_flight or time.monotonic() >= deadline:
                return outcomes
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    # =========================================================== outcomes

    def _record(self, outcomes: list[Outcome]) -> None:
        m = self.metrics
        native = self._native_price()
        for o in outcomes:
            p = o.pending
            m.gas_spent += o.gas_cost
            m.gas_spent_usd += o.gas_cost * native // WAD
            if p.label == "approve":
                if o.status == "mined":
                    self.approved.add(p.payload)
                self.log("approve_" + o.status, pool=self._approval_name(p.payload))
                continue
            if p.label == "cancel":
                self.log("gap_fill_" + o.status, nonce=p.nonce)
                continue
            if isinstance(p.payload, Batch):
                self._record_batch(o, p.payload)
                continue
            action: Action = p.payload
            fields = {
                "kind": action.kind,
                "pool": self.info[action.pool].name,
                "id": action.id,
                "nonce": p.nonce,
            }
            if o.status == "mined":
                receipt = o.receipt
                assert receipt is not None  # dev: a mined outcome carries its receipt
                self.gas[action.kind] = max(receipt.gas_used, self.gas[action.kind] * 7 // 8)
                bounty, result = self._earned(action, receipt.logs)
                extra = self._count_done(action, bounty, receipt.block)
                self.log(
                    "done",
                    **fields,
                    block=receipt.block,
                    bounty_usd=usd(bounty),
                    gas_used=receipt.gas_used,
                    bumps=p.bumps,
                    **extra,
                    **result,
                )
            elif o.status == "reverted":
                reason = self._why(p)
                bucket = decide.classify_revert(reason)
                m.failures[bucket] += 1
                self.log("reverted", **fields, reason=reason, bucket=bucket, gas_wei=o.gas_cost)
            elif o.status == "cancelled":
                bucket = decide.classify_revert(o.reason)
                m.failures[bucket] += 1
                self.log("cancelled", **fields, reason=o.reason, bucket=bucket, gas_wei=o.gas_cost)
            else:
                m.failures["dropped"] += 1
                self.log("dropped", **fields, reason=o.reason)

    def _count_done(self, action: Action, bounty: int, block: int) -> dict[str, Any]:
        """Count one action carried out (alone or in a batch) in the metrics; for a
        liquidation also how many blocks it came after the position turned unsafe, which
        is returned for the log line."""
        m = self.metrics
        name = self.info[action.pool].name
        m.done[action.kind] += 1
        m.bounty[action.kind] += bounty
        m.pool_done[(name, action.kind)] += 1
        m.pool_bounty[name] += bounty
        extra: dict[str, Any] = {}
        if action.kind == "liquidate":
            first = self.first_unsafe.pop(action.key, None)
            if first is not None:
                m.blocks_to_liquidation.append(block - first)
                extra["blocks_since_unsafe"] = block - first
        return extra

    def _record_batch(self, o: Outcome, batch: Batch) -> None:
        """A `liquidate_many` outcome, per position: each `Liquidate` event in the receipt is
        one liquidation done; a member without one was skipped by the pool (another keeper
        was first, or it is healthy again): a lost race. A failed batch fails every member."""
        m, p = self.metrics, o.pending
        fields = {**self._fields(batch), "nonce": p.nonce}
        size = len(batch.actions)
        if o.status == "dropped":
            m.failures["dropped"] += size
            self.log("dropped", **fields, reason=o.reason)
            return
        if o.status != "mined":
            reason = self._why(p) if o.status == "reverted" else o.reason
            bucket = decide.classify_revert(reason)
            m.failures[bucket] += size
            self.log(o.status, **fields, reason=reason, bucket=bucket, gas_wei=o.gas_cost)
            return
        receipt = o.receipt
        assert receipt is not None  # dev: a mined outcome carries its receipt
        events = self._liquidations(batch.pool, receipt.logs)
        done = [a for a in batch.actions if a.id in events]
        if len(done) >= 2:  # learn the gas per position (the fixed part stays the table's)
            each = (receipt.gas_used - self.gas["liquidate_many"]) // len(done)
            self.gas["liquidate_many_each"] = max(each, self.gas["liquidate_many_each"] * 7 // 8)
        name = self.info[batch.pool].name
        price = self.prices.get(batch.pool, 0)
        scale = to_wad(self.info[batch.pool].collateral_decimals)
        for a in done:
            args = events[a.id]
            bounty = args["collateral_out"] * scale * price // WAD - args["paid"]
            extra = self._count_done(a, bounty, receipt.block)
            self.log(
                "done",
                kind="liquidate",
                pool=name,
                id=a.id,
                nonce=p.nonce,
                block=receipt.block,
                bounty_usd=usd(bounty),
                gas_used=receipt.gas_used,
                batch=size,
                bumps=p.bumps,
                **extra,
            )
        lost = [a.id for a in batch.actions if a.id not in events]
        if lost:
            m.failures[decide.LOST_RACE] += len(lost)
            self.log(
                "batch_skipped",
                **fields,
                skipped=lost,
                bucket=decide.LOST_RACE,
                reason="skipped by the pool: liquidated first or healthy again",
            )

    def _liquidations(self, pool: str, logs: list[dict]) -> dict[int, dict[str, Any]]:
        """Position id -> `Liquidate` event arguments, of `pool`'s events in `logs`."""
        out: dict[int, dict[str, Any]] = {}
        codec = self._results["pool"]
        for log in logs:
            if Web3.to_checksum_address(log["address"]) != pool:
                continue
            decoded = codec.event(log)
            if decoded is not None and decoded[0] == "Liquidate":
                out[decoded[1]["id"]] = decoded[1]
        return out

    def _why(self, p: Pending) -> str:
        """The revert reason of a failed transaction, replayed on the latest state."""
        reason = self._still_valid(p)
        return reason if reason is not None else "reverted in its block (passes now)"

    def _earned(self, action: Action, logs: list[dict]) -> tuple[int, dict[str, Any]]:
        """[wad] USD earned by a mined action, from its event, at the pool's oracle price (a
        stop-loss at the price it ran at); and for a stop-loss, what its event says went
        where (for the log line)."""
        price = self.prices.get(action.pool, 0)
        scale = to_wad(self.info[action.pool].collateral_decimals)

        def value(amount: int) -> int:
            return amount * scale * price // WAD

        for log in logs:
            emitter = Web3.to_checksum_address(log["address"])
            codec = self._results["automation" if emitter == self.automation.address else "pool"]
            decoded = codec.event(log)
            if decoded is None or (emitter != action.pool and emitter != self.automation.address):
                continue
            name, args = decoded
            kind = BY_EVENT.get(name)
            if kind is None:
                continue
            earned = kind.earned(args, value, scale)
            if name != "StopLoss":
                return earned, {}
            return earned, {
                "price": args["price"],
                "debt_repaid": args["debt_repaid"],
                "keeper_collateral": args["keeper_collateral"],
                "owner_collateral": args["owner_collateral"],
            }
        return 0, {}

    # ============================================================ reports

    def _report_skips(self, skips: list[Skip]) -> dict[str, int]:
        """Count each skip once per episode (not once per block) and log it when it starts;
        a pool's closed window (paused, grace) is logged once for the pool instead, by
        `_watch_windows`, not once per position it holds back."""
        current: set[tuple[str, str, int, str]] = set()
        counts: dict[str, int] = {}
        for s in skips:
            key = (s.kind, s.pool, s.id, s.reason)
            current.add(key)
            counts[s.reason] = counts.get(s.reason, 0) + 1
            if key not in self._last_skips:
                self.metrics.skips[s.reason] += 1
                if s.reason in POOL_WIDE_SKIPS:
                    continue
                self.log(
                    "skip",
                    kind=s.kind,
                    pool=self.info[s.pool].name,
                    id=s.id,
                    reason=s.reason,
                    detail=s.detail,
                )
        self._last_skips = current
        self.unfunded = [s for s in skips if s.reason == decide.INSUFFICIENT_BHUSD]
        return counts

    def _sync_counters(self) -> None:
        c, m = self.tx.counters, self.metrics
        m.txs_sent = c["sent"]
        m.fee_bumps = c["bumps"]
        m.cancels = c["cancels"]
        m.nonce_resyncs = c["nonce_resyncs"]
        m.fee_capped = c["fee_capped"]
        m.rpc_round_trips = self.rpc.round_trips
        m.rpc_requests = self.rpc.requests


def _members(items: list[TxRequest]) -> list[Action]:
    """The actions that transactions stand for (a batch's each)."""
    return [
        a
        for t in items
        for a in (t.payload.actions if isinstance(t.payload, Batch) else (t.payload,))
    ]


def _positions(action: Action | Batch) -> int:
    """How many positions a transaction's action stands for."""
    return len(action.actions) if isinstance(action, Batch) else 1


def _ok(value: Any) -> Any:
    if isinstance(value, RpcError):
        raise value
    return value


def _approval_key(action: Action | Batch) -> str | None:
    """What an action needs the automation to pull from us (`kinds.approval_key`)."""
    return approval_key(action.kind, action.pool)


def _windows(ids: list[int], page: int) -> list[int]:
    """Start ids of pages of `page` ids that cover every id in sorted `ids`."""
    starts: list[int] = []
    for i in ids:
        if not starts or i >= starts[-1] + page:
            starts.append(i)
    return starts
