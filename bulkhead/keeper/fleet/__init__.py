"""A keeper fleet: the keeper on Silverback task workers over Redis (`bulkhead keeper fleet`).

- `partition`: the work split into (pool, id range) partitions and who should hold each;
- `board`: leases, liveness and metrics in Redis;
- `worker`: `FleetWorker`, the ordinary `Keeper` restricted to the partitions it leases;
- `silverback`, `runner`: the broker, result backend and runner of Silverback's
  distributed mode;
- `bot`: the fleet side of `bots/keeper.py`;
- `local`: `LocalFleet`, Redis, the runner and N workers started and stopped on one machine;
- `server`: `RedisServer`, Debian's redis-server on a free port;
- `cli`: `bulkhead keeper fleet`.
"""
