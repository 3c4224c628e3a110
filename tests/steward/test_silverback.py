"""`silverback run bots.steward:bot`: the Silverback twin makes a pass when it starts and
then on blocks (the heartbeat mines them on an idle automine node), acts from the steward's
dev account, and logs its summary when stopped."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bulkhead.artifacts import ROOT
from tests.steward.conftest import PATIENCE, STEWARD
from tests.steward.test_bot import volatile_hour


def decisions(log: Path) -> list[dict]:
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    return [x for x in lines if x["event"] == "decision" and x["pool"] == "WETH"]


def test_silverback_bot__volatile_feed__raises_the_haircut_then_holds_on_blocks(fresh, tmp_path):
    chain = fresh
    volatile_hour(chain, random.Random(5), 3_000.0)
    manifest = tmp_path / "deployment.json"
    chain.deployment.save(manifest)
    env = {**os.environ, "BULKHEAD_MANIFEST": str(manifest), "BULKHEAD_STEWARD_INTERVAL": "0"}
    for key in ("BULKHEAD_ACCOUNT", "BULKHEAD_PRIVATE_KEY", "BULKHEAD_DRY_RUN"):
        env.pop(key, None)
    silverback = Path(sys.executable).parent / "silverback"
    log = tmp_path / "bot.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [str(silverback), "run", "bots.steward:bot", "--network",
             f"ethereum:local:{chain.anvil.rpc_url}"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + PATIENCE  # a ceiling against a hang, not an expectation
        # the pass at start-up raises the haircut; a pass on a later block holds it
        while len(decisions(log)) < 2 or "Startup complete" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        first, second = decisions(log)[:2]
        assert (first["action"], first["new_bps"]) == ("raise", 500)
        assert second["action"] == "hold" and second["reason"].startswith("cooldown: ")
        assert chain.haircut("WETH") == 500
        (event,) = chain.haircut_events()
        assert event["caller"] == chain.accounts[STEWARD]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    events = [x["event"] for x in lines]
    assert events[0] == "start" and "haircut_set" in events and events[-1] == "summary"
    assert lines[-1]["changes"] == {"WETH": 1}
