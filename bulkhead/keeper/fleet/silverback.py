"""Silverback's distributed mode for the fleet: its broker, result backend and runner.

`silverback run` (the runner) turns each new block into a task and `silverback worker`
processes carry tasks out; here the broker is Redis publish/subscribe (taskiq-redis's
`PubSubBroker`), so that every worker gets every block task and acts on its own partitions.
On top of taskiq-redis, these ride out a Redis restart: the broker resubscribes and retries
a publish until the server answers; the result backend answers "not ready" while the server
is away and gives up on a result after `RESULT_PATIENCE` (a task published while no worker
listened has none; the runner must not wait for it forever); the runner keeps polling
blocks past ape's 10 s timeout for local nodes (`FleetRunner`, in `fleet.runner`).

`silverback_env(url, fleet)` is the environment that selects all three; `bots/keeper.py`
applies it when BULKHEAD_FLEET_REDIS is set.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import TaskiqResult
from taskiq.message import BrokerMessage
from taskiq_redis import PubSubBroker, RedisAsyncResultBackend

logger = logging.getLogger("bulkhead.fleet")
AWAY = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
RETRY_CAP = 2.0  # [s] longest wait between two tries while Redis is away
PUBLISH_PATIENCE = 300.0  # [s] a publish gives up after this long without Redis
RESULT_PATIENCE = 120.0  # [s] the runner stops waiting for a task's result after this long
RESULT_TTL = 120  # [s] a result kept in Redis


def queue_name(fleet: str) -> str:
    return f"bulkhead-fleet:{fleet}:tasks"


def silverback_env(url: str, fleet: str = "default") -> dict[str, str]:
    """SILVERBACK_* settings for a fleet over the Redis at `url`."""
    import json

    here = "bulkhead.keeper.fleet.silverback"
    return {
        "SILVERBACK_BROKER_CLASS": f"{here}:FleetBroker",
        "SILVERBACK_BROKER_KWARGS": json.dumps({"url": url, "queue_name": queue_name(fleet)}),
        "SILVERBACK_RESULT_BACKEND_CLASS": f"{here}:FleetResultBackend",
        "SILVERBACK_RESULT_BACKEND_KWARGS": json.dumps(
            {
                "redis_url": url,
                "result_ex_time": RESULT_TTL,
                "prefix_str": f"bulkhead-fleet:{fleet}",
            }
        ),
    }


class FleetBroker(PubSubBroker):
    """Every worker gets every task; survives a Redis restart."""

    async def kick(self, message: BrokerMessage) -> None:
        deadline = time.monotonic() + PUBLISH_PATIENCE
        delay = 0.1
        while True:
            try:
                await super().kick(message)
                return
            except AWAY as exc:
                if time.monotonic() > deadline:
                    raise
                logger.warning("redis away (%s): publish again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP)

    async def listen(self) -> AsyncGenerator[bytes, None]:
        delay = 0.1
        while True:
            try:
                async for data in super().listen():
                    delay = 0.1
                    yield data
            except AWAY as exc:
                logger.warning("redis away (%s): subscribe again in %.1f s", exc, delay)
                await self.connection_pool.disconnect()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP)


class FleetResultBackend(RedisAsyncResultBackend):
    """Results in Redis for `RESULT_TTL`; a result lost to a restart is given up on."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._asked: dict[str, float] = {}

    async def set_result(self, task_id: str, result: TaskiqResult) -> None:
        try:
            await super().set_result(task_id, result)
        except AWAY as exc:
            logger.warning("redis away (%s): result of %s not stored", exc, task_id)

    async def is_result_ready(self, task_id: str) -> bool:
        first = self._asked.setdefault(task_id, time.monotonic())
        try:
            ready = await super().is_result_ready(task_id)
        except AWAY:
            ready = False
        if ready:
            return True
        return time.monotonic() - first > RESULT_PATIENCE

    async def get_result(self, task_id: str, with_logs: bool = False) -> TaskiqResult:
        self._asked.pop(task_id, None)
        try:
            return await super().get_result(task_id, with_logs=with_logs)
        except Exception:  # noqa: BLE001 - missing (lost to a restart) or Redis away
            return TaskiqResult(is_err=False, log=None, return_value=None, execution_time=0.0)
