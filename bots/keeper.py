"""The Bulkhead keeper on Silverback: wiring only; the work is `bulkhead.keeper.Keeper.step`.

    silverback run bots.keeper:bot --network ethereum:local:http://127.0.0.1:8545

Configured from the environment (see `bulkhead.keeper.runner.keeper_from_env`):
BULKHEAD_MANIFEST, BULKHEAD_ACCOUNT | BULKHEAD_KEYSTORE | BULKHEAD_PRIVATE_KEY,
BULKHEAD_DRY_RUN, BULKHEAD_MAX_FEE [gwei], BULKHEAD_BATCH_SIZE, BULKHEAD_CLEAR_UNDER_WATER,
BULKHEAD_LOG_FORMAT, BULKHEAD_HEARTBEAT (seconds; on an automine dev node an empty block is
mined whenever the chain stood still that long, default 2, 0 = off). The keeper signs and counts its own nonces, so
Silverback's own signer is not used. `bulkhead keeper run` runs the same Keeper without
Silverback.
"""

import os
import sys

from ape import chain
from silverback import SilverbackBot

from bulkhead.keeper.runner import Heartbeat, keeper_from_env

bot = SilverbackBot()


@bot.on_startup()
def start(startup_state):
    w3 = bot.provider.web3
    bot.state.keeper = keeper_from_env(w3)
    # an automine dev node mines only on transactions: give the block poller a heartbeat
    every = float(os.environ.get("BULKHEAD_HEARTBEAT") or 2)
    bot.state.heartbeat = Heartbeat(w3, every).start() if every and Heartbeat.needed(w3) else None
    if bot.state.heartbeat:
        bot.state.keeper.log("heartbeat", every_s=every)


@bot.on_(chain.blocks)
def on_block(block):
    report = bot.state.keeper.step()
    return {"scanned": report.scanned, "sent": report.sent, "scan_ms": report.scan_seconds * 1000}


@bot.on_shutdown()
def stop():
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
