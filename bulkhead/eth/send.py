"""Sending many transactions from accounts the node holds unlocked, without waiting.

The simulator, the demo and the keeper's test chain send hundreds of transactions from dev
accounts (Anvil, Hardhat) per block. `send_unlocked` keeps each sender's nonces, offers
the package's fees (`bulkhead.eth.fees`) and sends in JSON-RPC batches.

A batch holds at most one transaction per sender: Anvil takes a batch's requests
concurrently, so two of one sender could reach its pool out of nonce order, and under FIFO
ordering it then drops the later nonce as "nonce too high" and every transaction of that
sender after it stays pending forever (seen with 1,000 positions: 40 owners each sending
30 transactions). Each sender's k-th transaction goes in wave k; waves are sent one after
another, each in the order given.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass

from bulkhead.errors import BulkheadError
from bulkhead.eth.rpc import Rpc, RpcError, quantity, to_int


@dataclass(frozen=True)
class Tx:
    """One transaction to send: from a node-unlocked account, with a fixed gas limit."""

    sender: str
    to: str
    data: str
    gas: int
    label: str = ""
    value: int = 0


class Refused(BulkheadError, RuntimeError):
    """The node refused a transaction before mining it; `tx` is the one refused."""

    def __init__(self, tx: Tx, error: RpcError):
        super().__init__(f"{tx.label or 'transaction'} refused: {error.message}")
        self.tx, self.error = tx, error


def send_unlocked(
    rpc: Rpc,
    txs: Iterable[Tx],
    nonces: MutableMapping[str, int],
    fees: tuple[int, int],
    chunk: int = 500,
) -> list[str]:
    """Send `txs` at the senders' next nonces (`nonces`, filled from the node's pending
    count for a sender not in it, and advanced); returns their hashes in the order given.
    `fees` is (max fee, priority fee) [wei per gas]. Refused (and the nonces forgotten, so
    the node is asked again next time) when the node refuses one."""
    txs = list(txs)
    unknown = sorted({t.sender for t in txs if t.sender not in nonces})
    counts = rpc.batch([("eth_getTransactionCount", [s, "pending"]) for s in unknown], strict=True)
    nonces.update({s: to_int(c) for s, c in zip(unknown, counts)})
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
            requests = []
            for i in part:
                t = txs[i]
                body = {
                    "from": t.sender,
                    "to": t.to,
                    "data": t.data,
                    "gas": quantity(t.gas),
                    "nonce": quantity(nonces[t.sender]),
                    "maxFeePerGas": quantity(fees[0]),
                    "maxPriorityFeePerGas": quantity(fees[1]),
                }
                if t.value:
                    body["value"] = quantity(t.value)
                nonces[t.sender] += 1
                requests.append(("eth_sendTransaction", [body]))
            for i, result in zip(part, rpc.batch(requests)):
                if isinstance(result, RpcError):
                    nonces.clear()  # a refused nonce: ask the node again next time
                    raise Refused(txs[i], result)
                hashes[i] = result
    return hashes
