"""The Bulkhead keeper on Silverback: wiring only; the work is `bulkhead.keeper.Keeper.step`.

    silverback run bots.keeper:bot --network ethereum:local:http://127.0.0.1:8545

Configured from the environment (see `bulkhead.keeper.runner.keeper_from_env`):
BULKHEAD_MANIFEST, BULKHEAD_ACCOUNT | BULKHEAD_KEYSTORE | BULKHEAD_PRIVATE_KEY,
BULKHEAD_DRY_RUN, BULKHEAD_MAX_FEE [gwei], BULKHEAD_BATCH_SIZE, BULKHEAD_CLEAR_UNDER_WATER,
BULKHEAD_LOG_FORMAT, BULKHEAD_HEARTBEAT (seconds; on an automine dev node an empty block is
mined whenever the chain stood still that long, default 2, 0 = off). The keeper signs and counts its own nonces, so
Silverback's own signer is not used. `bulkhead keeper run` runs the same Keeper without
Silverback.

Distributed mode (a keeper fleet, `bulkhead.keeper.fleet`): with BULKHEAD_FLEET_REDIS set
to a Redis URL, the same bot runs on Silverback task workers over Redis. One runner

    silverback run bots.keeper:bot --runner bulkhead.keeper.fleet.runner:FleetRunner ...

turns blocks into tasks that every worker gets, and each of N workers

    BULKHEAD_WORKER=w1 BULKHEAD_ACCOUNT=8 silverback worker -w 1 bots.keeper:bot ...

(each with its own account) acts on the partitions it leases in Redis. BULKHEAD_FLEET
names the fleet, BULKHEAD_PARTITION_SIZE sets the ids per partition, BULKHEAD_LEASE_TTL the
lease time to live [s]. No heartbeat in this mode: `bulkhead keeper fleet` runs one, and
starts and stops all of it locally (`--workers N`).
"""

import os
import sys

from ape import chain
from silverback import SilverbackBot

from bulkhead.keeper.runner import Heartbeat, keeper_from_env

FLEET = bool(os.environ.get("BULKHEAD_FLEET_REDIS"))
if FLEET:
    from bulkhead.keeper.fleet import bot as fleet

    os.environ.update(fleet.settings(os.environ))

bot = SilverbackBot()

if FLEET:
    # every worker process, also one that joins a running fleet (no startup task reaches it)
    bot.on_worker_startup()(lambda _state: fleet.start_worker(bot))
    bot.on_worker_shutdown()(lambda _state: fleet.stop_worker())


@bot.on_startup()
def start(startup_state):
    if FLEET:
        return fleet.start_worker(bot)
    w3 = bot.provider.web3
    bot.state.keeper = keeper_from_env(w3)
    # an automine dev node mines only on transactions: give the block poller a heartbeat
    every = float(os.environ.get("BULKHEAD_HEARTBEAT") or 2)
    bot.state.heartbeat = Heartbeat(w3, every).start() if every and Heartbeat.needed(w3) else None
    if bot.state.heartbeat:
        bot.state.keeper.log("heartbeat", every_s=every)


@bot.on_(chain.blocks)
def on_block(block):
    if FLEET:
        return fleet.on_block(block.number)
    report = bot.state.keeper.step()
    return {"scanned": report.scanned, "sent": report.sent, "scan_ms": report.scan_seconds * 1000}


@bot.on_shutdown()
def stop():
    if FLEET:
        return fleet.stop_worker()
    if bot.state.heartbeat:
        bot.state.heartbeat.stop()
    keeper = bot.state.keeper
    keeper.log("summary", **keeper.metrics.summary())
    if keeper.metrics.cycles == 0:
        # no block ever came (Silverback itself would exit 0): fail loudly instead
        keeper.log("no_blocks", hint="a node that mines no blocks? set BULKHEAD_HEARTBEAT")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
