"""The package's one JSON-RPC client: single requests and batches, revert reasons decoded.

A keeper's, simulator's or benchmark's work is many small requests (views, simulations,
sends, receipts). Each HTTP round trip to a local node costs a few milliseconds while a
batch of hundreds costs about the same as one, so `Rpc` sends them in batches and skips
web3's middlewares (which ask the node for the chain id before every call).

`Rpc` talks through a web3 provider (`Rpc(w3.provider)`: the keeper, whose tests inject
faults there) or straight over keep-alive HTTP (`Rpc("http://...")`: the simulator and the
benchmarks).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import requests
from eth_abi import decode as abi_decode
from hexbytes import HexBytes

from bulkhead.errors import BulkheadError
from bulkhead.node import PRUNED_RETRIES, is_pruned_race

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)

# reads that are safe to ask again (never a transaction): what `retry_pruned` repeats
RETRIED_READS = frozenset(
    {"eth_call", "eth_getStorageAt", "eth_getLogs", "eth_getTransactionReceipt", "eth_blockNumber"}
)


class RpcError(BulkheadError):
    """The node answered with an error (a revert, a refused transaction, ...).

    `str(error)` is the node's message; `method` names the request it answered."""

    def __init__(self, code: int, message: str, data: Any = None, method: str = ""):
        super().__init__(message)
        self.code, self.message, self.data, self.method = code, message, data, method

    @property
    def reason(self) -> str:
        """The revert reason as the contract wrote it, else the node's message."""
        data = self.data
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x"):
            raw = bytes(HexBytes(data))
            if raw[:4] == ERROR_SELECTOR:
                try:
                    return str(abi_decode(["string"], raw[4:])[0])
                except Exception:  # noqa: BLE001, S110 - malformed revert data: use the message
                    pass
        message = self.message
        for prefix in ("execution reverted: ", "execution reverted"):
            if message.startswith(prefix):
                return message[len(prefix) :].strip() or message
        return message


class HttpTransport:
    """JSON-RPC over one keep-alive HTTP session, with a web3 provider's two methods."""

    def __init__(self, url: str, timeout: float = 120.0):
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self._ids = itertools.count(1)

    def _body(self, method: str, params: Sequence[Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}

    def make_request(self, method: str, params: Sequence[Any]) -> Any:
        return self.session.post(
            self.url, json=self._body(method, params), timeout=self.timeout
        ).json()

    def make_batch_request(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> Any:
        bodies = [self._body(m, p) for m, p in calls]
        replies = self.session.post(self.url, json=bodies, timeout=self.timeout).json()
        if not isinstance(replies, list):
            return replies  # the node refused the batch as a whole
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        missing = {"error": {"code": -32603, "message": "no reply"}}
        return [by_id.get(b["id"], missing) for b in bodies]

    def close(self) -> None:
        self.session.close()


def _result(response: Any, method: str) -> Any:
    if not isinstance(response, dict):
        return RpcError(-32603, f"malformed response {response!r}", method=method)
    if response.get("error") is not None:
        err = response["error"]
        if isinstance(err, dict):
            return RpcError(
                int(err.get("code", -32603)), str(err.get("message", "")), err.get("data"), method
            )
        return RpcError(-32603, str(err), method=method)
    return response.get("result")


class Rpc:
    """Requests without middlewares; batches when the transport can.

    `retry_pruned` asks a read again while it meets Anvil's pruned-history race
    (`bulkhead.node.is_pruned_race`); the benchmarks poll a node that mines meanwhile."""

    def __init__(
        self,
        transport: Any,
        max_batch: int = 500,
        timeout: float = 120.0,
        retry_pruned: bool = False,
    ):
        self.provider = (
            HttpTransport(transport, timeout) if isinstance(transport, str) else transport
        )
        self.max_batch = max_batch
        self.retry_pruned = retry_pruned
        self.round_trips = 0
        self.requests = 0
        self._batching = hasattr(self.provider, "make_batch_request")

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One request; RpcError when the node answers with an error."""
        attempts = PRUNED_RETRIES if self.retry_pruned and method in RETRIED_READS else 1
        for attempt in range(attempts):
            self.round_trips += 1
            self.requests += 1
            result = _result(self.provider.make_request(method, list(params)), method)
            if not isinstance(result, RpcError):
                return result
            if attempt + 1 == attempts or not is_pruned_race(result.message):
                raise result
        raise AssertionError("unreachable")  # dev: the loop returns or raises

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]], strict: bool = False) -> list[Any]:
        """Results in order; an RpcError in place of each request that failed (with
        `strict`, the first one raises instead)."""
        out: list[Any] = []
        if not self._batching:
            for method, params in calls:
                self.round_trips += 1
                self.requests += 1
                out.append(_result(self.provider.make_request(method, list(params)), method))
        else:
            for start in range(0, len(calls), self.max_batch):
                chunk = [(m, list(p)) for m, p in calls[start : start + self.max_batch]]
                if not chunk:
                    continue
                self.round_trips += 1
                self.requests += len(chunk)
                responses = self.provider.make_batch_request(chunk)
                if not isinstance(responses, list):  # the node refused the whole batch
                    error = _result(responses, "batch")
                    if not isinstance(error, RpcError):
                        error = RpcError(-32603, "batch refused", method="batch")
                    out += [error] * len(chunk)
                    continue
                out += [_result(r, m) for r, (m, _) in zip(responses, chunk)]
        if strict:
            for item in out:
                if isinstance(item, RpcError):
                    raise item
        return out

    def eth_call(self, to: str, data: str, block: int | str = "latest") -> str:
        """The raw (hex) result of a call at `block` (a number or a tag)."""
        tag = hex(block) if isinstance(block, int) else block
        return self.request("eth_call", [{"to": to, "data": data}, tag])

    def close(self) -> None:
        close = getattr(self.provider, "close", None)
        if callable(close):
            close()


def ok(value: Any) -> Any:
    """A batch result, raising the RpcError that stands in its place."""
    if isinstance(value, RpcError):
        raise value
    return value


def to_int(value: Any) -> int:
    """An RPC quantity ("0x..." or an int) as an int."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 16)
    raise TypeError(f"not an RPC quantity: {value!r}")


def quantity(value: int) -> str:
    return hex(value)
