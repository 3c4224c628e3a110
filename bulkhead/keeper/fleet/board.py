"""The fleet's shared state in Redis: who is alive, who holds which partition, metrics.

Keys, under `bulkhead:fleet:<fleet>:`:
- `lease:<pool>:<k>`: the worker holding partition (pool, k), with a time to live that the
  holder renews at every step (`ttl_ms`): a worker that hangs loses its leases;
- `holder` (hash): partition -> the worker that last held it (kept after a lease expires,
  so that a taker first waits for that worker's transactions to be mined);
- `workers` (hash): worker -> its record (address, block of its last step, partitions);
- `metrics` (hash): worker -> its metrics summary, as of its last step.

A worker is alive while its named Redis connection is open (each worker's client names its
connections `bulkhead-fleet.<fleet>.<worker>`; a worker killed by SIGKILL drops them at once),
or, in the first `grace_s` after the server (re)started, while its last step is younger
than the lease time to live. Leases are taken and renewed by one Lua script, atomically:
a partition is taken only from no one, from ourselves, or from the holder we expected.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from bulkhead.keeper.fleet.partition import Partition

CLIENT_PREFIX = "bulkhead-fleet"
DEFAULT_TTL_MS = 30_000  # [ms] a lease not renewed for this long is free
GRACE_S = 5.0  # [s] after a server (re)start, workers have this long to reconnect

_CLAIM = """
local holder_key = KEYS[#KEYS]
local out = {}
for i = 1, #KEYS - 1 do
  local cur = redis.call('GET', KEYS[i])
  if cur == false or cur == ARGV[1] or cur == ARGV[i + 3] then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
    redis.call('HSET', holder_key, ARGV[i + 3 + #KEYS - 1], ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
# ARGV: me, ttl, (unused), expected holder per key..., partition name per key...

_RELEASE = """
local holder_key = KEYS[#KEYS]
local out = 0
for i = 1, #KEYS - 1 do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    if redis.call('HGET', holder_key, ARGV[i + 1]) == ARGV[1] then
      redis.call('HDEL', holder_key, ARGV[i + 1])
    end
    out = out + 1
  end
end
return out
"""


@dataclass
class View:
    """What a worker sees of the fleet at one moment."""

    live: list[str]  # workers alive
    leases: dict[Partition, str]  # partition -> holder of its live lease
    last: dict[Partition, str]  # partition -> last holder (lease live or not)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # worker -> record

    def address(self, worker: str) -> str | None:
        return self.records.get(worker, {}).get("address")


class Board:
    """One worker's (or an observer's) handle on a fleet's state in Redis."""

    def __init__(
        self,
        url: str,
        fleet: str = "default",
        worker: str | None = None,
        ttl_ms: int = DEFAULT_TTL_MS,
        grace_s: float = GRACE_S,
    ):
        self.fleet, self.worker, self.ttl_ms, self.grace_s = fleet, worker, ttl_ms, grace_s
        self.prefix = f"bulkhead:fleet:{fleet}:"
        name = f"{CLIENT_PREFIX}.{fleet}.{worker}" if worker else f"{CLIENT_PREFIX}-observer"
        self.redis = redis.Redis.from_url(
            url,
            client_name=name,
            decode_responses=True,
            socket_timeout=10,
            socket_connect_timeout=5,
            health_check_interval=5,
        )
        self._claim = self.redis.register_script(_CLAIM)
        self._release = self.redis.register_script(_RELEASE)

    def key(self, what: str) -> str:
        return self.prefix + what

    def lease_key(self, p: Partition) -> str:
        return self.key("lease:" + p.key())

    # ----------------------------------------------------------- reading

    def view(self, parts: list[Partition]) -> View:
        """The live workers, and the holders of `parts` (two round trips)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.client_list()
        pipe.info("server")
        pipe.hgetall(self.key("workers"))
        pipe.hgetall(self.key("holder"))
        if parts:
            pipe.mget([self.lease_key(p) for p in parts])
        results = pipe.execute()
        clients, info, records_raw, last_raw = results[:4]
        holders = results[4] if parts else []
        records = {str(w): json.loads(r) for w, r in records_raw.items()}
        prefix = f"{CLIENT_PREFIX}.{self.fleet}."
        connected = {c["name"][len(prefix) :] for c in clients if c["name"].startswith(prefix)}
        if float(info.get("uptime_in_seconds", 0)) < self.grace_s:
            now = time.time()
            recent = {w for w, r in records.items() if now - r.get("ts", 0) < self.ttl_ms / 1000}
            connected |= recent
        leases = {p: h for p, h in zip(parts, holders) if h}
        last = {Partition.from_key(str(k)): str(w) for k, w in last_raw.items()}
        return View(sorted(connected), leases, last, records)

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Every worker's last published metrics summary."""
        raw = self.redis.hgetall(self.key("metrics"))
        return {str(w): json.loads(v) for w, v in sorted(raw.items())}

    def records(self) -> dict[str, dict[str, Any]]:
        raw = self.redis.hgetall(self.key("workers"))
        return {str(w): json.loads(v) for w, v in sorted(raw.items())}

    # ----------------------------------------------------------- writing

    def claim(self, wanted: dict[Partition, str | None]) -> set[Partition]:
        """Take or renew each partition of `wanted` (partition -> the holder we expect to
        take it from, None for no one); the ones now ours."""
        if not wanted:
            return set()
        parts = sorted(wanted)
        keys = [self.lease_key(p) for p in parts] + [self.key("holder")]
        argv: list[str | int] = [str(self.worker), self.ttl_ms, ""]
        argv += [wanted[p] or "" for p in parts] + [p.key() for p in parts]
        got = self._claim(keys=keys, args=argv)
        return {p for p, ok in zip(parts, got) if ok}

    def still_mine(self, parts: set[Partition]) -> set[Partition]:
        """Of `parts`, those whose lease is still ours (one round trip)."""
        if not parts:
            return set()
        ordered = sorted(parts)
        holders = self.redis.mget([self.lease_key(p) for p in ordered])
        return {p for p, h in zip(ordered, holders) if h == self.worker}

    def release(self, parts: set[Partition]) -> int:
        if not parts:
            return 0
        ordered = sorted(parts)
        keys = [self.lease_key(p) for p in ordered] + [self.key("holder")]
        args = [str(self.worker)] + [p.key() for p in ordered]
        return int(self._release(keys=keys, args=args))

    def publish(self, record: dict[str, Any], summary: dict[str, Any] | None = None) -> None:
        """Our record (address, block, partitions...) and our metrics summary."""
        record = {**record, "ts": time.time(), "pid": os.getpid()}
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.key("workers"), self.worker, json.dumps(record, default=str))
        if summary is not None:
            pipe.hset(self.key("metrics"), self.worker, json.dumps(summary, default=str))
        pipe.execute()

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self.redis.close()
