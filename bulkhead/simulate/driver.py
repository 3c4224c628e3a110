"""The simulator's hands on the node: JSON-RPC batches, many transactions without waiting
for each receipt (nonces kept here), blocks mined on demand at chosen timestamps,
snapshots; requests go through the package's one client (`bulkhead.eth.rpc`), calls and
events through its one codec (`bulkhead.eth.abi`).

The node runs with automine off while a simulation drives it: every block is mined by
`Driver.mine`, so that what lands in one block is what the simulator (and the keepers)
sent since the last one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from web3 import Web3

from bulkhead.errors import BulkheadError
from bulkhead.eth.abi import abi
from bulkhead.eth.rpc import Rpc, RpcError, to_int
from bulkhead.eth.send import Refused, Tx, send_unlocked

__all__ = ["Driver", "DriverError", "Tx", "abi", "checksum", "to_int"]


class DriverError(BulkheadError, RuntimeError):
    """The node refused or failed something the simulator needs; one line."""


class Driver:
    """JSON-RPC to one node, with the simulator's own nonces."""

    def __init__(self, rpc_url: str, timeout: float = 120.0):
        self.url = rpc_url
        self.rpc = Rpc(rpc_url, timeout=timeout)
        self.nonces: dict[str, int] = {}
        self.max_fee = 10**12  # [wei per gas] a cap well above any base fee used here

    @property
    def round_trips(self) -> int:
        return self.rpc.round_trips

    # ------------------------------------------------------------ raw calls

    def call(self, method: str, params: list | None = None) -> Any:
        try:
            return self.rpc.request(method, params or [])
        except RpcError as exc:
            raise DriverError(f"{method}: {exc.message}") from None

    def batch(self, requests_: Sequence[tuple[str, list]], strict: bool = True) -> list[Any]:
        """Results in order; with `strict`, the first error raises DriverError, otherwise an
        error is returned in place as a DriverError."""
        out: list[Any] = []
        for reply in self.rpc.batch(requests_):
            if isinstance(reply, RpcError):
                err = DriverError(f"{reply.method}: {reply.message}")
                if strict:
                    raise err
                reply = err
            out.append(reply)
        return out

    def eth_call(self, to: str, data: str, block: int | str = "latest") -> str:
        tag = hex(block) if isinstance(block, int) else block
        return self.call("eth_call", [{"to": to, "data": data}, tag])

    def calls(self, items: Sequence[tuple[str, str]], block: int | str = "latest") -> list[str]:
        tag = hex(block) if isinstance(block, int) else block
        return self.batch([("eth_call", [{"to": to, "data": data}, tag]) for to, data in items])

    # ------------------------------------------------------------ node control

    def block_number(self) -> int:
        return to_int(self.call("eth_blockNumber"))

    def block(self, number: int | str = "latest") -> dict:
        tag = hex(number) if isinstance(number, int) else number
        return self.call("eth_getBlockByNumber", [tag, False])

    def set_automine(self, on: bool) -> None:
        self.call("evm_setAutomine", [on])

    def set_block_gas_limit(self, gas: int) -> bool:
        """False when the node cannot change it (not every node can)."""
        try:
            self.call("evm_setBlockGasLimit", [hex(gas)])
        except DriverError:
            return False
        return True

    def mine(self, timestamp: int | None = None, base_fee: int | None = None) -> int:
        """Mine one block (at `timestamp`, with `base_fee`); returns its number."""
        if base_fee is not None:
            self.call("anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])
        if timestamp is not None:
            self.call("evm_setNextBlockTimestamp", [hex(timestamp)])
        self.call("evm_mine", [])
        return self.block_number()

    def pending_count(self) -> int:
        status = self.call("txpool_status")
        return to_int(status["pending"]) + to_int(status["queued"])

    def snapshot(self) -> str:
        return self.call("evm_snapshot")

    def revert(self, snapshot_id: str) -> None:
        if not self.call("evm_revert", [snapshot_id]):
            raise DriverError(f"the node could not revert to snapshot {snapshot_id}")
        self.nonces.clear()

    def increase_time(self, seconds: int) -> None:
        self.call("evm_increaseTime", [hex(seconds)])

    # ------------------------------------------------------------ sending

    def send(self, txs: Iterable[Tx], tip: int = 0, chunk: int = 500) -> list[str]:
        """Send `txs` (nonce-managed batches, `bulkhead.eth.send.send_unlocked`); returns
        their hashes, in the order given."""
        try:
            return send_unlocked(self.rpc, txs, self.nonces, (self.max_fee, tip), chunk)
        except Refused as exc:
            raise DriverError(str(exc)) from None

    def receipts(self, hashes: Sequence[str]) -> list[dict]:
        out: list[dict] = []
        for start in range(0, len(hashes), 500):
            part = hashes[start : start + 500]
            out += self.batch([("eth_getTransactionReceipt", [h]) for h in part])
        return out

    def settle(
        self,
        txs: Sequence[Tx],
        timestamp_step: int = 1,
        base_fee: int | None = None,
        skip: int = 0,
    ) -> list[dict]:
        """Send `txs`, mine until every one is mined (the first block `skip` seconds later
        than the step), return their receipts, checked."""
        hashes = self.send(txs)
        # a sender's transactions are mined in nonce order: its last one is mined last
        last = list({tx.sender: h for tx, h in zip(txs, hashes, strict=True)}.values())
        guard = 0
        while last:
            ts = to_int(self.block("latest")["timestamp"]) + timestamp_step + skip
            skip = 0
            self.mine(ts, base_fee)
            guard += 1
            last = [h for h, r in zip(last, self.receipts(last), strict=True) if r is None]
            if last and guard > 10_000:
                raise DriverError("transactions stay pending: the node does not mine them")
        receipts = self.receipts(hashes)
        for tx, receipt in zip(txs, receipts, strict=True):
            if receipt is None:
                raise DriverError(f"{tx.label or 'transaction'} was never mined")
            if to_int(receipt["status"]) != 1:
                reason = self._reason(tx, to_int(receipt["blockNumber"]))
                raise DriverError(f"{tx.label or 'transaction'} reverted: {reason}")
        return receipts

    def _reason(self, tx: Tx, block: int) -> str:
        try:
            self.call(
                "eth_call", [{"from": tx.sender, "to": tx.to, "data": tx.data}, hex(block - 1)]
            )
        except DriverError as exc:
            return str(exc).split(": ", 1)[-1]
        return "reverted in its block"

    def logs(
        self, addresses: Sequence[str], from_block: int, to_block: int, topics: list | None = None
    ) -> list[dict]:
        flt: dict[str, Any] = {
            "address": list(addresses),
            "fromBlock": hex(from_block),
            "toBlock": hex(to_block),
        }
        if topics:
            flt["topics"] = topics
        return self.call("eth_getLogs", [flt])


def checksum(address: str) -> str:
    return Web3.to_checksum_address(address)
