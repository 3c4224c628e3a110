"""The simulator's hands on the node: JSON-RPC batches, many transactions without waiting
for each receipt (nonces kept here), blocks mined on demand at chosen timestamps,
snapshots, and a small ABI codec for calls and events.

The node runs with automine off while a simulation drives it: every block is mined by
`Driver.mine`, so that what lands in one block is what the simulator (and the keepers)
sent since the last one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3 import Web3

from bulkhead import artifacts


class DriverError(RuntimeError):
    """The node refused or failed something the simulator needs; one line."""


def to_int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _abi_type(entry: dict) -> str:
    t = entry["type"]
    if t.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in entry["components"])
        return f"({inner}){t[5:]}"
    return t


class Abi:
    """Encodes calls and decodes results and events of one contract ABI."""

    def __init__(self, abi: list[dict]):
        self.functions: dict[str, dict] = {}
        self.events: dict[bytes, tuple[str, list[dict]]] = {}
        self.topics: dict[str, str] = {}
        for entry in abi:
            if entry.get("type") == "function":
                types = [_abi_type(i) for i in entry["inputs"]]
                sig = f"{entry['name']}({','.join(types)})"
                self.functions[entry["name"]] = {
                    "selector": keccak(text=sig)[:4],
                    "inputs": types,
                    "outputs": [_abi_type(o) for o in entry["outputs"]],
                }
            elif entry.get("type") == "event":
                types = [_abi_type(i) for i in entry["inputs"]]
                topic = keccak(text=f"{entry['name']}({','.join(types)})")
                self.events[topic] = (entry["name"], entry["inputs"])
                self.topics[entry["name"]] = "0x" + topic.hex()

    def data(self, fn: str, *args: Any) -> str:
        f = self.functions[fn]
        return "0x" + (f["selector"] + abi_encode(f["inputs"], list(args))).hex()

    def result(self, fn: str, raw: str) -> Any:
        values = abi_decode(self.functions[fn]["outputs"], bytes.fromhex(raw[2:]))
        return values[0] if len(values) == 1 else values

    def event(self, log: dict) -> tuple[str, dict] | None:
        topics = log.get("topics") or []
        if not topics:
            return None
        found = self.events.get(bytes.fromhex(topics[0][2:]))
        if found is None:
            return None
        name, inputs = found
        indexed = [i for i in inputs if i["indexed"]]
        plain = [i for i in inputs if not i["indexed"]]
        args: dict[str, Any] = {}
        for i, topic in zip(indexed, topics[1:], strict=False):
            (args[i["name"]],) = abi_decode([_abi_type(i)], bytes.fromhex(topic[2:]))
        values = abi_decode([_abi_type(i) for i in plain], bytes.fromhex(log["data"][2:]))
        args.update({i["name"]: v for i, v in zip(plain, values, strict=True)})
        return name, args


_ABIS: dict[str, Abi] = {}


def abi(name: str) -> Abi:
    if name not in _ABIS:
        _ABIS[name] = Abi(artifacts.abi(name))
    return _ABIS[name]


@dataclass(frozen=True)
class Tx:
    """One transaction to send: from a node-unlocked account, with a fixed gas limit."""

    sender: str
    to: str
    data: str
    gas: int
    label: str = ""


class Driver:
    """JSON-RPC to one node, with the simulator's own nonces."""

    def __init__(self, rpc_url: str, timeout: float = 120.0):
        self.url = rpc_url
        self.session = requests.Session()
        self.timeout = timeout
        self._ids = itertools.count(1)
        self.nonces: dict[str, int] = {}
        self.max_fee = 10**12  # [wei per gas] a cap well above any base fee used here
        self.round_trips = 0

    # ------------------------------------------------------------ raw calls

    def call(self, method: str, params: list | None = None) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []}
        self.round_trips += 1
        reply = self.session.post(self.url, json=body, timeout=self.timeout).json()
        if "error" in reply:
            message = reply["error"].get("message", str(reply["error"]))
            raise DriverError(f"{method}: {message}")
        return reply.get("result")

    def batch(self, requests_: Sequence[tuple[str, list]], strict: bool = True) -> list[Any]:
        """Results in order; with `strict`, the first error raises DriverError, otherwise an
        error is returned in place as a DriverError."""
        if not requests_:
            return []
        bodies = []
        for method, params in requests_:
            bodies.append(
                {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
            )
        self.round_trips += 1
        replies = self.session.post(self.url, json=bodies, timeout=self.timeout).json()
        if isinstance(replies, dict):  # the node refused the batch as a whole
            raise DriverError(f"batch refused: {replies.get('error')}")
        by_id = {r.get("id"): r for r in replies}
        out = []
        for body in bodies:
            reply = by_id.get(body["id"], {"error": {"message": "no reply"}})
            if "error" in reply:
                message = reply["error"].get("message", str(reply["error"]))
                err = DriverError(f"{body['method']}: {message}")
                if strict:
                    raise err
                out.append(err)
            else:
                out.append(reply.get("result"))
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

    def _nonce(self, sender: str) -> int:
        if sender not in self.nonces:
            self.nonces[sender] = to_int(self.call("eth_getTransactionCount", [sender, "pending"]))
        nonce = self.nonces[sender]
        self.nonces[sender] = nonce + 1
        return nonce

    def send(self, txs: Iterable[Tx], tip: int = 0, chunk: int = 500) -> list[str]:
        """Send `txs` (nonce-managed batches); returns their hashes, in the order given.

        A JSON-RPC batch holds at most one transaction per sender: Anvil takes a batch's
        requests concurrently, so two of one sender could reach its pool out of nonce order,
        and under FIFO ordering it then drops the later nonce as "nonce too high" and every
        transaction of that sender after it stays pending forever (seen with 1,000
        positions: 40 owners each sending 30 transactions). Each sender's k-th transaction
        goes in wave k; waves are sent one after another, each in the order given."""
        txs = list(txs)
        senders = {t.sender for t in txs if t.sender not in self.nonces}
        if senders:
            counts = self.batch(
                [("eth_getTransactionCount", [s, "pending"]) for s in sorted(senders)]
            )
            for s, c in zip(sorted(senders), counts, strict=True):
                self.nonces[s] = to_int(c)
        waves: list[list[int]] = []
        seen: dict[str, int] = {}
        for i, t in enumerate(txs):
            k = seen.get(t.sender, 0)
            seen[t.sender] = k + 1
            if k == len(waves):
                waves.append([])
            waves[k].append(i)
        hashes: list[str] = [""] * len(txs)
        for wave in waves:
            for start in range(0, len(wave), chunk):
                part = wave[start : start + chunk]
                requests_ = []
                for i in part:
                    t = txs[i]
                    body = {
                        "from": t.sender,
                        "to": t.to,
                        "data": t.data,
                        "gas": hex(t.gas),
                        "nonce": hex(self._nonce(t.sender)),
                        "maxFeePerGas": hex(self.max_fee),
                        "maxPriorityFeePerGas": hex(tip),
                    }
                    requests_.append(("eth_sendTransaction", [body]))
                results = self.batch(requests_, strict=False)
                for i, r in zip(part, results, strict=True):
                    if isinstance(r, DriverError):
                        self.nonces.clear()  # a refused nonce: ask the node again next time
                        raise DriverError(f"{txs[i].label or 'transaction'} refused: {r}")
                    hashes[i] = r
        return hashes

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
