"""`bulkhead keeper fleet`: a keeper fleet started and stopped on this machine.

It starts redis-server on a free port, N `silverback worker` processes (each with its own
account: dev accounts 9, 10, ... on a local chain, or one private key per line of `--keys`),
and the `silverback run` runner; it runs until Ctrl-C, SIGTERM or `--duration`, then stops
everything and prints each worker's metrics and the fleet's (a table, or JSON).
"""

from __future__ import annotations

import json
import signal
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from bulkhead.chain import LOCAL_CHAIN_IDS, Sender
from bulkhead.client import Client, UserError
from bulkhead.deploy import ConfigError, Deployment
from bulkhead.errors import BulkheadError
from bulkhead.keeper.cli import BATCH_SIZE
from bulkhead.keeper.fleet.partition import DEFAULT_SIZE
from bulkhead.keeper.runner import web3_for
from bulkhead.options import node_options, seconds_option
from bulkhead.risk import WAD

POLL_S = 1.0  # [s] between two looks at the processes


def _accounts(_ctx: Any, _param: Any, value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of account indexes like 9,10") from None


@click.command("fleet")
@node_options
@click.option(
    "--workers", "-w", type=click.IntRange(1, 32), default=2, show_default=True,
    help="Worker processes, each with its own account.",
)  # fmt: skip
@click.option(
    "--accounts",
    callback=_accounts,
    help="Dev account indexes of the workers on a local chain, e.g. 9,10 (default: 9, 10, ...: "
    "never the deployer's, the demo borrowers', the single keeper's or the steward's 0-8).",
)
@click.option(
    "--keys",
    type=click.Path(exists=True, dir_okay=False),
    help="A file with one private key per line, one per worker (a real chain).",
)
@click.option("--dry-run", is_flag=True, help="Every worker simulates its share; none sends.")
@click.option(
    "--fund-bhusd",
    type=click.FloatRange(min=0, min_open=True),
    help="Local chains: first give every worker this much bhUSD (the faucet: a new position "
    "of dev account 0 against fresh mock collateral).",
)
@click.option(
    "--batch-size", type=BATCH_SIZE, help="Most positions per liquidate_many transaction."
)
@click.option(
    "--partition-size",
    type=click.IntRange(min=1),
    default=DEFAULT_SIZE,
    show_default=True,
    help="Position ids per partition (the unit a worker leases).",
)
@seconds_option(
    "--lease-ttl",
    default=30.0,
    least=1,
    help="Seconds a lease lives unrenewed: a hung worker's partitions go after this long "
    "(a killed worker's at once).",
)
@click.option("--max-fee", type=click.FloatRange(min=0), help="Cap on the max fee [gwei].")
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    help="Stop after this many seconds (default: run until Ctrl-C or SIGTERM).",
)
@click.option(
    "--log-dir",
    type=click.Path(file_okay=False),
    help="Where each process logs (<name>.log; default: a new temporary folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def fleet(
    rpc_url: str,
    manifest: str,
    workers: int,
    accounts: list[int] | None,
    keys: str | None,
    dry_run: bool,
    fund_bhusd: float | None,
    batch_size: int | None,
    partition_size: int,
    lease_ttl: float,
    max_fee: float | None,
    duration: float | None,
    log_dir: str | None,
    as_json: bool,
) -> None:
    """Run the keeper as a fleet: N Silverback workers over a local Redis, each acting on
    the partitions of positions it leases."""
    from bulkhead.keeper.fleet.local import LocalFleet, dev_workers, key_workers

    try:
        deployment = Deployment.load(manifest)
        w3 = web3_for(rpc_url)
        try:
            Client.attach(w3, deployment, rpc_url)
        except UserError as exc:
            raise ConfigError(str(exc)) from None
        if fund_bhusd is not None and deployment.chain_id not in LOCAL_CHAIN_IDS:
            raise click.ClickException("--fund-bhusd works on local dev chains only")
        if keys:
            lines = [x.strip() for x in Path(keys).read_text().splitlines() if x.strip()]
            if len(lines) < workers:
                raise click.ClickException(f"{keys} holds {len(lines)} keys for {workers} workers")
            specs = key_workers(lines[:workers])
        else:
            specs = dev_workers(w3, workers, accounts)
        client = Client.attach(w3, deployment, rpc_url)
        for spec in specs:
            if fund_bhusd is not None:
                wad = int(Decimal(str(fund_bhusd)) * WAD)
                client.faucet_bhusd(Sender(w3, w3.eth.accounts[0]), spec.address, wad)
            held = client.stablecoin.functions.balanceOf(spec.address).call()
            click.echo(f"fleet: {spec.name} {spec.address} holds {held / WAD:,.2f} bhUSD", err=True)
        env = {"BULKHEAD_PARTITION_SIZE": str(partition_size), "BULKHEAD_LEASE_TTL": str(lease_ttl)}
        if batch_size is not None:
            env["BULKHEAD_BATCH_SIZE"] = str(batch_size)
        if max_fee is not None:
            env["BULKHEAD_MAX_FEE"] = str(Decimal(str(max_fee)))
        local = LocalFleet(rpc_url, manifest, specs, dry_run=dry_run, env=env, log_dir=log_dir)
        click.echo(f"fleet: {workers} workers, logs in {local.log_dir}", err=True)
        summary = _run(local, duration)
    except BulkheadError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(format_fleet(summary))


def _run(local: Any, duration: float | None) -> dict[str, Any]:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        local.start()
        click.echo(f"fleet: running on {local.redis.url}; Ctrl-C stops it", err=True)
        waited = 0.0
        while not stop.wait(POLL_S):
            waited += POLL_S
            if local.runner is None or local.runner.poll() is not None:
                raise UserError(f"the runner stopped: see {local.log_dir / 'runner.log'}")
            if duration is not None and waited >= duration:
                break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        summary = local.stop()
    return summary


def format_fleet(summary: dict[str, Any]) -> str:
    """One row per worker and one for the fleet."""
    columns = (
        "liquidations",
        "stop_losses",
        "deleverages",
        "top_ups",
        "boosts",
        "txs_sent",
        "cycles",
    )
    header = ("worker", *columns, "bounty [USD]", "failures", "would send")
    rows = []
    per = summary.get("workers", {})
    for name, s in per.items():
        rows.append(
            (
                name,
                *(str(s.get(c, 0)) for c in columns),
                f"{s['bounty_usd']['total']:,.2f}",
                _pairs(s.get("failures", {})),
                _pairs(s.get("simulated", {})),
            )
        )
    total = summary.get("fleet")
    if total:
        rows.append(
            (
                "fleet",
                *(str(total.get(c, 0)) for c in columns),
                f"{total['bounty_usd']:,.2f}",
                _pairs(total.get("failures", {})),
                _pairs(total.get("simulated", {})),
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [header, *rows])


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"
