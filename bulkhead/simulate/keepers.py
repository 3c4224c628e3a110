"""The one place the simulator touches a keeper: `make_keepers` and `KeeperHandle.step`.

`make_keepers(kind, ...)` returns one handle per keeper account; the engine calls `step()`
on each once per block (in an order drawn from the seed) and `summary()` at the end.

- `real`: `bulkhead.keeper.Keeper`, the class `bulkhead keeper run` steps, one instance per
  dev account, configured for a chain that mines on demand (no waiting for receipts inside
  a step, stuck transactions judged by blocks, not wall-clock seconds).
- `stand-in`: `StandInKeeper`, a minimal liquidation and deleverage loop written here for
  when the real keeper is not installed. It is not the keeper the protocol ships; reports
  say which one ran.
- `auto`: the real keeper when `bulkhead.keeper` can be imported, else the stand-in.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from web3 import HTTPProvider, Web3

from bulkhead import risk
from bulkhead.deploy import Deployment
from bulkhead.risk import WAD, RiskParams
from bulkhead.simulate.driver import Driver, DriverError, Tx, abi, checksum, to_int

KEEPER_KINDS = ("auto", "real", "stand-in")
REAL = "bulkhead.keeper.Keeper"
DUE_DELEVERAGE = 1  # `PositionAutomation.due` bits: a protection (deleverage) is due
DUE_STOP_LOSS = 8  # a stop-loss is due
STAND_IN = "stand-in (bulkhead.simulate.keepers.StandInKeeper)"


class KeeperUnavailable(RuntimeError):
    """The real keeper was asked for and cannot be imported."""


class KeeperHandle(Protocol):
    address: str
    implementation: str

    def step(self) -> None: ...

    def summary(self) -> dict[str, Any]: ...


def real_keeper_available() -> bool:
    try:
        import bulkhead.keeper  # noqa: F401
    except ImportError:
        return False
    return True


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
    use_real = kind == "real" or (kind == "auto" and real_keeper_available())
    if use_real and not real_keeper_available():
        raise KeeperUnavailable("the real keeper (bulkhead.keeper) is not installed")
    handles: list[KeeperHandle] = []
    for n, address in enumerate(addresses):
        log_path = log_dir / f"keeper-{n}.jsonl" if log_dir is not None else None
        if use_real:
            handles.append(_RealKeeper(rpc_url, deployment, address, log_path, native_price))
        else:
            handles.append(StandInKeeper(rpc_url, deployment, address))
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


class StandInKeeper:
    """A minimal keeper for when `bulkhead.keeper` is missing: each step it asks every
    pool's `positions_to_liquidate` and `PositionAutomation.due` (protections and
    stop-losses), sizes each liquidation with `bulkhead.risk` and each deleverage with
    `PoolLens.preview_auto_deleverage`, and sends them without waiting. No profitability
    check, no fee bumps, no event index."""

    implementation = STAND_IN

    def __init__(self, rpc_url: str, deployment: Deployment, address: str):
        self.address = checksum(address)
        self.driver = Driver(rpc_url)
        self.driver.max_fee = 10**12
        self.pool_abi = abi("MarginPool")
        self.lens_abi = abi("PoolLens")
        self.lens = checksum(deployment.lens)
        self.automation_abi = abi("PositionAutomation")
        self.automation = checksum(deployment.automation)
        self.stablecoin = checksum(deployment.stablecoin)
        self.approved = False  # the automation may pull our bhUSD (protections)
        self.pools = [(checksum(p.address), p) for p in deployment.pools]
        self.pending: dict[str, tuple[str, int]] = {}  # tx hash -> (pool, id)
        self.sent = self.mined = self.reverted = 0

    def _collect(self) -> None:
        if not self.pending:
            return
        hashes = list(self.pending)
        receipts = self.driver.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        for h, r in zip(hashes, receipts, strict=True):
            if r is None:
                continue
            del self.pending[h]
            if to_int(r["status"]) == 1:
                self.mined += 1
            else:
                self.reverted += 1

    def step(self) -> None:
        self._collect()
        busy = set(self.pending.values())
        f = self.pool_abi
        reads = []
        for address, _ in self.pools:
            reads += [
                (address, f.data("price_status")),
                (address, f.data("risk_params")),
                (address, f.data("rate")),
                (address, f.data("positions_to_liquidate", 1, 5000)),
                (self.automation, self.automation_abi.data("due", address, 1, 1000)),
            ]
        results = self.driver.calls(reads)
        txs: list[Tx] = []
        targets: list[tuple[str, int]] = []  # (pool, id) of each transaction
        for k, (address, info) in enumerate(self.pools):
            status_raw, params_raw, rate_raw, liq_raw, due_raw = results[5 * k : 5 * k + 5]
            price, status = f.result("price_status", status_raw)
            if status != 0:
                continue
            params = RiskParams(*f.result("risk_params", params_raw))
            rate = f.result("rate", rate_raw)
            scale = 10 ** (18 - info.collateral_decimals)
            liquidatable = [i for i in f.result("positions_to_liquidate", liq_raw)]
            rules_due = self.automation_abi.result("due", due_raw)
            due = [i for i, rules in rules_due if rules & DUE_DELEVERAGE]
            stops = [i for i, rules in rules_due if rules & DUE_STOP_LOSS]
            ids = [i for i in liquidatable if (address, i) not in busy]
            if ids:
                raw = self.driver.calls(
                    [
                        (address, f.data(fn, i))
                        for i in ids
                        for fn in ("collateral_of", "normalised_debt_of")
                    ]
                )
                for n, pid in enumerate(ids):
                    coll = f.result("collateral_of", raw[2 * n])
                    debt = risk.debt(f.result("normalised_debt_of", raw[2 * n + 1]), rate)
                    try:
                        amounts = risk.liquidation_amounts(coll, debt, price, params, scale)
                    except risk.LiquidationError:
                        continue
                    max_repay = amounts.paid + amounts.paid // 1000 + WAD
                    txs.append(
                        Tx(
                            self.address,
                            address,
                            f.data("liquidate", pid, max_repay, 0),
                            400_000,
                            "liquidate",
                        )
                    )
                    targets.append((address, pid))
                    busy.add((address, pid))
            for pid in stops:  # the whole position: before any deleverage of it
                if (address, pid) in busy or pid in liquidatable:
                    continue
                txs.append(
                    Tx(
                        self.address,
                        self.automation,
                        self.automation_abi.data("stop_loss", address, pid),
                        500_000,
                        "stop_loss",
                    )
                )
                targets.append((address, pid))
                busy.add((address, pid))
            due = [i for i in due if (address, i) not in busy and i not in liquidatable]
            if due:
                previews = self.driver.calls(
                    [
                        (self.lens, self.lens_abi.data("preview_auto_deleverage", address, i))
                        for i in due
                    ]
                )
                for pid, preview in zip(due, previews, strict=True):
                    repay, _out, _after = self.lens_abi.result("preview_auto_deleverage", preview)
                    if repay:
                        txs.append(
                            Tx(
                                self.address,
                                self.automation,
                                self.automation_abi.data("auto_deleverage", address, pid, repay),
                                400_000,
                                "deleverage",
                            )
                        )
                        targets.append((address, pid))
                        busy.add((address, pid))
        if not txs:
            return
        if not self.approved and any(t.label in ("deleverage", "stop_loss") for t in txs):
            approve = abi("Stablecoin").data("approve", self.automation, 2**256 - 1)
            txs.insert(0, Tx(self.address, self.stablecoin, approve, 100_000, "approve"))
            targets.insert(0, (self.stablecoin, 0))
            self.approved = True
        try:
            hashes = self.driver.send(txs, tip=10**9)
        except DriverError:
            self.driver.nonces.clear()
            return
        for target, h in zip(targets, hashes, strict=True):
            self.pending[h] = target
        self.sent += len(txs)

    def summary(self) -> dict[str, Any]:
        self._collect()
        return {"sent": self.sent, "mined": self.mined, "reverted": self.reverted}
