"""The demo's shared pieces: its settings, the `DemoContext` every step reads and writes,
its error, and the helpers steps share (sending without waiting, node calls, the keeper's run).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_typing import HexStr
from web3 import Web3

from bulkhead import artifacts
from bulkhead.chain import Sender
from bulkhead.client import Client
from bulkhead.deploy import Deployment
from bulkhead.errors import BulkheadError
from bulkhead.eth.fees import offer as fee_offer
from bulkhead.eth.rpc import Rpc, RpcError
from bulkhead.eth.send import Refused, Tx, send_unlocked
from bulkhead.keeper.tx import KEEPER_DEV_ACCOUNT

BORROWERS = 6  # dev accounts 1..6; account 0 deploys and moves prices
KEEPER_ACCOUNT = KEEPER_DEV_ACCOUNT  # dev account 7 (after the borrowers) runs the keeper
CRASH_STEPS = 3
CRASH_STEP = Decimal("0.08")  # each crash step, per pool
POSITIONS_PER_POOL = 20
# borrowed share of the max LTV limit, in per mille: from careful to nearly at the limit
LEVERAGE = (250, 400, 500, 600, 700, 800, 850, 900, 950, 970)
POSITION_USD = (1_500, 40_000)  # collateral value of one position [USD], drawn uniformly
DROP = {"WETH": Decimal("0.12"), "WBTC": Decimal("0.10"), "VOL": Decimal("0.22")}
DEFAULT_DROP = Decimal("0.10")
TIME_PASSES = 90 * 86400  # [seconds] long enough for the reserves to pass their targets
GAS = {"mint": 150_000, "approve": 100_000, "open": 400_000}  # limits, not estimates


SAVERS = 3  # borrowers who deposit half of their bhUSD into the savings vault


class DemoError(BulkheadError, RuntimeError):
    """A demo step could not finish; the message is one line."""


@dataclass
class PlannedPosition:
    pool: str
    owner: str
    collateral: int  # [collateral units]
    debt: int  # [wad]
    leverage: int  # [per mille of max LTV]
    id: int = 0


@dataclass
class DemoContext:
    w3: Web3
    rpc_url: str
    admin: Sender
    borrowers: list[str]
    rng: random.Random
    log: Callable[[str], None]
    manifest: str | None = None
    deployment: Deployment | None = None
    client: Client | None = None
    positions: list[PlannedPosition] = field(default_factory=list)
    prices_before: dict[str, int] = field(default_factory=dict)  # [wad]
    notes: list[str] = field(default_factory=list)
    keeper: Any = None
    extra: dict[str, Any] = field(default_factory=dict)  # what later steps report

    @property
    def deployed(self) -> Deployment:
        if self.deployment is None:
            raise DemoError("no deployment yet: the deploy step must run first")
        return self.deployment

    @property
    def c(self) -> Client:
        if self.client is None:
            raise DemoError("no deployment yet: the deploy step must run first")
        return self.client


def send_all(ctx: DemoContext, calls: list[tuple[str, Any, int, str]]) -> list[Any]:
    """Send `(from, contract call, gas limit, label)` without waiting, then check every
    receipt; DemoError naming the first that failed. Unlocked dev accounts only."""
    w3 = ctx.w3
    base = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
    txs = [
        Tx(s, fn.address, fn._encode_transaction_data(), gas, label) for s, fn, gas, label in calls
    ]
    try:
        sent = send_unlocked(Rpc(w3.provider), txs, {}, fee_offer(base, 10**9))
    except Refused as exc:  # refused before mining (e.g. by the node's own checks)
        raise DemoError(f"{exc.tx.label}: the node refused the transaction: {exc.error}") from None
    hashes = [(h, fn, sender, label) for h, (sender, fn, _, label) in zip(sent, calls)]
    receipts = []
    for tx_hash, fn, sender, label in hashes:
        receipt = w3.eth.wait_for_transaction_receipt(
            HexStr(tx_hash), timeout=120, poll_latency=0.05
        )
        if receipt["status"] != 1:
            try:
                fn.call({"from": sender})
                reason = "reverted"
            except Exception as exc:
                reason = str(exc)
            raise DemoError(f"{label} failed in block {receipt['blockNumber']}: {reason}")
        receipts.append(receipt)
    return receipts


def _rpc(ctx: DemoContext, method: str, params: list) -> Any:
    try:
        return Rpc(ctx.w3.provider).request(method, params)
    except RpcError as exc:
        raise DemoError(f"the node does not support {method}: {exc.message}") from None


def _vault(ctx: DemoContext) -> Any:
    return artifacts.contract(ctx.w3, "SavingsVault", ctx.deployed.vault)


def _run_keeper(ctx: DemoContext) -> None:
    ctx.keeper.run_until_idle(max_steps=30)
    m = ctx.keeper.metrics
    ctx.log(f"  keeper: {m.done['liquidate']} liquidations, {m.adjustments} adjustments so far")
