"""The keeper's configuration and the state its parts share.

`Keeper` (core.py) is one class made of its responsibilities: `Scanning` (scan.py) reads
the chain, `planning.plan` decides, `Executing` (execute.py) simulates and sends, and
`Recording` (record.py) turns receipts into metrics. They all read the attributes
`KeeperBase` declares, which `Keeper.__init__` sets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from bulkhead.deploy import Deployment
from bulkhead.eth.abi import Abi, Call
from bulkhead.eth.rpc import Rpc, RpcError
from bulkhead.keeper.index import EventIndex, LogSource
from bulkhead.keeper.kinds import BHUSD
from bulkhead.keeper.metrics import Metrics
from bulkhead.keeper.model import KINDS, MAX_BATCH, Action, Batch, Kind, Skip
from bulkhead.keeper.reasons import GRACE_WINDOW, PAUSED
from bulkhead.keeper.tx import Pending, Signer, TxManager
from bulkhead.risk import Controls

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
APPROVE_GAS = 80_000
BLOCK_GAS_LIMIT = 30_000_000  # [gas] assumed until the node's latest block was read
NATIVE_POOLS = ("WETH", "ETH")
POOL_WIDE_SKIPS = (PAUSED, GRACE_WINDOW)  # logged per pool, not per position


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
    batch_size: int = MAX_BATCH
    # a fleet worker's share (bulkhead.keeper.fleet): act only on the positions `owns(pool,
    # id)` accepts, and send only while `fence()` says the share is still ours (None: all)
    owns: Callable[[str, int], bool] | None = None
    fence: Callable[[], bool] | None = None


@dataclass
class PoolCalls:
    """The calls a step makes for one pool, encoded once."""

    price_status: Call
    risk_params: Call
    rate: Call
    paused: Call
    controls: Call
    keeper_collateral: Call
    automation_allowance: Call


class KeeperBase:
    """The keeper's state (set by `Keeper.__init__`) and the helpers its parts share."""

    w3: Web3
    rpc: Rpc
    deployment: Deployment
    signer: Signer
    address: str
    config: KeeperConfig
    log: Callable[..., None]
    metrics: Metrics
    pools: dict[str, Any]  # pool address -> its contract
    tokens: dict[str, Any]  # pool address -> its collateral token's contract
    info: dict[str, Any]  # pool address -> its manifest entry
    automation: Any
    lens: Any
    stablecoin: Any
    _bhusd_balance: Call
    _bhusd_allowance: Call
    _calls: dict[str, PoolCalls]
    index: EventIndex
    logs: LogSource
    _results: dict[str, Abi]
    tx: TxManager
    native_pool: str | None
    gas: dict[str, int]
    first_unsafe: dict[tuple[str, int], int]  # position -> block first seen unsafe
    prices: dict[str, int]  # pool -> last valid price [wad]
    controls: dict[str, Controls]  # pool -> its risk controls at the last pass
    # pool -> why its liquidations were closed at the last pass (None: open) and the
    # grace window's end then: a change is logged once
    windows: dict[str, tuple[str | None, int]]
    # what the automation may pull from us: pools (their collateral, for boosts) and
    # BHUSD (our bhUSD, for protections and stop-losses)
    approved: set[str]
    _last_skips: set[tuple[str, str, int, str]]
    unfunded: list[Skip]  # the last pass's due actions skipped for want of bhUSD
    _simulated: set[tuple[str, str, int]]  # dry run: each action once

    def _busy(self) -> set[tuple[str, int]]:
        busy: set[tuple[str, int]] = set()
        for p in self.tx.in_flight.values():
            if isinstance(p.payload, Action):
                busy.add(p.payload.key)
            elif isinstance(p.payload, Batch):
                busy.update(p.payload.keys)
        return busy

    def _native_price(self) -> int:
        if self.config.native_price is not None:
            return self.config.native_price
        return self.prices.get(self.native_pool, 0) if self.native_pool else 0

    def _approval_name(self, key: str) -> str:
        return BHUSD if key == BHUSD else self.info[key].name

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

    def _still_valid(self, p: Pending) -> str | None:
        if not isinstance(p.payload, (Action, Batch)):
            return None
        tx = {"from": self.address, "to": p.tx["to"], "data": p.tx["data"]}
        try:
            self.rpc.request("eth_call", [tx, "latest"])
        except RpcError as exc:
            return exc.reason
        return None
