"""`bulkhead node`, `deploy`, `status` and `demo`: a chain, a deployment and its state."""

from __future__ import annotations

import signal
import socket
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from bulkhead import fmt, risk
from bulkhead.cli.base import (
    _apy_text,
    _borrow_limit_text,
    _client,
    _common,
    _emit,
    _liquidations_text,
    _positions_table,
    _progress,
    _sender,
    cli,
)
from bulkhead.client import Client, Pool, UserError, connect
from bulkhead.deploy import Config
from bulkhead.deploy import deploy as deploy_system
from bulkhead.eth import accounts as accounts_mod
from bulkhead.node import Anvil
from bulkhead.options import (
    DEFAULT_MANIFEST,
    account_options,
    json_option,
    rpc_option,
    rpc_url_option,
    seconds_option,
)
from bulkhead.risk import WAD
from bulkhead.vault import vault_stats


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        # a port that only holds closed connections (TIME_WAIT) is free for a new node
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@cli.command()
@click.option("--port", default=8545, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--block-time",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds between blocks (default: one block per transaction).",
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False),
    help="Load the chain from FILE if it exists and save it there on exit.",
)
@click.option("--quiet", is_flag=True, help="Hide Anvil's own log.")
def node(port: int, block_time: float | None, state: str | None, quiet: bool) -> None:
    """Run a local Anvil (from the repo's npm package) until Ctrl-C."""
    if not _port_free(port):
        raise UserError(f"port {port} is already in use (is a node running? pick --port)")
    if state and not Path(state).resolve().parent.is_dir():
        raise UserError(f"cannot keep state in {state}: its folder does not exist")
    anvil = Anvil(port=port, block_time=block_time, state=state, quiet=quiet)

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    # also when started in the background, where a shell makes SIGINT ignored
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    try:
        anvil.start()
        kept = f", state kept in {state}" if state else ""
        click.echo(
            f"bulkhead node: Anvil on {anvil.rpc_url} (chain id 31337{kept}); Ctrl-C stops it",
            err=True,
        )
        while anvil.proc is not None and anvil.proc.poll() is None:
            time.sleep(0.2)
        code = anvil.proc.returncode if anvil.proc is not None else 0
        raise UserError(f"anvil stopped by itself (exit code {code})")
    except KeyboardInterrupt:
        click.echo(
            "bulkhead node: stopping" + (f", saving state to {state}" if state else ""), err=True
        )
    finally:
        anvil.stop()


def _keep_previous(path: Path) -> Path | None:
    """Move an existing manifest aside (`NAME.YYYYMMDDTHHMMSS.bak`) instead of overwriting
    it: it may be the only record of another deployment's addresses."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(path.stat().st_mtime))
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    n = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.{stamp}-{n}.bak")
        n += 1
    try:
        path.rename(backup)
    except OSError as exc:
        raise UserError(f"cannot move the old manifest {path} aside: {exc.strerror}") from None
    return backup


@cli.command(name="deploy")
@rpc_option
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="Pools to deploy, TOML or YAML (default: three mock pools, bulkhead/configs/local.toml).",
)
@click.option(
    "--manifest",
    envvar="BULKHEAD_MANIFEST",
    default=DEFAULT_MANIFEST,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the manifest (env BULKHEAD_MANIFEST).",
)
@account_options()
@json_option
def deploy_cmd(
    rpc_url: str,
    config: str | None,
    manifest: str,
    account: int | None,
    keystore: str | None,
    as_json: bool,
) -> None:
    """Deploy bhUSD, the factory, the lens and every pool; write the manifest."""
    cfg = Config.load(config)
    w3 = connect(rpc_url)
    sender = _sender(w3, account, keystore)
    if w3.eth.get_balance(sender.address) == 0:
        raise UserError(
            f"{sender.address} holds no ETH to pay for gas on chain id {w3.eth.chain_id}"
        )
    header = f"deploying to chain id {w3.eth.chain_id} at {rpc_url} from {sender.address}"
    started = time.monotonic()

    def progress(line: str) -> None:
        nonlocal header
        if header:  # printed once deploy() has checked the config against the chain
            click.echo(header, err=True)
            header = ""
        _progress(line)

    steward = accounts_mod.dev_steward(w3, sender.address)  # a local chain: dev account 8
    deployment = deploy_system(w3, sender, cfg, progress=progress, steward=steward)
    kept = _keep_previous(Path(manifest))
    deployment.save(manifest)
    click.echo(
        f"deployed in {time.monotonic() - started:.1f} s; manifest written to {manifest}"
        + (f" (the previous one kept as {kept})" if kept else ""),
        err=True,
    )
    rows = [
        ["bhUSD", deployment.stablecoin],
        ["PoolFactory", deployment.factory],
        ["PoolLens", deployment.lens],
        *[[f"pool {p.name}", p.address] for p in deployment.pools],
    ]
    # the manifest is the result (its dozens of deployment transactions are not listed)
    click.echo(deployment.to_json() if as_json else fmt.table(["contract", "address"], rows, set()))


@cli.command()
@_common
@click.option("--pool", "pool_name", help="Only this pool.")
@click.option(
    "--lowest",
    default=5,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many of the lowest-health positions to list per pool.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Refresh in place until Ctrl-C (with --json: one JSON object per line each time).",
)
@seconds_option(
    "--interval", default=2.0, least=0.2, help="Seconds between refreshes with --watch."
)
@click.option("--refreshes", type=click.IntRange(min=1), hidden=True)  # stop after N (tests)
def status(
    rpc_url: str,
    manifest: str,
    as_json: bool,
    pool_name: str | None,
    lowest: int,
    watch: bool,
    interval: float,
    refreshes: int | None,
) -> None:
    """Pools and their positions at risk."""
    client = _client(rpc_url, manifest)
    if watch:
        from bulkhead.monitor.watch import watch as watch_loop

        watch_loop(
            lambda: _status(client, pool_name, lowest, as_json), as_json, interval, refreshes
        )
        return
    result = _status(client, pool_name, lowest, as_json)
    if as_json:
        _emit(True, result, "")
    else:
        click.echo(result)


def _status(client: Client, pool_name: str | None, lowest: int, as_json: bool) -> Any:
    """`bulkhead status`'s JSON data (with `as_json`) or its text."""
    pools = [client.pool(pool_name)] if pool_name else client.pools()
    states = [(pool, client.pool_state(pool, lowest)) for pool in pools]
    saving = vault_stats(client.w3, client.deployment)
    if as_json:
        data = {
            "chain_id": client.deployment.chain_id,
            "block": client.w3.eth.block_number,
            "pools": [_state_json(pool, s) for pool, s in states],
            "vault": {
                "address": saving.address,
                "total_assets": fmt.exact(saving.total_assets, 18),
                "share_price": fmt.exact(saving.share_price, 18),
                "locked": fmt.exact(saving.locked, 18),
                "apy_1d": saving.apy_1d,
            },
        }
        return data
    rows = []
    for pool, s in states:
        use = Decimal(s["total_debt"]) / s["debt_ceiling"] * 100 if s["debt_ceiling"] else None
        rows.append(
            [
                pool.name,
                fmt.price(s["feed_answer"]) if s["feed_answer"] is not None else "?",
                f"{s['price_age']} s" if s["price_age"] is not None else "?",
                s["oracle"] + (", paused" if s["paused"] else ""),
                fmt.amount(s["total_collateral"], pool.decimals),
                fmt.usd(s["total_debt"]),
                f"{use:.2f}%" if use is not None else "-",
                fmt.usd(s["reserve"]),
                fmt.usd(s["bad_debt"]),
                str(s["positions"]),
                str(s["liquidatable"]),
            ]
        )
    headers = [
        "pool",
        "price [USD]",
        "age",
        "oracle",
        "collateral",
        "debt [bhUSD]",
        "ceiling use",
        "reserve",
        "bad debt",
        "positions",
        "liquidatable",
    ]
    parts = [
        f"chain id {client.deployment.chain_id}, block {client.w3.eth.block_number}",
        fmt.table(headers, rows, right=set(range(1, len(headers))) - {3}),
    ]
    apy = _apy_text(saving.apy_1d)
    parts.append(
        f"savings vault {saving.address}: {fmt.usd(saving.total_assets)} bhUSD, share price "
        f"{saving.share_price / WAD:.6f}, {fmt.usd(saving.locked)} still streaming, APY (1 day) {apy}"
    )
    control_rows = [
        [
            pool.name,
            _liquidations_text(s["paused"], s["controls"], s["now"]),
            _borrow_limit_text(s["params"].max_ltv, s["controls"].haircut),
            fmt.usd(s["controls"].position_debt_cap),
            f"{s['controls'].grace_period} s",
        ]
        for pool, s in states
    ]
    parts.append(
        "\nrisk controls\n"
        + fmt.table(
            ["pool", "liquidations", "borrow limit", "position cap [bhUSD]", "grace period"],
            control_rows,
            right={3, 4},
        )
    )
    for pool, s in states:
        if lowest and s["lowest"]:
            parts.append(f"\n{pool.name}: lowest health")
            parts.append(_positions_table(s["lowest"], pool))
    return "\n".join(parts)


def _state_json(pool: Pool, s: dict) -> dict:
    return {
        "name": s["name"],
        "address": s["address"],
        "collateral_token": s["collateral"],
        "price": fmt.exact(s["price"], 18) if s["price"] is not None else None,
        "feed_answer": fmt.exact(s["feed_answer"], 18) if s["feed_answer"] is not None else None,
        "price_age": s["price_age"],
        "oracle": s["oracle"],
        "oracle_valid": s["price"] is not None,
        "paused": s["paused"],
        "total_collateral": fmt.exact(s["total_collateral"], pool.decimals),
        "total_debt": fmt.exact(s["total_debt"], 18),
        "debt_ceiling": fmt.exact(s["debt_ceiling"], 18),
        "debt_ceiling_use": (
            float(Decimal(s["total_debt"]) / s["debt_ceiling"]) if s["debt_ceiling"] else None
        ),
        "reserve": fmt.exact(s["reserve"], 18),
        "bad_debt": fmt.exact(s["bad_debt"], 18),
        "positions": s["positions"],
        "positions_with_debt": s["positions_with_debt"],
        "liquidatable": s["liquidatable"],
        "lowest_health": [p.as_json() for p in s["lowest"]],
        "controls": {
            "position_debt_cap": fmt.exact(s["controls"].position_debt_cap, 18),
            "haircut_bps": s["controls"].haircut,
            "borrow_ltv_bps": risk.borrow_ltv(s["params"].max_ltv, s["controls"].haircut),
            "grace_period": s["controls"].grace_period,
            "grace_end": s["controls"].grace_end,
            "liquidations": "paused"
            if s["paused"]
            else ("grace" if s["controls"].in_grace(s["now"]) else "open"),
        },
    }


# ------------------------------------------------------------------ demo


@cli.command()
@click.option(
    "--rpc-url",
    "--network",
    "rpc_url",
    envvar="BULKHEAD_RPC_URL",
    default=None,
    callback=lambda _ctx, _param, value: rpc_url_option(value),
    help="Run on this node (a URL, or local, anvil or hardhat) instead of an embedded Anvil "
    "(a local dev chain).",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False),
    help="Also write the demo's manifest here (default with --rpc-url: ./deployment.json).",
)
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the demo's choices.")
@json_option
def demo(rpc_url: str | None, manifest: str | None, seed: int, as_json: bool) -> None:
    """Deploy, open 60 positions, save fees, run the keeper through a crash, summarise."""
    from bulkhead import demo as demo_mod

    if rpc_url and manifest is None:
        manifest = DEFAULT_MANIFEST
    log = (lambda _line: None) if as_json else (lambda line: click.echo(line, err=True))
    summary = demo_mod.run(rpc_url=rpc_url, manifest=manifest, seed=seed, log=log)
    if as_json:
        _emit(True, summary, "")
    else:
        click.echo(demo_mod.render(summary))
    if not summary["ok"]:
        raise click.exceptions.Exit(1)
