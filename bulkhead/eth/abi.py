"""The package's one ABI codec: call data, results and event logs of a contract ABI.

`Abi` encodes a function's call data and decodes its result and the contract's event logs
(indexed fields from the topics, the rest from the data); `Call` is one encoded view call
as the keeper batches them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak
from eth_utils.abi import get_abi_output_types
from hexbytes import HexBytes

from bulkhead import artifacts
from bulkhead.eth.rpc import RpcError


def abi_type(entry: dict) -> str:
    """The canonical type of an ABI input or output (tuples spelled out)."""
    t = entry["type"]
    if t.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in entry["components"])
        return f"({inner}){t[5:]}"
    return str(t)


def _signature(entry: dict) -> str:
    return f"{entry['name']}({','.join(abi_type(i) for i in entry['inputs'])})"


class Abi:
    """Encodes calls and decodes results and events of one contract ABI.

    With `events`, only those events are decoded (a log of any other is None), and an ABI
    that lacks one of them is a ValueError."""

    def __init__(self, abi: list[dict], events: Iterable[str] | None = None):
        wanted = None if events is None else set(events)
        self.functions: dict[str, dict] = {}
        self.events: dict[bytes, tuple[str, list[dict]]] = {}
        self.topics: dict[str, str] = {}  # event name -> topic 0 (hex)
        for entry in abi:
            if entry.get("type") == "function":
                self.functions[entry["name"]] = {
                    "selector": keccak(text=_signature(entry))[:4],
                    "inputs": [abi_type(i) for i in entry["inputs"]],
                    "outputs": [abi_type(o) for o in entry["outputs"]],
                }
            elif entry.get("type") == "event" and (wanted is None or entry["name"] in wanted):
                topic = keccak(text=_signature(entry))
                self.events[topic] = (entry["name"], entry["inputs"])
                self.topics[entry["name"]] = "0x" + topic.hex()
        if wanted is not None and wanted - set(self.topics):
            raise ValueError(f"ABI lacks events {sorted(wanted - set(self.topics))}")

    def data(self, fn: str, *args: Any) -> str:
        f = self.functions[fn]
        return "0x" + (f["selector"] + abi_encode(f["inputs"], list(args))).hex()

    def result(self, fn: str, raw: str | bytes) -> Any:
        """The single output of `fn`, or a tuple of its outputs."""
        values = abi_decode(self.functions[fn]["outputs"], bytes(HexBytes(raw)))
        return values[0] if len(values) == 1 else values

    def event(self, log: Any) -> tuple[str, dict] | None:
        """(name, arguments) of a log (hex strings or bytes), None for an event not decoded."""
        topics = [bytes(HexBytes(t)) for t in log.get("topics") or []]
        found = self.events.get(topics[0]) if topics else None
        if found is None:
            return None
        name, inputs = found
        indexed = [i for i in inputs if i.get("indexed")]
        plain = [i for i in inputs if not i.get("indexed")]
        args: dict[str, Any] = {}
        for i, topic in zip(indexed, topics[1:]):
            (args[i["name"]],) = abi_decode([abi_type(i)], topic)
        values = abi_decode([abi_type(i) for i in plain], bytes(HexBytes(log["data"])))
        args.update({i["name"]: v for i, v in zip(plain, values)})
        return name, args


_ABIS: dict[str, Abi] = {}


def abi(name: str) -> Abi:
    """The codec of a deployable by name (`MarginPool`, ...), built once."""
    if name not in _ABIS:
        _ABIS[name] = Abi(artifacts.abi(name))
    return _ABIS[name]


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
