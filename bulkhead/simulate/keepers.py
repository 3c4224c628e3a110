"""The one place the simulator touches a keeper: `make_keepers` and `KeeperHandle.step`.

`make_keepers(kind, ...)` returns one handle per keeper account; the engine calls `step()`
on each once per block (in an order drawn from the seed) and `summary()` at the end.

- `real`: `bulkhead.keeper.Keeper`, the class `bulkhead keeper run` steps, one instance per
  dev account, configured for a chain that mines on demand (no waiting for receipts inside
  a step, stuck transactions judged by blocks, not wall-clock seconds).
- `auto`: the same (the keeper ships in this package; the name stays for existing scripts).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from web3 import HTTPProvider, Web3

from bulkhead.deploy import Deployment
from bulkhead.simulate.driver import checksum

KEEPER_KINDS = ("auto", "real")
REAL = "bulkhead.keeper.Keeper"
DUE_DELEVERAGE = 1  # `PositionAutomation.due` bits: a protection (deleverage) is due
DUE_STOP_LOSS = 8  # a stop-loss is due


class KeeperHandle(Protocol):
    address: str
    implementation: str

    def step(self) -> None: ...

    def summary(self) -> dict[str, Any]: ...


def make_keepers(
    kind: str,
    rpc_url: str,
    deployment: Deployment,
    addresses: Sequence[str],
    log_dir: Path | None = None,
    native_price: int | None = None,
) -> list[KeeperHandle]:
    """One keeper per address (node-unlocked dev accounts holding bhUSD)."""
    if kind not in KEEPER_KINDS:
        raise ValueError(f"unknown keeper kind {kind!r} (one of {', '.join(KEEPER_KINDS)})")
    handles: list[KeeperHandle] = []
    for n, address in enumerate(addresses):
        log_path = log_dir / f"keeper-{n}.jsonl" if log_dir is not None else None
        handles.append(_RealKeeper(rpc_url, deployment, address, log_path, native_price))
    return handles


class _RealKeeper:
    """`bulkhead.keeper.Keeper` behind the adapter."""

    implementation = REAL

    def __init__(
        self,
        rpc_url: str,
        deployment: Deployment,
        address: str,
        log_path: Path | None,
        native_price: int | None,
    ):
        from bulkhead.keeper import EventLog, Keeper, KeeperConfig, NodeSigner

        self.address = checksum(address)
        self._stream = open(log_path, "w") if log_path is not None else io.StringIO()  # noqa: SIM115
        config = KeeperConfig(
            receipt_wait=0.0,  # the simulator mines the block after every keeper stepped
            stuck_seconds=1e9,  # blocks come when the simulator mines them: judge by blocks
            native_price=native_price,
        )
        w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 120}))
        self.keeper = Keeper(
            w3, deployment, NodeSigner(self.address), config, EventLog(self._stream)
        )

    def step(self) -> None:
        self.keeper.step()
        if isinstance(self._stream, io.StringIO):  # no log file: keep no log in memory
            self._stream.seek(0)
            self._stream.truncate()

    def summary(self) -> dict[str, Any]:
        summary = self.keeper.metrics.summary()
        if not isinstance(self._stream, io.StringIO):
            self._stream.close()
        return summary
