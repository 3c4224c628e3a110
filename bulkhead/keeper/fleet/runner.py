"""`FleetRunner`: Silverback's polling runner, whose block poller outlives a quiet node.

    silverback run bots.keeper:bot --runner bulkhead.keeper.fleet.runner:FleetRunner ...

ape's block poller gives up after 10 s without a block on a local node, and Silverback's
runner then stops; this one polls again (a dev node with automine mines only on demand).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ape import chain
from silverback.runner import PollingRunner
from silverback.utils import async_wrap_iter

logger = logging.getLogger("bulkhead.fleet")
NEW_BLOCK_TIMEOUT = 60  # [s] the poller waits this long for a block, then starts again


class FleetRunner(PollingRunner):
    async def _block_task(self, task_data: Any) -> None:
        while not self.shutdown_event.is_set():
            try:
                blocks = chain.blocks.poll_blocks(new_block_timeout=NEW_BLOCK_TIMEOUT)
                async for block in async_wrap_iter(blocks):
                    self._runtime_task_group.create_task(self.run_task(task_data, block))
            except Exception as exc:  # noqa: BLE001 - the node away or quiet: poll again
                logger.warning("block poller stopped (%s): polling again", exc)
                await asyncio.sleep(1.0)
