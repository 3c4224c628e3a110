"""`bulkhead demo`: the whole protocol on a local chain, in well under a minute.

`run()` starts an embedded Anvil unless given a node, then runs the steps in `STEPS` in
order over one `DemoContext`, and returns the summary (a dict; `render` prints it):

    deploy          bhUSD, the factory, the lens and the three default pools
    fund_borrowers  six dev accounts mint mock collateral and approve the pools
    open_positions  60 positions, 20 per pool, borrowed at 25 % to 97 % of max LTV
    save            three borrowers put half of their bhUSD into the savings vault
    pass_time       90 days pass; each pool accrues its stability fee into its reserve
    sweep_fees      anyone sweeps each reserve above its target into the vault; a day
                    passes while the vault streams it into its share price
    move_prices     a moderate drop: WETH -12 %, WBTC -10 %, VOL -22 %
    protect         some owners set protections (deleverage), top-ups and boosts on the
                    automation (PositionAutomation), as its operator on the pool
    stop loss       a borrower opens one more WETH position with a stop-loss at 2,300 USD
    keeper          a keeper (dev account 7) gets bhUSD and starts: the same `Keeper` as
                    `bulkhead keeper run`; it clears what the drop made liquidatable
    pause           governance pauses VOL before the crash (liquidations wait, rules go on)
    crash           three more drops of 8 % per pool; the keeper runs after each (and
                    closes the stop-loss position when WETH gets to its price)
    grace window    governance unpauses VOL: liquidations wait its grace period; the demo
                    moves the node's clock past it and the keeper liquidates
    verify          nothing may be left liquidatable (else the demo exits non-zero); the
                    stop-loss and the grace window are read back from the chain
    (the stop-loss, pause and grace window steps live in `bulkhead.demo.controls`)

Later steps (a keeper run, protections, the savings vault) are functions of the same shape,
`step(ctx)`, appended to `STEPS`; they add lines to `ctx.notes` and the summary shows
them. The summary ends with bhUSD's accounting identity, checked on chain; `ok` is False
(and `bulkhead demo` exits non-zero) when a step fails or the identity does not hold.

Transactions of one step go out without waiting for each receipt (the node orders each
account's by nonce, and nothing in a step depends on another account's transaction);
every receipt is checked before the next step starts.

A package: `context.py` (settings, `DemoContext`, shared helpers), `steps.py`, `controls.py`
(stop-loss, pause, grace window), `report.py` (the summary and its text); `run` is here.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable

from web3 import Web3

from bulkhead.chain import LOCAL_CHAIN_IDS, Sender, TxError
from bulkhead.client import UserError, connect
from bulkhead.demo.context import BORROWERS, KEEPER_ACCOUNT, DemoContext, DemoError
from bulkhead.demo.report import render, summarize
from bulkhead.demo.steps import STEPS
from bulkhead.deploy import ConfigError
from bulkhead.eth.accounts import STEWARD_DEV_ACCOUNT
from bulkhead.node import Anvil

__all__ = ["STEPS", "DemoContext", "DemoError", "render", "run"]


def run(
    rpc_url: str | None = None,
    manifest: str | None = None,
    seed: int = 7,
    log: Callable[[str], None] = print,
    steps: list[tuple[str, Callable[[DemoContext], None]]] | None = None,
) -> dict:
    """Run the demo; returns the summary (`summary["ok"]` tells whether it all worked).

    Without `rpc_url`, an embedded Anvil runs on a free port and is stopped at the end,
    also on an error or Ctrl-C. A node that cannot be reached raises NodeError.
    """
    started = time.monotonic()
    anvil = None
    record: list[dict] = []
    summary: dict = {}
    try:
        if rpc_url is None:
            anvil = Anvil(accounts=STEWARD_DEV_ACCOUNT + 1).start()  # up to the steward's
            rpc_url = anvil.rpc_url
            log(f"embedded Anvil on {rpc_url}")
        w3 = connect(rpc_url)
        chain_id = w3.eth.chain_id
        if chain_id not in LOCAL_CHAIN_IDS:
            raise UserError(f"the demo runs on local dev chains only, not on chain id {chain_id}")
        dev = w3.eth.accounts
        if len(dev) < KEEPER_ACCOUNT + 1:
            raise UserError(
                f"the demo needs {KEEPER_ACCOUNT + 1} dev accounts; the node has {len(dev)}"
            )
        ctx = DemoContext(
            w3=w3,
            rpc_url=rpc_url,
            admin=Sender(w3, dev[0]),
            borrowers=[Web3.to_checksum_address(a) for a in dev[1 : BORROWERS + 1]],
            rng=random.Random(seed),
            log=log,
            manifest=manifest,
        )
        failed = False
        for name, step in steps or STEPS:
            t0 = time.monotonic()
            log(f"{name} ...")
            try:
                step(ctx)
            except (DemoError, TxError, UserError, ConfigError) as exc:
                record.append({"name": name, "seconds": time.monotonic() - t0, "error": str(exc)})
                failed = True
                break
            except Exception:  # a bug: keep its trace for the report, one line here
                trace = traceback.format_exc(limit=3).strip().splitlines()[-1]
                record.append({"name": name, "seconds": time.monotonic() - t0, "error": trace})
                failed = True
                break
            record.append({"name": name, "seconds": round(time.monotonic() - t0, 2)})
        if ctx.client is not None:
            summary = summarize(ctx)
        summary["ok"] = not failed and summary.get("accounting", {}).get("ok", False)
    finally:
        if anvil is not None:
            anvil.stop()
    summary["steps"] = record
    summary["rpc_url"] = rpc_url
    summary["seconds"] = round(time.monotonic() - started, 2)
    return summary
