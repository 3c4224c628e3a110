"""The Bulkhead risk steward on Silverback: wiring only; the work is `bulkhead.steward.Steward.step`.

    silverback run bots.steward:bot --network ethereum:local:http://127.0.0.1:8545

One pass when the bot starts, then one on the first block after each BULKHEAD_STEWARD_INTERVAL
seconds (default 60: the factory's least steward cooldown). Configured from the environment
(see `bulkhead.steward.runner.steward_from_env`): BULKHEAD_MANIFEST, BULKHEAD_ACCOUNT |
BULKHEAD_KEYSTORE | BULKHEAD_PRIVATE_KEY (default: the named steward's dev account on a
local chain), BULKHEAD_DRY_RUN, BULKHEAD_STEWARD_WINDOW [seconds], BULKHEAD_LOG_FORMAT, and
BULKHEAD_HEARTBEAT (seconds; on an automine dev node an empty block is mined whenever the
chain stood still that long, default 2, 0 = off: the keeper's `Heartbeat`). The steward
sends from its own account, so Silverback's signer is not used. `bulkhead steward run` runs
the same Steward without Silverback.
"""

import os
import time

from ape import chain
from silverback import SilverbackBot

from bulkhead.keeper.runner import Heartbeat
from bulkhead.steward.runner import steward_from_env

bot = SilverbackBot()


def _pass() -> dict:
    bot.state.last_pass = time.monotonic()
    report = bot.state.steward.step()
    return {"pools": len(report.assessments), "changes": len(report.sent)}


@bot.on_startup()
def start(_startup_state):
    w3 = bot.provider.web3
    bot.state.steward = steward_from_env(w3)
    bot.state.interval = float(os.environ.get("BULKHEAD_STEWARD_INTERVAL") or 60)
    every = float(os.environ.get("BULKHEAD_HEARTBEAT") or 2)
    bot.state.heartbeat = Heartbeat(w3, every).start() if every and Heartbeat.needed(w3) else None
    return _pass()


@bot.on_(chain.blocks)
def on_block(_block):
    if time.monotonic() - bot.state.last_pass < bot.state.interval:
        return None
    return _pass()


@bot.on_shutdown()
def stop():
    if bot.state.heartbeat:
        bot.state.heartbeat.stop()
    steward = bot.state.steward
    steward.log("summary", **steward.summary())
