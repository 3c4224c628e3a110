"""Plain JSON-RPC for the keeper's hot paths: single requests and batches.

A keeper's work is many small requests (views, simulations, sends, receipts). Each HTTP
round trip to a local node costs a few milliseconds while a batch of hundreds costs about
the same as one, so the keeper sends them in batches and skips web3's middlewares (which
ask the node for the chain id before every call). Contract data is still encoded with
web3's ABI tools; results are decoded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils.abi import get_abi_output_types
from hexbytes import HexBytes

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


class RpcError(Exception):
    """The node answered with an error (a revert, a refused transaction, ...)."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

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
                    return abi_decode(["string"], raw[4:])[0]
                except Exception:  # noqa: BLE001, S110 - malformed revert data: use the message
                    pass
        message = self.message
        for prefix in ("execution reverted: ", "execution reverted"):
            if message.startswith(prefix):
                return message[len(prefix) :].strip() or message
        return message


def _result(response: Any) -> Any:
    if not isinstance(response, dict):
        raise RpcError(-32603, f"malformed response {response!r}")
    if response.get("error") is not None:
        err = response["error"]
        if isinstance(err, dict):
            return RpcError(
                int(err.get("code", -32603)), str(err.get("message", "")), err.get("data")
            )
        return RpcError(-32603, str(err))
    return response.get("result")


class Rpc:
    """Requests through a web3 provider, without middlewares; batches when it can."""

    def __init__(self, provider: Any, max_batch: int = 500):
        self.provider = provider
        self.max_batch = max_batch
        self.round_trips = 0
        self.requests = 0
        self._batching = hasattr(provider, "make_batch_request")

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One request; RpcError when the node answers with an error."""
        self.round_trips += 1
        self.requests += 1
        result = _result(self.provider.make_request(method, list(params)))
        if isinstance(result, RpcError):
            raise result
        return result

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Results in order; an RpcError in place of each request that failed."""
        out: list[Any] = []
        if not self._batching:
            for method, params in calls:
                self.round_trips += 1
                self.requests += 1
                out.append(_result(self.provider.make_request(method, list(params))))
            return out
        for start in range(0, len(calls), self.max_batch):
            chunk = [(m, list(p)) for m, p in calls[start : start + self.max_batch]]
            if not chunk:
                continue
            self.round_trips += 1
            self.requests += len(chunk)
            responses = self.provider.make_batch_request(chunk)
            if not isinstance(responses, list):  # the node refused the whole batch
                error = _result(responses)
                error = error if isinstance(error, RpcError) else RpcError(-32603, "batch refused")
                out += [error] * len(chunk)
                continue
            out += [_result(r) for r in responses]
        return out


@dataclass(frozen=True)
class Call:
    """A contract call, encoded once, decoded from the node's hex answer."""

    to: str
    data: str
    outputs: tuple[str, ...]

    @classmethod
    def of(cls, fn: Any) -> Call:
        """From a bound web3 contract function (`contract.functions.f(args)`)."""
        return cls(fn.address, fn._encode_transaction_data(), tuple(get_abi_output_types(fn.abi)))

    def request(self, sender: str | None = None, block: str = "latest") -> tuple[str, list[Any]]:
        tx: dict[str, Any] = {"to": self.to, "data": self.data}
        if sender:
            tx["from"] = sender
        return "eth_call", [tx, block]

    def decode(self, result: Any) -> Any:
        """The single output, or a tuple of outputs."""
        if isinstance(result, RpcError):
            raise result
        values = abi_decode(list(self.outputs), bytes(HexBytes(result)))
        return values[0] if len(values) == 1 else values


def to_int(value: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 16)
    raise TypeError(f"not an RPC quantity: {value!r}")


def quantity(value: int) -> str:
    return hex(value)
