"""Sending the keeper's transactions: its own nonces, EIP-1559 fees, bumps, receipts.

`TxManager` keeps the next nonce itself (one `eth_getTransactionCount` per step to notice
a nonce used outside the bot, and a resync and one retry when the node says a nonce is
taken), sends EIP-1559 transactions in batches capped at a maximum fee, and on each `poll`
collects receipts. A transaction pending for `stuck_blocks` blocks or `stuck_seconds` is
simulated again: still valid, it is replaced at the same nonce with fees at least 12.5 %
higher (never above the cap); no longer valid (another keeper got there first), it is
replaced by a 21,000-gas transfer to itself that frees the nonce.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eth_account import Account
from web3 import Web3

from bulkhead.errors import BulkheadError
from bulkhead.eth import accounts
from bulkhead.eth.accounts import KEEPER_DEV_ACCOUNT
from bulkhead.eth.fees import bumped_fees, initial_fees
from bulkhead.eth.rpc import Rpc, RpcError, ok, quantity, to_int

CANCEL_GAS = 21_000


class SendError(BulkheadError, RuntimeError):
    """The node refused a transaction; `reason` is its message."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------ signers


class Signer:
    """Turns a fully specified transaction into the request that sends it."""

    address: str

    def request(self, tx: dict[str, Any]) -> tuple[str, list[Any]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address})"


class KeySigner(Signer):
    """A local private key; it signs here and is never printed or logged."""

    def __init__(self, private_key: str | bytes):
        self._account = Account.from_key(private_key)
        self.address = self._account.address

    def request(self, tx: dict[str, Any]) -> tuple[str, list[Any]]:
        signed = self._account.sign_transaction({**tx, "type": 2})
        return "eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()]


class NodeSigner(Signer):
    """A dev account the node holds unlocked (Anvil, Hardhat)."""

    def __init__(self, address: str):
        self.address = Web3.to_checksum_address(address)

    def request(self, tx: dict[str, Any]) -> tuple[str, list[Any]]:
        body = {"from": self.address, "to": tx["to"], "data": tx["data"]}
        for key in ("value", "gas", "nonce", "maxFeePerGas", "maxPriorityFeePerGas"):
            body[key] = quantity(tx[key])
        return "eth_sendTransaction", [body]


def resolve_signer(
    w3: Web3,
    account: int | None = None,
    keystore: str | Path | None = None,
    private_key: str | None = None,
    password: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Signer:
    """The keeper's account, by the package's one resolver (`bulkhead.eth.accounts`): on a
    local chain without a choice, dev account KEEPER_DEV_ACCOUNT, a keeper of its own, not
    the account that deploys and borrows by default."""
    identity = accounts.identify(
        w3,
        account=account,
        keystore=keystore,
        private_key=private_key,
        env=env,
        password=password,
        default_account=KEEPER_DEV_ACCOUNT,
    )
    return NodeSigner(identity.address) if identity.key is None else KeySigner(identity.key)


# ---------------------------------------------------------------- pending


@dataclass(frozen=True)
class TxRequest:
    to: str
    data: str
    gas: int
    label: str  # kind of action, "approve" or "cancel"
    payload: Any = None
    value: int = 0


@dataclass
class Pending:
    """One nonce of ours in flight, with every hash sent for it."""

    label: str
    payload: Any
    tx: dict[str, Any]
    hashes: list[str]
    sent_at: float  # monotonic time of the last (re)send
    sent_block: int
    cancel_reason: str | None = None  # set when we replaced it by a self-transfer
    bumps: int = 0

    @property
    def nonce(self) -> int:
        return self.tx["nonce"]


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    status: int
    block: int
    gas_used: int
    effective_gas_price: int
    to: str | None
    logs: list[dict]

    @classmethod
    def from_rpc(cls, raw: dict) -> Receipt:
        return cls(
            tx_hash=raw["transactionHash"],
            status=to_int(raw["status"]),
            block=to_int(raw["blockNumber"]),
            gas_used=to_int(raw["gasUsed"]),
            effective_gas_price=to_int(raw.get("effectiveGasPrice") or "0x0"),
            to=Web3.to_checksum_address(raw["to"]) if raw.get("to") else None,
            logs=raw.get("logs") or [],
        )

    @property
    def gas_cost(self) -> int:
        return self.gas_used * self.effective_gas_price


@dataclass
class Outcome:
    pending: Pending
    status: Literal["mined", "reverted", "cancelled", "dropped"]
    receipt: Receipt | None = None
    reason: str = ""

    @property
    def gas_cost(self) -> int:
        return self.receipt.gas_cost if self.receipt else 0


@dataclass
class TxManager:
    rpc: Rpc
    signer: Signer
    chain_id: int
    max_fee: int | None = None  # [wei per gas] cap on every transaction
    priority_fee: int | None = None  # [wei per gas]; None = the node's suggestion
    stuck_blocks: int = 3
    stuck_seconds: float = 30.0
    log: Callable[..., None] = lambda *a, **k: None
    next_nonce: int | None = None
    gas_limit: int | None = None  # [gas] the latest block's gas limit, as last read
    in_flight: dict[int, Pending] = field(default_factory=dict)
    counters: dict[str, int] = field(
        default_factory=lambda: {
            "sent": 0,
            "bumps": 0,
            "cancels": 0,
            "nonce_resyncs": 0,
            "fee_capped": 0,
        }
    )
    _orphans: list[Outcome] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.signer.address

    # ------------------------------------------------------------ nonces

    def sync_nonce(self, force: bool = False) -> None:
        """Take the node's pending count when it is ahead of ours (someone else used our
        account), or when nothing of ours is in flight (or `force`) and it differs."""
        chain = to_int(self.rpc.request("eth_getTransactionCount", [self.address, "pending"]))
        if self.next_nonce is None:
            self.next_nonce = chain
            return
        if chain > self.next_nonce or ((force or not self.in_flight) and chain != self.next_nonce):
            self.log("nonce_resync", ours=self.next_nonce, node=chain)
            self.counters["nonce_resyncs"] += 1
            self.next_nonce = chain
            # ours at or above the node's count are gone from its pool (a restarted node)
            for nonce in [n for n in self.in_flight if n >= chain]:
                p = self.in_flight.pop(nonce)
                self._orphans.append(Outcome(p, "dropped", None, "dropped by the node"))

    # -------------------------------------------------------------- fees

    def base_fee(self) -> int:
        block = self.rpc.request("eth_getBlockByNumber", ["latest", False])
        if block.get("gasLimit"):
            self.gas_limit = to_int(block["gasLimit"])
        return to_int(block.get("baseFeePerGas") or "0x0")

    def tip(self) -> int:
        if self.priority_fee is not None:
            return self.priority_fee
        return to_int(self.rpc.request("eth_maxPriorityFeePerGas"))

    def quote(self) -> tuple[int, int, int] | None:
        """(base fee, max fee, priority fee) for a transaction now; None above the cap."""
        base = self.base_fee()
        fees = initial_fees(base, self.tip(), self.max_fee)
        if fees is None:
            return None
        return base, fees[0], fees[1]

    # -------------------------------------------------------------- send

    def _tx(self, item: TxRequest, nonce: int, fees: tuple[int, int]) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "to": Web3.to_checksum_address(item.to),
            "data": item.data,
            "value": item.value,
            "gas": item.gas,
            "nonce": nonce,
            "maxFeePerGas": fees[0],
            "maxPriorityFeePerGas": fees[1],
        }

    def send(self, item: TxRequest, fees: tuple[int, int] | None = None) -> Pending:
        """Send one transaction at our next nonce; SendError if the node refuses it."""
        (result,) = self.send_batch([item], fees)
        if isinstance(result, SendError):
            raise result
        return result

    def send_batch(
        self, items: Sequence[TxRequest], fees: tuple[int, int] | None = None
    ) -> list[Pending | SendError]:
        """Send `items` at consecutive nonces in one round trip, in order.

        A nonce the node says is taken: resync and send those items again, once. A nonce
        refused for another reason, below one that was accepted, is filled with a
        self-transfer so the later transactions are not held back.
        """
        if not items:
            return []
        if self.next_nonce is None:
            self.sync_nonce()
        if fees is None:
            quote = self.quote()
            if quote is None:
                return [SendError("base fee above the max fee")] * len(items)
            fees = (quote[1], quote[2])
        results: list[Pending | SendError | None] = [None] * len(items)
        todo = list(range(len(items)))
        for attempt in (0, 1):
            first = self.next_nonce
            assert first is not None  # dev: synced above
            txs = {i: self._tx(items[i], first + k, fees) for k, i in enumerate(todo)}
            responses = self.rpc.batch([self.signer.request(txs[i]) for i in todo])
            # blocks count toward `stuck_blocks` from here: an automining node mines while
            # the batch arrives
            head = to_int(self.rpc.request("eth_blockNumber"))
            retry: list[int] = []
            refused: list[int] = []
            top = first - 1
            for i, response in zip(todo, responses):
                tx = txs[i]
                if isinstance(response, RpcError):
                    if attempt == 0 and _nonce_problem(response.message):
                        retry.append(i)
                        self.log("nonce_conflict", nonce=tx["nonce"], reason=response.message)
                    else:
                        results[i] = SendError(response.message)
                        refused.append(tx["nonce"])
                    continue
                pending = Pending(
                    items[i].label, items[i].payload, tx, [response], time.monotonic(), head
                )
                self.in_flight[tx["nonce"]] = pending
                self.counters["sent"] += 1
                results[i] = pending
                top = max(top, tx["nonce"])
            self.next_nonce = top + 1
            for nonce in refused:
                if nonce < top:
                    self._fill(nonce, fees, head)
            if not retry:
                break
            self.sync_nonce(force=True)
            todo = retry
        for i in todo:
            if results[i] is None:
                results[i] = SendError("nonce taken twice")
        return results  # type: ignore[return-value]

    def _fill(self, nonce: int, fees: tuple[int, int], head: int) -> None:
        tx = self._tx(TxRequest(self.address, "0x", CANCEL_GAS, "cancel"), nonce, fees)
        try:
            tx_hash = self.rpc.request(*self.signer.request(tx))
        except RpcError as exc:
            self.log("gap_fill_refused", nonce=nonce, reason=exc.message)
            return
        self.in_flight[nonce] = Pending("cancel", None, tx, [tx_hash], time.monotonic(), head)
        self.log("gap_filled", nonce=nonce)

    # -------------------------------------------------------------- poll

    def poll(self, still_valid: Callable[[Pending], str | None] | None = None) -> list[Outcome]:
        """Collect receipts; replace stuck transactions. `still_valid(p)` returns None when
        `p` would still succeed now, else the revert reason."""
        outcomes, self._orphans = self._orphans, []
        if not self.in_flight:
            return outcomes
        count, head = self.rpc.batch(
            [("eth_getTransactionCount", [self.address, "latest"]), ("eth_blockNumber", [])]
        )
        mined_count, head = to_int(ok(count)), to_int(ok(head))
        done = [p for n, p in sorted(self.in_flight.items()) if n < mined_count]
        if done:
            hashes = [h for p in done for h in p.hashes]
            receipts = dict(
                zip(hashes, self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes]))
            )
            for p in done:
                outcome = self._outcome(p, receipts)
                if outcome is not None:
                    outcomes.append(outcome)
                    del self.in_flight[p.nonce]
        now = time.monotonic()
        for nonce in sorted(self.in_flight):
            p = self.in_flight[nonce]
            if nonce < mined_count:
                continue
            if now - p.sent_at >= self.stuck_seconds or head - p.sent_block >= self.stuck_blocks:
                self._unstick(p, head, still_valid)
        return outcomes

    def _outcome(self, p: Pending, receipts: dict[str, Any]) -> Outcome | None:
        for tx_hash in reversed(p.hashes):
            raw = receipts.get(tx_hash)
            if raw is None or isinstance(raw, RpcError):
                continue
            receipt = Receipt.from_rpc(raw)
            if p.cancel_reason is not None and receipt.to == self.address:
                return Outcome(p, "cancelled", receipt, p.cancel_reason)
            if p.label == "cancel":
                return Outcome(p, "cancelled", receipt, "nonce gap filled")
            return Outcome(p, "mined" if receipt.status == 1 else "reverted", receipt)
        known = self.rpc.batch([("eth_getTransactionByHash", [h]) for h in p.hashes])
        if any(k is not None and not isinstance(k, RpcError) for k in known):
            return None  # the node knows it; the receipt is not there yet
        # the nonce is used, by none of our hashes: someone else sent at our nonce
        return Outcome(p, "dropped", None, "nonce used outside the keeper")

    def _unstick(
        self, p: Pending, head: int, still_valid: Callable[[Pending], str | None] | None
    ) -> None:
        reason = None
        if still_valid is not None and p.cancel_reason is None and p.label != "cancel":
            reason = still_valid(p)
        fees = bumped_fees(
            p.tx["maxFeePerGas"],
            p.tx["maxPriorityFeePerGas"],
            self.base_fee(),
            self.tip(),
            self.max_fee,
        )
        if fees is None:
            self.counters["fee_capped"] += 1
            self.log("bump_capped", nonce=p.nonce, max_fee=p.tx["maxFeePerGas"], cap=self.max_fee)
            p.sent_at, p.sent_block = (
                time.monotonic(),
                head,
            )  # wait another period before trying again
            return
        tx = dict(p.tx)
        tx["maxFeePerGas"], tx["maxPriorityFeePerGas"] = fees
        if reason is not None:
            # the action would revert now: free the nonce as cheaply as possible
            tx.update({"to": self.address, "data": "0x", "value": 0, "gas": CANCEL_GAS})
        try:
            tx_hash = self.rpc.request(*self.signer.request(tx))
        except RpcError as exc:
            self.log("replace_refused", nonce=p.nonce, reason=exc.message)
            p.sent_at, p.sent_block = time.monotonic(), head
            return
        if reason is not None:
            p.cancel_reason = reason
            self.counters["cancels"] += 1
        else:
            self.counters["bumps"] += 1
        p.bumps += 1
        self.log(
            "fee_bump" if reason is None else "cancel",
            nonce=p.nonce,
            label=p.label,
            max_fee=fees[0],
            priority_fee=fees[1],
            old_max_fee=p.tx["maxFeePerGas"],
            reason=reason,
        )
        p.tx, p.sent_at, p.sent_block = tx, time.monotonic(), head
        p.hashes.append(tx_hash)


def _nonce_problem(message: str) -> bool:
    m = message.lower()
    return (
        "nonce too low" in m
        or "already known" in m
        or "nonce has already been used" in m
        or ("replacement" in m and "underpriced" in m)
    )
