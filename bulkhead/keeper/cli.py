"""`bulkhead keeper ...`: the click group the main CLI attaches (`cli.add_command(keeper)`).

`bulkhead keeper run` logs one JSON object per line on stderr while it works and prints
the summary on exit: a table by default, JSON with `--json`. A user mistake (no manifest,
no node, no account) is one line on stderr and exit code 1.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import click

from bulkhead import fmt
from bulkhead.errors import BulkheadError
from bulkhead.keeper.model import MAX_BATCH
from bulkhead.keeper.runner import (
    check_batch_size,
    unfunded_message,
)
from bulkhead.keeper.runner import run as run_keeper
from bulkhead.options import (
    NUMBER,
    account_options,
    log_format_option,
    node_options,
    seconds_option,
)


class _BatchSize(click.ParamType):
    """A whole number of positions per batch, 1 to `MAX_BATCH`."""

    name = "integer"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        try:
            return check_batch_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


BATCH_SIZE = _BatchSize()


@click.group("keeper")
def keeper() -> None:
    """The keeper bot: liquidations and automated position adjustments."""


@keeper.command("run")
@node_options
@account_options(
    "env BULKHEAD_PRIVATE_KEY, else dev account 7, the keeper's own, which `bulkhead demo` funds",
    prompt=False,
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Simulate and report; send nothing (loops unless --once; each action counts once).",
)
@click.option("--once", is_flag=True, help="One pass (waits for its receipts), then exit.")
@click.option("--max-fee", type=NUMBER, help="Cap on the max fee per gas [gwei] (default: no cap).")
@click.option(
    "--priority-fee", type=NUMBER, help="Priority fee per gas [gwei] (default: the node's)."
)
@seconds_option("--poll-interval", default=2.0, least=0.05, help="Seconds between passes.")
@click.option(
    "--native-price",
    type=NUMBER,
    help="USD per native coin, to price gas (default: the WETH pool).",
)
@click.option(
    "--min-profit",
    type=NUMBER,
    default=Decimal(0),
    show_default=True,
    help="Least USD an action must earn above gas.",
)
@click.option(
    "--batch-size",
    type=BATCH_SIZE,
    default=MAX_BATCH,
    show_default=True,
    help="Most positions per liquidate_many transaction, also bounded by the block gas "
    "limit; 1 sends one liquidate per position.",
)
@click.option(
    "--clear-under-water/--no-clear-under-water",
    default=True,
    show_default=True,
    help="Liquidate positions whose collateral is worth less than their debt plus the fee: "
    "no bounty, only gas, but the pool records its loss instead of charging a fee on it.",
)
@log_format_option("text with amounts in tokens")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve the counters in the Prometheus text format on "
    "http://127.0.0.1:PORT/metrics (0: any free port, logged).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run(
    rpc_url: str,
    manifest: str,
    account: int | None,
    keystore: str | None,
    dry_run: bool,
    once: bool,
    max_fee: Decimal | None,
    priority_fee: Decimal | None,
    poll_interval: float,
    native_price: Decimal | None,
    min_profit: Decimal,
    batch_size: int,
    clear_under_water: bool,
    log_format: str,
    as_json: bool,
    metrics_port: int | None = None,
) -> None:
    """Liquidate unhealthy positions and carry out owners' due rules (protections, top-ups,
    boosts, stop-losses). No liquidation while a pool is paused or in its grace window
    after an unpause (logged once per window); the rules go on."""
    try:
        summary = run_keeper(
            rpc_url=rpc_url,
            manifest=manifest,
            account=account,
            keystore=keystore,
            dry_run=dry_run,
            once=once,
            max_fee=max_fee,
            priority_fee=priority_fee,
            poll_interval=poll_interval,
            native_price=native_price,
            min_profit=min_profit,
            batch_size=batch_size,
            clear_under_water=clear_under_water,
            log_format=log_format,
            metrics_port=metrics_port,
        )
    except BulkheadError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(format_summary(summary))
    unfunded = summary.get("unfunded")
    if unfunded:
        message = unfunded_message(unfunded, local=summary["local_chain"])
        if once:  # a pass that could not do what was due did not do its job
            raise click.ClickException(message)
        click.echo(f"warning: {message}", err=True)


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a two-column table."""
    blocks = summary["blocks_to_liquidation"]
    rows = [
        ("cycles", summary["cycles"]),
        ("positions scanned", summary["positions_scanned"]),
        ("scan rate [positions/s]", summary["scan_rate"]),
        ("liquidations", summary["liquidations"]),
        ("deleverages", summary["deleverages"]),
        ("top-ups", summary["top_ups"]),
        ("boosts", summary["boosts"]),
        ("stop-losses", summary.get("stop_losses", 0)),
        ("bounty [USD]", summary["bounty_usd"]["total"]),
        ("gas spent [USD]", summary["gas_spent_usd"]),
        (
            "blocks unsafe -> liquidated",
            f"min {blocks['min']} median {blocks['median']} max {blocks['max']}"
            if blocks["count"]
            else "-",
        ),
        ("transactions sent", summary["txs_sent"]),
        ("fee bumps", summary["fee_bumps"]),
        ("failures", _pairs(summary["failures"])),
        ("skips", _pairs(summary["skips"])),
    ]
    if summary["simulated"]:
        rows.append(("dry run: would send", _pairs(summary["simulated"])))
    closed = _closed_pools(summary.get("pools", {}))
    if closed:
        rows.append(("liquidations held", closed))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _closed_pools(pools: dict[str, dict[str, Any]]) -> str:
    """The pools whose liquidations were closed at the last pass: `VOL paused`, `WETH grace
    window until 2026-12-03 19:30:05 UTC (1200 s)`; empty when all were open."""
    parts = []
    for name, p in pools.items():
        if p.get("liquidations") == "paused":
            parts.append(f"{name} paused")
        elif p.get("liquidations") == "grace_window":
            parts.append(
                f"{name} grace window until {fmt.timestamp(p['grace_end'])} "
                f"({p['grace_seconds_left']} s)"
            )
    return ", ".join(parts)


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def main() -> None:  # `python -m bulkhead.keeper.cli run ...` until the main CLI attaches it
    keeper(prog_name="bulkhead keeper")


if __name__ == "__main__":
    main()
