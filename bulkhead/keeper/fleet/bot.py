"""The fleet side of `bots/keeper.py`: one `FleetWorker` per `silverback worker` process.

Configured from the environment: BULKHEAD_FLEET_REDIS (the Redis URL; its presence selects
the distributed mode), BULKHEAD_FLEET (the fleet's name, default "default"),
BULKHEAD_WORKER (this worker's name, default host-pid), BULKHEAD_PARTITION_SIZE (position
ids per partition), BULKHEAD_LEASE_TTL [s], BULKHEAD_RECEIPT_WAIT [s] (default 0: the next
block's step collects receipts), BULKHEAD_STUCK_SECONDS; the keeper itself as
`keeper_from_env` reads it (BULKHEAD_ACCOUNT, BULKHEAD_DRY_RUN, ...).
"""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bulkhead.keeper.fleet.board import DEFAULT_TTL_MS, Board
from bulkhead.keeper.fleet.partition import DEFAULT_SIZE
from bulkhead.keeper.fleet.silverback import silverback_env
from bulkhead.keeper.fleet.worker import FleetWorker
from bulkhead.keeper.runner import keeper_from_env

_worker: FleetWorker | None = None


def settings(env: Mapping[str, str]) -> dict[str, str]:
    """The SILVERBACK_* settings of the fleet named in `env` (those already set win)."""
    wanted = silverback_env(env["BULKHEAD_FLEET_REDIS"], env.get("BULKHEAD_FLEET") or "default")
    return {k: v for k, v in wanted.items() if not env.get(k)}


def worker_name(env: Mapping[str, str]) -> str:
    return env.get("BULKHEAD_WORKER") or f"{socket.gethostname()}-{os.getpid()}"


def make_worker(w3: Any, env: Mapping[str, str] | None = None) -> FleetWorker:
    env = os.environ if env is None else env
    name = worker_name(env)
    keeper = keeper_from_env(w3, {**env, "BULKHEAD_WORKER": name})
    keeper.config.receipt_wait = float(env.get("BULKHEAD_RECEIPT_WAIT") or 0)
    if env.get("BULKHEAD_STUCK_SECONDS"):
        keeper.config.stuck_seconds = float(env["BULKHEAD_STUCK_SECONDS"])
    ttl_ms = int(float(env.get("BULKHEAD_LEASE_TTL") or DEFAULT_TTL_MS / 1000) * 1000)
    size = int(env.get("BULKHEAD_PARTITION_SIZE") or DEFAULT_SIZE)
    fleet = env.get("BULKHEAD_FLEET") or "default"
    board = Board(env["BULKHEAD_FLEET_REDIS"], fleet, name, ttl_ms=ttl_ms)
    worker = FleetWorker(keeper, board, size)
    keeper.log("fleet_worker", fleet=fleet, partition_size=size, lease_ttl_ms=ttl_ms)
    return worker


def start_worker(bot: Any) -> None:
    """Once per process: the keeper and its lease board (also a Silverback `bot.state` for a
    worker that joined after the runner's startup tasks went out)."""
    global _worker
    if not hasattr(bot, "state"):
        from silverback.main import SharedState

        bot.state = SharedState()
    if _worker is None:
        _worker = make_worker(bot.provider.web3)


def on_block(number: int) -> dict[str, Any]:
    worker = _worker
    if worker is None:
        return {"block": number, "ready": False}
    try:
        report = worker.step()
    except Exception as exc:  # noqa: BLE001 - the node or Redis away: the next block retries
        worker.keeper.metrics.failures["step_error"] += 1
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        worker.keeper.log(
            "step_failed",
            block=number,
            error=f"{type(exc).__name__}: {exc}"[:300],
            where=f"{Path(frame.filename).name}:{frame.lineno} {frame.name}",
        )
        return {"block": number, "error": type(exc).__name__}
    if report is None:
        return {"block": number, "stepped": False}
    return {
        "block": report.block,
        "partitions": len(worker.owned),
        "scanned": report.scanned,
        "sent": report.sent,
    }


def stop_worker() -> None:
    global _worker
    worker, _worker = _worker, None
    if worker is not None:
        summary = worker.stop()
        worker.keeper.log("summary", **summary)
