"""`LocalFleet`: a whole keeper fleet on this machine, started and stopped together.

It starts Debian's redis-server on a free port, N `silverback worker` processes (each with
its own account and name, `w1`...), waits until every worker listens, then one `silverback
run` (the runner), and on an automine dev node a heartbeat that mines an empty block while
the chain stands still. `stop()` ends the runner (whose shutdown task makes each worker give
back its leases and log its summary), then the workers, then Redis, and returns each
worker's metrics and the fleet's together. Each process logs to `<log_dir>/<name>.log`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from bulkhead.artifacts import ROOT
from bulkhead.chain import LOCAL_CHAIN_IDS
from bulkhead.eth.accounts import STEWARD_DEV_ACCOUNT
from bulkhead.eth.rpc import Rpc, RpcError
from bulkhead.keeper.fleet.board import Board
from bulkhead.keeper.fleet.server import FleetError, RedisServer
from bulkhead.keeper.fleet.silverback import queue_name
from bulkhead.keeper.runner import Heartbeat, web3_for
from bulkhead.keeper.tx import KEEPER_DEV_ACCOUNT

# the fleet's dev accounts on a local chain: after the demo's borrowers (1-6), the single
# keeper's account (7) and the risk steward's (8), so a fleet never shares a nonce sequence
# with them
FIRST_FLEET_ACCOUNT = max(KEEPER_DEV_ACCOUNT, STEWARD_DEV_ACCOUNT) + 1
# [s] a ceiling against a hang while processes start or stop, not an expectation
PATIENCE = 300.0
# the mnemonic Anvil derives its dev accounts from unless told another
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ETH = 10_000 * 10**18  # [wei] for a worker account past the node's own dev accounts


@dataclass
class WorkerSpec:
    name: str
    account: int | None = None  # a dev account index on a local chain
    private_key: str | None = field(default=None, repr=False)  # or a key (never logged)
    address: str = ""


def dev_workers(w3: Web3, n: int, accounts: list[int] | None = None) -> list[WorkerSpec]:
    """`n` workers on distinct dev accounts (default: 9, 10, ...), never 0-8. Past the
    accounts the node holds, an Anvil node that uses its default mnemonic gives the next
    ones of that mnemonic (signed here, their ETH set with `anvil_setBalance`)."""
    if w3.eth.chain_id not in LOCAL_CHAIN_IDS:
        raise FleetError("not a local chain: give the workers' keys (--keys FILE)")
    indexes = accounts or list(range(FIRST_FLEET_ACCOUNT, FIRST_FLEET_ACCOUNT + n))
    if len(indexes) != n or len(set(indexes)) != n:
        raise FleetError(f"{n} workers need {n} distinct accounts, got {indexes}")
    if min(indexes) < FIRST_FLEET_ACCOUNT:
        raise FleetError(
            f"dev accounts 0-{FIRST_FLEET_ACCOUNT - 1} deploy, borrow in the demo, run the "
            f"single keeper and the risk steward: give the fleet {FIRST_FLEET_ACCOUNT} or above"
        )
    dev = w3.eth.accounts
    specs = []
    for i, index in enumerate(indexes):
        if index < len(dev):
            specs.append(WorkerSpec(f"w{i + 1}", account=index, address=dev[index]))
            continue
        key = _mnemonic_key(index)
        if _mnemonic_key(0).address != Web3.to_checksum_address(dev[0]):
            raise FleetError(
                f"{n} workers need dev accounts {indexes[0]}..{indexes[-1]}; the node has "
                f"{len(dev)} (start it with more, e.g. `anvil --accounts {max(indexes) + 1}`)"
            )
        try:
            Rpc(w3.provider).request("anvil_setBalance", [key.address, hex(DEV_ETH)])
        except RpcError as exc:
            raise FleetError(f"cannot fund dev account {index}: {exc.message}") from None
        specs.append(WorkerSpec(f"w{i + 1}", private_key="0x" + key.key.hex(), address=key.address))
    return specs


def _mnemonic_key(index: int) -> Any:
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def key_workers(keys: list[str]) -> list[WorkerSpec]:
    out = []
    for i, k in enumerate(keys):
        try:
            address = Account.from_key(k).address
        except Exception:  # noqa: BLE001 - the parser's message may quote the key
            raise FleetError(f"key {i + 1} of the file is not a private key") from None
        out.append(WorkerSpec(f"w{i + 1}", private_key=k, address=address))
    return out


class LocalFleet:
    def __init__(
        self,
        rpc_url: str,
        manifest: str | Path,
        workers: list[WorkerSpec],
        fleet: str = "local",
        dry_run: bool = False,
        env: dict[str, str] | None = None,
        log_dir: str | Path | None = None,
        heartbeat: float = 2.0,
        redis: RedisServer | None = None,
    ):
        self.rpc_url, self.manifest = rpc_url, Path(manifest).resolve()
        self.specs = list(workers)
        self.fleet, self.dry_run, self.extra = fleet, dry_run, dict(env or {})
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="bulkhead-fleet-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.heartbeat_every = heartbeat
        self.redis = redis or RedisServer(directory=self.log_dir / "redis")
        self.procs: dict[str, subprocess.Popen] = {}
        self.runner: subprocess.Popen | None = None
        self.heartbeat: Heartbeat | None = None
        self.board: Board | None = None
        self.w3 = web3_for(rpc_url)

    # ------------------------------------------------------------ start

    def start(self) -> LocalFleet:
        try:
            # a fresh Redis: no lease, record or metrics of an earlier fleet in the same folder
            shutil.rmtree(self.redis.dir, ignore_errors=True)
            self.redis.dir.mkdir(parents=True, exist_ok=True)
            self.redis.start()
            self.board = Board(self.redis.url, self.fleet)
            for spec in self.specs:
                self.start_worker(spec)
            self.wait_listening(len(self.specs))
            self.runner = self._spawn(
                "runner",
                ["run", "bots.keeper:bot", "--runner", _RUNNER, "-x", "1000000"],
                {},
            )
            if self.heartbeat_every and Heartbeat.needed(self.w3):
                self.heartbeat = Heartbeat(self.w3, self.heartbeat_every).start()
        except BaseException:
            self.stop()
            raise
        return self

    def start_worker(self, spec: WorkerSpec) -> subprocess.Popen:
        """Start one worker (also to grow a running fleet: the others make room for it)."""
        env = {"BULKHEAD_WORKER": spec.name}
        if spec.account is not None:
            env["BULKHEAD_ACCOUNT"] = str(spec.account)
        if spec.private_key is not None:
            env["BULKHEAD_PRIVATE_KEY"] = spec.private_key
        if spec not in self.specs:
            self.specs.append(spec)
        proc = self._spawn(spec.name, ["worker", "-w", "1", "bots.keeper:bot"], env)
        self.procs[spec.name] = proc
        return proc

    def _spawn(self, name: str, args: list[str], extra: dict[str, str]) -> subprocess.Popen:
        silverback = Path(sys.executable).parent / "silverback"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
            ),
            "BULKHEAD_FLEET_REDIS": self.redis.url,
            "BULKHEAD_FLEET": self.fleet,
            "BULKHEAD_MANIFEST": str(self.manifest),
            "BULKHEAD_DRY_RUN": "1" if self.dry_run else "",
            "BULKHEAD_LOG_FORMAT": "json",
            **self.extra,
            **extra,
        }
        for key in ("BULKHEAD_PRIVATE_KEY", "BULKHEAD_ACCOUNT", "BULKHEAD_KEYSTORE"):
            if key not in extra:
                env.pop(key, None)  # each worker its own account, the runner none
        network = f"ethereum:local:{self.rpc_url}"
        with (self.log_dir / f"{name}.log").open("a") as sink:
            return subprocess.Popen(
                [str(silverback), *args, "--network", network],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_listening(self, n: int, timeout: float = PATIENCE) -> None:
        """Until `n` workers are subscribed to the task channel (the runner's startup tasks
        reach only those)."""
        assert self.board is not None
        deadline = time.monotonic() + timeout
        while True:
            dead = [k for k, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise FleetError(f"worker {dead[0]} exited: see {self.log_dir / dead[0]}.log")
            try:
                listening = self.board.redis.pubsub_numsub(queue_name(self.fleet))[0][1]
            except Exception:  # noqa: BLE001 - Redis restarting
                listening = 0
            if listening >= n:
                return
            if time.monotonic() > deadline:
                raise FleetError(f"{listening} of {n} workers listening after {timeout:.0f} s")
            time.sleep(0.2)

    # ------------------------------------------------------------- live

    def alive(self) -> list[str]:
        return [k for k, p in self.procs.items() if p.poll() is None]

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, sig)
        proc.wait(timeout=PATIENCE)

    def restart_redis(self) -> None:
        self.redis.restart()

    def metrics(self) -> dict[str, Any]:
        assert self.board is not None
        per_worker = self.board.metrics()
        return {"workers": per_worker, "fleet": fleet_totals(per_worker)}

    # ------------------------------------------------------------- stop

    def stop(self) -> dict[str, Any]:
        """Stop everything; the metrics as the workers last published them."""
        _end(self.runner, signal.SIGINT)  # (its block poller ends on the next heartbeat)
        self.runner = None
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None
        # the runner's shutdown task made each worker give back its leases and log its
        # summary; a worker still running is ended (SIGINT makes ape raise in the event loop)
        for proc in self.procs.values():
            _signal(proc, signal.SIGTERM)
        for proc in self.procs.values():
            _end(proc, signal.SIGTERM)
        summary: dict[str, Any] = {}
        if self.board is not None:
            try:
                summary = self.metrics()
            except Exception:  # noqa: BLE001 - Redis already gone
                summary = {}
            self.board.close()
        self.redis.stop()
        return summary

    def __enter__(self) -> LocalFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_RUNNER = "bulkhead.keeper.fleet.runner:FleetRunner"

_SUMMED = (
    "cycles", "positions_scanned", "view_calls", "rpc_requests", "rpc_round_trips",
    "liquidations", "adjustments", "deleverages", "top_ups", "boosts", "stop_losses",
    "gas_spent_wei",
    "gas_spent_usd", "txs_sent", "fee_bumps", "fee_capped", "cancels", "nonce_resyncs",
    "reconnects", "index_resets",
)  # fmt: skip
_COUNTED = ("failures", "skips", "simulated", "fleet")


def fleet_totals(per_worker: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The fleet's metrics: every worker's counts added up."""
    out: dict[str, Any] = {"workers": len(per_worker)}
    for key in _SUMMED:
        out[key] = sum(s.get(key, 0) for s in per_worker.values())
    out["gas_spent_usd"] = round(out["gas_spent_usd"], 6)
    out["bounty_usd"] = round(sum(s["bounty_usd"]["total"] for s in per_worker.values()), 6)
    for key in _COUNTED:
        total: Counter = Counter()
        for s in per_worker.values():
            total.update(s.get(key) or {})
        out[key] = dict(sorted(total.items()))
    blocks = [s["blocks_to_liquidation"] for s in per_worker.values()]
    maxes = [b["max"] for b in blocks if b["count"]]
    out["blocks_to_liquidation"] = {
        "count": sum(b["count"] for b in blocks),
        "max": max(maxes) if maxes else None,
    }
    return out


def _signal(proc: subprocess.Popen | None, sig: int) -> None:
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)


def _end(proc: subprocess.Popen | None, sig: int, timeout: float = 60.0) -> None:
    """Signal `proc`'s group and wait; SIGKILL if it does not end within `timeout`."""
    if proc is None:
        return
    _signal(proc, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal(proc, signal.SIGKILL)
        proc.wait()
