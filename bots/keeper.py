"""The Bulkhead keeper on Silverback: wiring only; the work is `bulkhead.keeper.Keeper.step`.

    silverback run bots.keeper:bot --network ethereum:local:node

Configured from the environment (see `bulkhead.keeper.runner.keeper_from_env`):
BULKHEAD_MANIFEST, BULKHEAD_ACCOUNT | BULKHEAD_KEYSTORE | BULKHEAD_PRIVATE_KEY,
BULKHEAD_DRY_RUN, BULKHEAD_MAX_FEE [gwei], BULKHEAD_BATCH_SIZE, BULKHEAD_CLEAR_UNDER_WATER,
BULKHEAD_LOG_FORMAT. The keeper signs and counts its own nonces, so
Silverback's own signer is not used. `bulkhead keeper run` runs the same Keeper without
Silverback.
"""

from ape import chain
from silverback import SilverbackBot

from bulkhead.keeper.runner import keeper_from_env

bot = SilverbackBot()


@bot.on_startup()
def start(startup_state):
    bot.state.keeper = keeper_from_env(bot.provider.web3)


@bot.on_(chain.blocks)
def on_block(block):
    report = bot.state.keeper.step()
    return {"scanned": report.scanned, "sent": report.sent, "scan_ms": report.scan_seconds * 1000}


@bot.on_shutdown()
def stop():
    keeper = bot.state.keeper
    keeper.log("summary", **keeper.metrics.summary())
