"""The `bulkhead` command line.

Every command reads the deployment manifest (`--manifest`, env `BULKHEAD_MANIFEST`,
default `./deployment.json`), talks to `--rpc-url` (env `BULKHEAD_RPC_URL`, default
`http://127.0.0.1:8545`), prints a table by default and JSON with `--json`. A user mistake
is one line on stderr (`error: ...`) and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
from requests.exceptions import RequestException
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from bulkhead import __version__, fmt, risk
from bulkhead.chain import Sender, TxError, revert_reason
from bulkhead.client import Client, Pool, Position, UserError, connect
from bulkhead.deploy import Config, Deployment
from bulkhead.deploy import deploy as deploy_system
from bulkhead.errors import BulkheadError
from bulkhead.eth import accounts as accounts_mod
from bulkhead.node import Anvil
from bulkhead.options import (
    DEFAULT_MANIFEST,
    NUMBER,
    PERCENT,
    AmountOr,
    account_options,
    json_option,
    manifest_option,
    rpc_option,
    rpc_url_option,
)
from bulkhead.risk import WAD, Controls
from bulkhead.simulate.cli import simulate
from bulkhead.vault import vault_stats

FAUCET_USD = Decimal(100_000)  # default faucet amount, in USD at the feed's price

NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())

# mistakes a user can make or meet: one line each, exit 1


def _fail(message: str, code: int = 1) -> None:
    one_line = " ".join(str(message).split())  # e.g. a YAML parser's message spans lines
    click.echo(f"error: {one_line}", err=True)
    sys.exit(code)


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except (InvalidOperation, ValueError):
        return False
    return True


class BulkheadGroup(click.Group):
    """A click group whose errors are one line on stderr, whoever calls it."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        _SENDERS.clear()
        try:
            code = super().main(
                args=args,
                prog_name=prog_name or "bulkhead",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except NO_ARGS_IS_HELP as exc:  # click 8.2: a bare group prints its help
            click.echo(exc.format_message(), err=True)
            code = 0
        except click.UsageError as exc:
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            message = exc.format_message()
            if isinstance(exc, click.NoSuchOption) and _is_number(exc.option_name):
                # `borrow -5`: click reads a leading dash as an option
                message = (
                    f"negative number {fmt.short(exc.option_name)!r}: amounts are never negative"
                )
            _fail(f"{message}{hint}", 2)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except (click.Abort, KeyboardInterrupt, EOFError):
            _fail("aborted", 130)
        except TxError as exc:
            _fail(f"transaction refused: {exc.reason}")
        except BulkheadError as exc:  # the package's own errors: one line each
            _fail(str(exc))
        except RequestException:
            _fail("lost the connection to the node")
        except (ContractLogicError, Web3RPCError) as exc:
            _fail(f"the node refused a request: {revert_reason(exc)}")
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


# ------------------------------------------------------------------ options


def _common(f: Callable) -> Callable:
    return rpc_option(manifest_option(json_option(f)))


def _complete_pools(ctx: click.Context, _param: Any, incomplete: str) -> list[str]:
    """Shell completion of pool names from the manifest (a file: no node is asked)."""
    path = ctx.params.get("manifest") or os.environ.get("BULKHEAD_MANIFEST", DEFAULT_MANIFEST)
    try:
        names = [p.name for p in Deployment.load(path).pools]
    except Exception:  # noqa: BLE001 - no manifest yet: nothing to offer
        return []
    return [n for n in names if n.lower().startswith(incomplete.lower())]


def _pool_option(f: Callable) -> Callable:
    return click.option(
        "--pool",
        "pool_name",
        required=True,
        help="Pool name, e.g. WETH.",
        shell_complete=_complete_pools,
    )(f)


def _id_option(f: Callable) -> Callable:
    return click.option(
        "--id", "position_id", required=True, type=click.IntRange(min=1), help="Position id."
    )(f)


# ------------------------------------------------------------------ helpers


def _client(rpc_url: str, manifest: str) -> Client:
    deployment = Deployment.load(manifest)
    w3 = connect(rpc_url)
    return Client.attach(w3, deployment, where=f"the node at {rpc_url}")


# the senders of the command being run: `_emit` reports the transactions they sent
_SENDERS: list[Sender] = []


def _sender(w3: Web3, account: int | None, keystore: str | None) -> Sender:
    def prompt(text: str) -> str:
        return click.prompt(text, hide_input=True, err=True)

    sender = accounts_mod.resolve(w3, account, keystore, prompt=prompt)
    _SENDERS.append(sender)
    return sender


def _address(client: Client, address: str | None, account: int | None, keystore: str | None) -> str:
    """`--address` if given (checked), else the account's."""
    if address is None:
        return _sender(client.w3, account, keystore).address
    if not Web3.is_address(address):
        raise UserError(f"--address {fmt.short(address)!r} is not an address")
    return address


def _emit(as_json: bool, data: Any, text: str) -> None:
    """The command's result; with the hash of every transaction it sent (`transactions`)."""
    sent = [h for sender in _SENDERS for h in sender.sent]
    if sent and isinstance(data, dict):
        data = {**data, "transactions": sent}
        text = f"{text}\ntransactions: {', '.join(sent)}"
    click.echo(json.dumps(data, indent=2) if as_json else text)


def _progress(line: str) -> None:
    click.echo(f"  {line}", err=True)


def _units(pool: Pool, value: Decimal) -> int:
    return fmt.to_units(value, pool.decimals, pool.name)


def _wad(value: Decimal) -> int:
    return fmt.to_units(value, 18, "bhUSD")


def _position_text(pos: Position, pool: Pool, stop_loss: dict[str, int] | None = None) -> str:
    rows = [
        ["position", f"{pool.name} #{pos.id}"],
        ["owner", pos.owner],
        ["collateral", pool.coll(pos.collateral)],
        ["debt", f"{fmt.usd(pos.debt)} bhUSD"],
        ["health", _health_text(pos)],
        ["LTV", _ltv_text(pos, pool)],
        [
            "liquidation price",
            f"{fmt.price(pos.liquidation_price)} USD" if pos.debt else "- (no debt)",
        ],
        ["price", f"{fmt.price(pos.price)} USD" if pos.price is not None else "invalid"],
        [
            "max borrow",
            f"{fmt.usd(pos.borrowable, down=True)} bhUSD more (leaves an hour of interest room)"
            if pos.borrowable is not None
            else "? (no price)",
        ],
    ]
    if pos.controls is not None and pos.params is not None:
        c = pos.controls
        rows.append(["borrow limit", _borrow_limit_text(pos.params.max_ltv, c.haircut)])
        rows.append(["position debt cap", f"{fmt.usd(c.position_debt_cap)} bhUSD"])
    if stop_loss is not None:
        rows.append(["stop-loss", _stop_loss_text(stop_loss)])
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _borrow_limit_text(max_ltv: int, haircut: int) -> str:
    if not haircut:
        return f"{fmt.bps(max_ltv)} LTV (no haircut)"
    ltv = risk.borrow_ltv(max_ltv, haircut)
    return f"{fmt.bps(ltv)} LTV (max {fmt.bps(max_ltv)} less a {fmt.bps(haircut)} haircut)"


def _stop_loss_text(rule: dict[str, int]) -> str:
    if not rule["price"]:
        return "off"
    return f"close at or below {fmt.price(rule['price'])} USD, keeper fee at most {fmt.bps(rule['max_fee'])}"


def _liquidations_text(paused: bool, controls: Controls, now: int) -> str:
    if paused:
        return "paused"
    if controls.in_grace(now):
        return f"grace, open in {controls.grace_end - now} s ({fmt.timestamp(controls.grace_end)})"
    return "open"


def _health_text(pos: Position) -> str:
    if not pos.debt:
        return "- (no debt)"
    flag = "  LIQUIDATABLE (below 1)" if pos.liquidatable else ""
    return f"{fmt.health(pos.health)}{flag}"


def _ltv_text(pos: Position, pool: Pool) -> str:
    if pos.ltv is None:
        return "- (no debt)" if not pos.debt else "? (no price)"
    limits = ""
    if pos.params is not None:
        p = pos.params
        limits = f" (max {fmt.bps(p.max_ltv)}, liquidation at {fmt.bps(p.liquidation_threshold)})"
    return f"{fmt.bps(pos.ltv)}{limits}"


def _positions_table(positions: list[Position], pool: Pool) -> str:
    rows = [
        [
            str(p.id),
            p.owner,
            fmt.amount(p.collateral, pool.decimals),
            fmt.usd(p.debt),
            fmt.health(p.health),
            fmt.price(p.liquidation_price) if p.debt else "-",
        ]
        for p in positions
    ]
    headers = ["id", "owner", f"collateral [{pool.name}]", "debt [bhUSD]", "health", "liq. price"]
    return fmt.table(headers, rows, right={0, 2, 3, 4, 5})


# ------------------------------------------------------------------ commands


@click.group(
    name="bulkhead", cls=BulkheadGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="bulkhead")
def cli() -> None:
    """Bulkhead: isolated-margin CDP pools. Deploy, inspect and drive them from a terminal."""


def main() -> None:
    """Console entry point (`bulkhead`, `python -m bulkhead`)."""
    cli.main(prog_name="bulkhead")


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
@click.option(
    "--interval",
    type=click.FloatRange(min=0.2),
    default=2.0,
    show_default=True,
    help="Seconds between refreshes with --watch.",
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


# ------------------------------------------------------------------ position


@cli.group()
def position() -> None:
    """Open and manage positions (amounts in human units: 2.5 WETH, 1000 bhUSD)."""


def _write_command(name: str, help_text: str) -> Callable:
    """A `position` subcommand that sends transactions: common and account options."""

    def decorate(f: Callable) -> Callable:
        f = account_options()(f)
        f = _pool_option(f)
        f = _common(f)
        return position.command(name=name, help=help_text)(f)

    return decorate


def _show(client: Client, pool: Pool, position_id: int, as_json: bool, note: str) -> None:
    pos = client.position(pool, position_id)
    _emit(as_json, {"action": note, **pos.as_json()}, f"{note}\n{_position_text(pos, pool)}")


@_write_command("open", "Open a position: --collateral in the pool's token, --debt in bhUSD.")
@click.option("--collateral", required=True, type=NUMBER, help="Collateral, e.g. 2.5.")
@click.option("--debt", default="0", type=NUMBER, help="bhUSD to borrow, e.g. 1000.")
def position_open(
    rpc_url, manifest, as_json, pool_name, account, keystore, collateral, debt
) -> None:
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    position_id = client.open(sender, pool, _units(pool, collateral), _wad(debt))
    _show(client, pool, position_id, as_json, f"opened position {position_id} in pool {pool.name}")


@_write_command("deposit", "Add collateral to a position (anyone may): AMOUNT in the pool's token.")
@_id_option
@click.argument("amount", type=NUMBER)
def position_deposit(
    rpc_url, manifest, as_json, pool_name, account, keystore, position_id, amount
) -> None:
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    units = _units(pool, amount)
    client.deposit(sender, pool, position_id, units)
    _show(client, pool, position_id, as_json, f"deposited {pool.coll(units)}")


@_write_command(
    "withdraw", "Take collateral out of your position: AMOUNT in its token, or `all` of it."
)
@_id_option
@click.argument("amount", type=AmountOr("all"))
def position_withdraw(
    rpc_url, manifest, as_json, pool_name, account, keystore, position_id, amount
) -> None:
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    if amount == "all":
        units = client.position(pool, position_id).collateral
    else:
        units = _units(pool, amount)
    client.withdraw(sender, pool, position_id, units)
    _show(client, pool, position_id, as_json, f"withdrew {pool.coll(units)}")


@_write_command(
    "borrow",
    "Mint bhUSD against your position: AMOUNT in bhUSD, or `max` (the max borrow `show` prints).",
)
@_id_option
@click.argument("amount", type=AmountOr("max"))
def position_borrow(
    rpc_url, manifest, as_json, pool_name, account, keystore, position_id, amount
) -> None:
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    if amount == "max":
        room = client.position(pool, position_id).borrowable
        if room is None:
            raise UserError(f"cannot borrow in pool {pool.name} now: no valid price")
        if room == 0:
            raise UserError(f"position {position_id} in pool {pool.name} has no room to borrow")
        wad = room
    else:
        wad = _wad(amount)
    client.borrow(sender, pool, position_id, wad)
    _show(client, pool, position_id, as_json, f"borrowed {fmt.usd(wad)} bhUSD")


@_write_command("repay", "Repay debt with your bhUSD (anyone may): AMOUNT in bhUSD, or `all`.")
@_id_option
@click.argument("amount", type=AmountOr("all"))
def position_repay(
    rpc_url, manifest, as_json, pool_name, account, keystore, position_id, amount
) -> None:
    wad = None if amount == "all" else _wad(amount)
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    paid = client.repay(sender, pool, position_id, wad)
    _show(client, pool, position_id, as_json, f"repaid {fmt.usd(paid)} bhUSD")


@_write_command(
    "deleverage",
    "Repay debt and take collateral back in one step without lowering health (above max LTV "
    "too): REPAY in bhUSD, or `all`.",
)
@_id_option
@click.option(
    "--collateral",
    "collateral",
    type=AmountOr("max"),
    default="max",
    show_default=True,
    help="Collateral to take back, in its token; `max` keeps the collateral per unit of debt.",
)
@click.argument("repay", type=AmountOr("all"))
def position_deleverage(
    rpc_url, manifest, as_json, pool_name, account, keystore, position_id, collateral, repay
) -> None:
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    wad = None if repay == "all" else _wad(repay)
    units = None if collateral == "max" else _units(pool, collateral)
    repaid, out = client.deleverage(sender, pool, position_id, wad, units)
    _show(
        client,
        pool,
        position_id,
        as_json,
        f"repaid {fmt.usd(repaid)} bhUSD and took back {pool.coll(out)}",
    )


@_write_command("close", "Repay all debt and take all collateral back.")
@_id_option
def position_close(rpc_url, manifest, as_json, pool_name, account, keystore, position_id) -> None:
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    repaid, returned = client.close(sender, pool, position_id)
    note = (
        f"closed position {position_id} in pool {pool.name}: repaid {fmt.usd(repaid)} bhUSD, "
        f"returned {pool.coll(returned)}"
    )
    _show(client, pool, position_id, as_json, note)


@position.command(name="show")
@_common
@_pool_option
@_id_option
def position_show(rpc_url, manifest, as_json, pool_name, position_id) -> None:
    """Health, liquidation price and limits of one position."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    pos = client.position(pool, position_id)
    stop_loss = client.rules(pool, position_id)["stop-loss"]
    data = {
        **pos.as_json(),
        "stop_loss": {
            "on": bool(stop_loss["price"]),
            "price": fmt.exact(stop_loss["price"], 18),
            "max_fee_bps": stop_loss["max_fee"],
        },
    }
    _emit(as_json, data, _position_text(pos, pool, stop_loss))


@position.command(name="history")
@_common
@_pool_option
@_id_option
def position_history(rpc_url, manifest, as_json, pool_name, position_id) -> None:
    """Every action on one position, from the event logs, with its state after each."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    rows = client.history(pool, position_id)
    units = {"collateral_in", "collateral_out", "collateral_returned", "fee"}

    def amount(key: str, value: Any, event: str) -> str:
        if isinstance(value, bool) or not isinstance(value, int):
            return str(value)
        if "health" in key:
            return fmt.health(value)
        if key in units or (key == "amount" and event in ("Deposit", "Withdraw")):
            return pool.coll(value)
        if key == "max_fee":
            return fmt.bps(value)
        return f"{fmt.usd(value)} bhUSD"

    if as_json:
        out = [
            {
                **{k: r[k] for k in ("block", "time", "tx", "event", "by")},
                "args": {k: str(v) for k, v in r["args"].items()},
                "collateral": None
                if r["collateral"] is None
                else fmt.exact(r["collateral"], pool.decimals),
                "debt": None if r["debt"] is None else fmt.exact(r["debt"], 18),
            }
            for r in rows
        ]
        _emit(True, {"pool": pool.name, "id": position_id, "history": out}, "")
        return
    table = fmt.table(
        [
            "block",
            "time (UTC)",
            "action",
            "by",
            "amounts",
            f"collateral [{pool.name}]",
            "debt [bhUSD]",
        ],
        [
            [
                str(r["block"]),
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["time"])),
                r["event"],
                r["by"],
                ", ".join(f"{k} {amount(k, v, r['event'])}" for k, v in r["args"].items()),
                "" if r["collateral"] is None else fmt.amount(r["collateral"], pool.decimals),
                "" if r["debt"] is None else fmt.usd(r["debt"]),
            ]
            for r in rows
        ],
        right={0, 5, 6},
    )
    click.echo(f"history of position {position_id} in pool {pool.name}\n{table}")


RULES = ("deleverage", "boost", "top-up", "stop-loss")


@position.command(name="protect")
@_common
@_pool_option
@_id_option
@click.argument("kind", type=click.Choice(RULES), required=False)
@click.option(
    "--stop-loss",
    "stop_price",
    type=NUMBER,
    help="Close the position when the price is at or below this [USD per unit].",
)
@click.option("--trigger", type=NUMBER, help="Health that makes the rule due, e.g. 1.15.")
@click.option("--target", type=NUMBER, help="Health the keeper restores, e.g. 1.4.")
@click.option(
    "--max-fee",
    type=PERCENT,
    help="Keeper's fee, e.g. 0.5% [default: the pool's liquidation bonus, its cap].",
)
@click.option(
    "--allowance",
    type=NUMBER,
    help="top-up: most collateral keepers may move from your wallet in all, in the token.",
)
@click.option("--off", is_flag=True, help="Turn the rule off.")
@account_options()
def position_protect(
    rpc_url, manifest, as_json, pool_name, position_id, kind, stop_price, trigger, target,
    max_fee, allowance, off, account, keystore,
) -> None:  # fmt: skip
    """Set an owner rule that keepers carry out: KIND is deleverage (health below the trigger:
    repay debt with collateral up to the target), boost (above the trigger: borrow more
    down to the target), top-up (below: move collateral in from your wallet) or stop-loss
    (`--stop-loss PRICE`: at or below PRICE a keeper repays all the debt and closes the
    position, keeps collateral worth the debt plus its fee, and the rest comes back to you)."""
    if stop_price is not None:
        if kind not in (None, "stop-loss"):
            raise UserError(f"--stop-loss sets a stop-loss rule, not a {kind} rule")
        kind = "stop-loss"
    if kind is None:
        raise UserError("name the rule: deleverage, boost, top-up, or --stop-loss PRICE")
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    if kind == "stop-loss":
        if trigger is not None or target is not None or allowance is not None:
            raise UserError("a stop-loss takes --stop-loss PRICE and --max-fee, no health")
        if off == (stop_price is not None):
            raise UserError("a stop-loss needs --stop-loss PRICE, or --off")
        price = 0 if off else _wad(stop_price)
        if not off and price == 0:
            raise UserError("--stop-loss PRICE must be above 0")
        fee = (
            _bps(max_fee, "max_fee")
            if max_fee is not None
            else client.params(pool).liquidation_bonus
        )
        client.set_stop_loss(sender, pool, position_id, price, 0 if off else fee)
        _show_rules(client, pool, position_id, as_json, f"stop-loss {'off' if off else 'set'}")
        return
    if off:
        if trigger is not None or target is not None or allowance is not None:
            raise UserError("--off takes no --trigger, --target or --allowance")
        client.set_rule(sender, pool, position_id, kind, 0, 0, 0, 0)
    else:
        if trigger is None or target is None:
            raise UserError(f"a {kind} rule needs --trigger and --target (or --off)")
        if (kind == "top-up") != (allowance is not None):
            raise UserError("--allowance is for top-up rules only, and top-up needs it")
        fee = (
            _bps(max_fee, "max_fee")
            if max_fee is not None
            else client.params(pool).liquidation_bonus
        )
        units = _units(pool, allowance) if allowance is not None else 0
        client.set_rule(sender, pool, position_id, kind, _wad(trigger), _wad(target), fee, units)
    _show_rules(client, pool, position_id, as_json, f"{kind} rule {'off' if off else 'set'}")


@position.command(name="rules")
@_common
@_pool_option
@_id_option
def position_rules(rpc_url, manifest, as_json, pool_name, position_id) -> None:
    """The owner rules of one position (deleverage, boost, top-up, stop-loss)."""
    client = _client(rpc_url, manifest)
    _show_rules(client, client.pool(pool_name), position_id, as_json, "")


def _show_rules(client: Client, pool: Pool, position_id: int, as_json: bool, note: str) -> None:
    rules = client.rules(pool, position_id)
    stop = rules.pop("stop-loss")
    data: dict[str, Any] = {
        kind: {
            "on": bool(r["trigger_health"]),
            "trigger_health": fmt.exact(r["trigger_health"], 18),
            "target_health": fmt.exact(r["target_health"], 18),
            "max_fee_bps": r["max_fee"],
            **({"allowance": fmt.exact(r["allowance"], pool.decimals)} if "allowance" in r else {}),
        }
        for kind, r in rules.items()
    }
    rows = []
    for kind, r in rules.items():
        if not r["trigger_health"]:
            rows.append([kind, "off", "", "", ""])
            continue
        side = "above" if kind == "boost" else "below"
        rows.append(
            [
                kind,
                f"{side} {fmt.health(r['trigger_health'])}",
                fmt.health(r["target_health"]),
                fmt.bps(r["max_fee"]),
                pool.coll(r["allowance"]) if "allowance" in r else "",
            ]
        )
    table = fmt.table(["rule", "due when health is", "to", "max fee", "allowance left"], rows)
    data["stop-loss"] = {
        "on": bool(stop["price"]),
        "price": fmt.exact(stop["price"], 18),
        "max_fee_bps": stop["max_fee"],
    }
    head = f"{note}\n" if note else ""
    _emit(
        as_json,
        {"pool": pool.name, "id": position_id, **data},
        f"{head}rules of {pool.name} #{position_id}\n{table}\nstop-loss: {_stop_loss_text(stop)}",
    )


CSV_COLUMNS = [
    "pool", "id", "owner", "collateral", "debt", "health", "ltv_bps", "liquidation_price",
    "price", "liquidatable",
]  # fmt: skip


@position.command(name="list")
@_common
@click.option("--pool", "pool_name", help="Only this pool.")
@click.option("--owner", help="Owner address (default: your account).")
@click.option("--all", "everyone", is_flag=True, help="Every owner's positions.")
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per position (exact amounts).")
@account_options()
def position_list(
    rpc_url, manifest, as_json, pool_name, owner, everyone, as_csv, account, keystore
) -> None:
    """Your positions (or --owner's, or --all) with collateral or debt."""
    if as_json and as_csv:
        raise UserError("choose --json or --csv, not both")
    if everyone and owner is not None:
        raise UserError("choose --all or --owner, not both")
    client = _client(rpc_url, manifest)
    if everyone:
        owner = None
    elif owner is None:
        owner = _sender(client.w3, account, keystore).address
    elif not Web3.is_address(owner):
        raise UserError(f"--owner {fmt.short(owner)!r} is not an address")
    pools = [client.pool(pool_name)] if pool_name else client.pools()
    found = [(pool, client.positions(pool, owner)) for pool in pools]
    if as_csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for _, ps in found:
            for p in ps:
                row = p.as_json()
                writer.writerow({k: "" if row.get(k) is None else row[k] for k in CSV_COLUMNS})
        click.echo(out.getvalue(), nl=False)
        return
    if as_json:
        positions = [p.as_json() for _, ps in found for p in ps]
        _emit(True, {"owner": owner or "all", "positions": positions}, "")
        return
    parts = [f"positions of {owner or 'every owner'}"]
    for pool, ps in found:
        parts.append(f"\n{pool.name}: {len(ps)} position(s)")
        if ps:
            parts.append(_positions_table(ps, pool))
    click.echo("\n".join(parts))


@cli.command()
@_common
@_pool_option
@_id_option
@account_options()
def liquidate(rpc_url, manifest, as_json, pool_name, position_id, account, keystore) -> None:
    """Liquidate an unhealthy position by hand with your bhUSD (what `keeper run` automates)."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    done = client.liquidate(sender, pool, position_id)
    data = {
        "pool": pool.name,
        "id": position_id,
        "debt_repaid": fmt.exact(done["debt_repaid"], 18),
        "paid": fmt.exact(done["paid"], 18),
        "collateral_out": fmt.exact(done["collateral_out"], pool.decimals),
        "reserve_used": fmt.exact(done["reserve_used"], 18),
        "bad_debt": fmt.exact(done["bad_debt"], 18),
    }
    text = (
        f"liquidated position {position_id} in pool {pool.name}: paid {fmt.usd(done['paid'])} "
        f"bhUSD (debt repaid {fmt.usd(done['debt_repaid'])}), received "
        f"{pool.coll(done['collateral_out'])}"
    )
    if done["reserve_used"] or done["bad_debt"]:
        text += (
            f"; shortfall: {fmt.usd(done['reserve_used'])} bhUSD from the reserve, "
            f"{fmt.usd(done['bad_debt'])} bad debt"
        )
    _emit(as_json, data, text)


@cli.group()
def vault() -> None:
    """The savings vault (ERC-4626 over bhUSD): it earns the pools' fees."""


@vault.command(name="show")
@_common
@click.option("--address", help="Whose shares to show (default: your account).")
@account_options()
def vault_show(rpc_url, manifest, as_json, address, account, keystore) -> None:
    """Total assets, share price, what still streams in, the last day's APY, your shares."""
    client = _client(rpc_url, manifest)
    address = _address(client, address, account, keystore)
    stats = vault_stats(client.w3, client.deployment)
    shares, worth = client.vault_shares(address)
    data = {
        "address": stats.address,
        "total_assets": fmt.exact(stats.total_assets, 18),
        "total_supply": fmt.exact(stats.total_supply, 18),
        "share_price": fmt.exact(stats.share_price, 18),
        "locked": fmt.exact(stats.locked, 18),
        "unlock_end": stats.unlock_end,
        "apy_1d": stats.apy_1d,
        "holder": address,
        "shares": fmt.exact(shares, 18),
        "worth": fmt.exact(worth, 18),
    }
    rows = [
        ["vault", stats.address],
        ["total assets", f"{fmt.usd(stats.total_assets)} bhUSD"],
        ["shares", fmt.usd(stats.total_supply)],
        ["share price", f"{fmt.to_decimal(stats.share_price, 18):.6f} bhUSD"],
        ["still streaming in", f"{fmt.usd(stats.locked)} bhUSD"],
        ["APY (last day)", _apy_text(stats.apy_1d)],
        [f"shares of {address}", f"{fmt.usd(shares)} (worth {fmt.usd(worth)} bhUSD)"],
    ]
    width = max(len(k) for k, _ in rows)
    _emit(as_json, data, "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows))


def _apy_text(apy: float) -> str:
    if apy != apy or apy == float("inf"):
        return "-"
    if apy > 10:  # a young vault's one-day window compounds into nonsense
        return f"{apy:.0%} (over a short window: not a forecast)"
    return f"{apy:.2%}"


@vault.command(name="deposit")
@_common
@click.argument("amount", type=NUMBER)
@account_options()
def vault_deposit(rpc_url, manifest, as_json, amount, account, keystore) -> None:
    """Deposit AMOUNT bhUSD for shares."""
    client = _client(rpc_url, manifest)
    sender = _sender(client.w3, account, keystore)
    wad = _wad(amount)
    shares = client.vault_deposit(sender, wad)
    data = {"deposited": fmt.exact(wad, 18), "shares": fmt.exact(shares, 18)}
    _emit(as_json, data, f"deposited {fmt.usd(wad)} bhUSD for {fmt.usd(shares)} shares")


@vault.command(name="redeem")
@_common
@click.argument("shares", type=AmountOr("all"))
@account_options()
def vault_redeem(rpc_url, manifest, as_json, shares, account, keystore) -> None:
    """Redeem SHARES (or `all`) for bhUSD."""
    client = _client(rpc_url, manifest)
    sender = _sender(client.w3, account, keystore)
    burned, assets = client.vault_redeem(sender, None if shares == "all" else _wad(shares))
    data = {"shares": fmt.exact(burned, 18), "received": fmt.exact(assets, 18)}
    _emit(as_json, data, f"redeemed {fmt.usd(burned)} shares for {fmt.usd(assets)} bhUSD")


@cli.command()
@_common
@click.option("--address", help="Any address (default: your account).")
@account_options()
def balance(rpc_url, manifest, as_json, address, account, keystore) -> None:
    """Your ETH, bhUSD, collateral tokens and savings vault shares."""
    client = _client(rpc_url, manifest)
    address = _address(client, address, account, keystore)
    rows = client.balances(address)
    data = {
        "address": address,
        "balances": [
            {"asset": a, "amount": fmt.exact(n, d), **({"note": note} if note else {})}
            for a, n, d, note in rows
        ],
    }
    table = fmt.table(
        ["asset", "balance", ""], [[a, fmt.amount(n, d), note or ""] for a, n, d, note in rows]
    )
    _emit(as_json, data, f"balances of {address}\n{table}")


# ------------------------------------------------------------------ faucet, oracle


def _round_2(value: Decimal) -> Decimal:
    """`value` rounded to two significant digits (a friendly default amount)."""
    if value <= 0:
        return Decimal(0)
    exponent = value.adjusted() - 1
    return (value.scaleb(-exponent).to_integral_value()).scaleb(exponent)


@cli.command()
@_common
@click.option(
    "--pool", "pool_names", multiple=True, help="Pool(s) to fund (default: all mock pools)."
)
@click.option(
    "--amount", type=NUMBER, help="Collateral per pool (default: about 100,000 USD worth)."
)
@click.option(
    "--bhusd",
    type=NUMBER,
    help="Instead: borrow this much bhUSD for --to, in a new position of yours against fresh "
    "mock collateral at half the max LTV (at least the pool's minimum debt).",
)
@click.option("--to", "receiver", help="Receiver address (default: your account).")
@account_options()
def faucet(
    rpc_url, manifest, as_json, pool_names, amount, bhusd, receiver, account, keystore
) -> None:
    """Mint mock collateral on a local chain (or, with --bhusd, borrow bhUSD)."""
    client = _client(rpc_url, manifest)
    if not client.is_local:
        chain_id = client.deployment.chain_id
        raise UserError(f"the faucet works on local dev chains only, not on chain id {chain_id}")
    sender = _sender(client.w3, account, keystore)
    receiver = receiver or sender.address
    if not Web3.is_address(receiver):
        raise UserError(f"--to {receiver!r} is not an address")
    if bhusd is not None:
        if pool_names or amount is not None:
            raise UserError("--bhusd borrows bhUSD: leave out --pool and --amount")
        wad = _wad(bhusd)
        pool, position_id, debt = client.faucet_bhusd(sender, receiver, wad)
        balance = client.balance(None, receiver)
        data = {
            "to": receiver,
            "bhusd": fmt.exact(wad, 18),
            "balance": fmt.exact(balance, 18),
            "pool": pool.name,
            "position": position_id,
            "debt": fmt.exact(debt, 18),
        }
        text = (
            f"borrowed {fmt.usd(debt)} bhUSD in new position {position_id} of pool {pool.name} "
            f"(owner {sender.address}); {receiver} now holds {fmt.usd(balance)} bhUSD"
        )
        _emit(as_json, data, text)
        return
    pools = (
        [client.pool(n) for n in pool_names]
        if pool_names
        else [p for p in client.pools() if p.info.mock]
    )
    minted = []
    for pool in pools:
        if amount is not None:
            units = _units(pool, amount)
        else:
            answer, _ = client.feed_round(pool)
            usd_price = fmt.to_decimal(answer or 10**18, 18)
            units = _units(
                pool, _round_2(FAUCET_USD / usd_price).quantize(Decimal(1).scaleb(-pool.decimals))
            )
        if units == 0:
            raise UserError("amount must be above 0")
        client.faucet(sender, pool, receiver, units)
        minted.append((pool, units, client.balance(pool, receiver)))
    data = {
        "to": receiver,
        "minted": [
            {
                "pool": p.name,
                "amount": fmt.exact(u, p.decimals),
                "balance": fmt.exact(b, p.decimals),
            }
            for p, u, b in minted
        ],
    }
    rows = [[p.name, fmt.amount(u, p.decimals), fmt.amount(b, p.decimals)] for p, u, b in minted]
    _emit(
        as_json, data, f"minted to {receiver}\n" + fmt.table(["token", "minted", "balance"], rows)
    )


@cli.group()
def oracle() -> None:
    """Mock price feeds on a local chain."""


@oracle.command(name="set")
@_common
@click.argument("pool_name", metavar="POOL", shell_complete=_complete_pools)
@click.argument("price", type=NUMBER)
@account_options()
def oracle_set(rpc_url, manifest, as_json, pool_name, price, account, keystore) -> None:
    """Move POOL's mock feed to PRICE (USD)."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    seen, status = client.set_price(sender, pool, price)
    data = {
        "pool": pool.name,
        "feed_answer": str(price),
        "price": fmt.exact(seen, 18) if seen is not None else None,
        "oracle": status,
    }
    text = f"pool {pool.name}: feed set to {price} USD; the pool sees " + (
        f"{fmt.price(seen)} USD (ok)" if seen is not None else f"no valid price ({status})"
    )
    _emit(as_json, data, text)
    if seen is None:
        # the feed moved, but the pool refuses it: borrowing, withdrawing with debt and
        # liquidating wait until the price is valid again
        hint = (
            f"; governance accepts it with `bulkhead pool reset-anchor {pool.name}`, or the "
            "bound widens by itself after a heartbeat"
            if status == "price jump"
            else ""
        )
        _fail(f"pool {pool.name} refuses the new price ({status}){hint}")


@cli.group(name="pool")
def pool_group() -> None:
    """Governance of a pool on a local chain."""


@pool_group.command(name="reset-anchor")
@_common
@click.argument("pool_name", metavar="POOL", shell_complete=_complete_pools)
@account_options()
def pool_reset_anchor(rpc_url, manifest, as_json, pool_name, account, keystore) -> None:
    """Accept POOL's current feed answer after a move beyond the jump bound (governance)."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    seen, status = client.reset_anchor(sender, pool)
    data = {"pool": pool.name, "price": fmt.exact(seen, 18) if seen else None, "oracle": status}
    text = f"pool {pool.name}: anchor reset; the pool sees " + (
        f"{fmt.price(seen)} USD (ok)" if seen is not None else f"no valid price ({status})"
    )
    _emit(as_json, data, text)
    if seen is None:
        _fail(f"pool {pool.name} still has no valid price ({status})")


def _governance_command(name: str) -> Callable:
    def decorate(f: Callable) -> Callable:
        f = account_options()(f)
        f = click.argument("pool_name", metavar="POOL", shell_complete=_complete_pools)(f)
        f = _common(f)
        return pool_group.command(name=name)(f)

    return decorate


@_governance_command("pause")
def pool_pause(rpc_url, manifest, as_json, pool_name, account, keystore) -> None:
    """Pause POOL: no new debt and no liquidations; repay, deposit, deleverage, close and owner
    rules stay open (governance). The unpause starts the pool's grace window."""
    _set_paused(rpc_url, manifest, as_json, pool_name, account, keystore, True)


@_governance_command("unpause")
def pool_unpause(rpc_url, manifest, as_json, pool_name, account, keystore) -> None:
    """Lift POOL's pause (governance); liquidations wait for the pool's grace period."""
    _set_paused(rpc_url, manifest, as_json, pool_name, account, keystore, False)


def _set_paused(rpc_url, manifest, as_json, pool_name, account, keystore, paused) -> None:
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    client.set_paused(_sender(client.w3, account, keystore), pool, paused)
    state = "paused" if paused else "unpaused"
    controls = client.controls(pool)
    text = f"pool {pool.name} {state}"
    if not paused and controls.grace_end:
        now = client.w3.eth.get_block("latest")["timestamp"]
        if controls.in_grace(now):
            text += (
                f"; liquidations wait {controls.grace_end - now} s (grace window until "
                f"{fmt.timestamp(controls.grace_end)})"
            )
    data = {"pool": pool.name, "paused": paused, "grace_end": controls.grace_end}
    _emit(as_json, data, text)


@_governance_command("sweep")
def pool_sweep(rpc_url, manifest, as_json, pool_name, account, keystore) -> None:
    """Move POOL's reserve above its target into the savings vault (anyone may)."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    moved = client.sweep(_sender(client.w3, account, keystore), pool)
    _emit(
        as_json,
        {"pool": pool.name, "swept": fmt.exact(moved, 18)},
        f"swept {fmt.usd(moved)} bhUSD from pool {pool.name} into the savings vault",
    )


@_governance_command("set-params")
@click.option("--max-ltv", type=PERCENT, help="Borrow limit, e.g. 60% or 0.6.")
@click.option("--liquidation-threshold", type=PERCENT, help="Liquidatable above this LTV.")
@click.option("--liquidation-bonus", type=PERCENT, help="Keeper's bonus on repaid debt.")
@click.option("--liquidation-fee", type=PERCENT, help="Reserve's fee on repaid debt.")
@click.option("--liquidation-tip", type=NUMBER, help="Flat tip per liquidation [bhUSD].")
@click.option("--target-health", type=NUMBER, help="Health a partial liquidation restores.")
@click.option("--min-debt", type=NUMBER, help="Least debt of a position [bhUSD].")
@click.option("--debt-ceiling", type=NUMBER, help="Most debt of the pool [bhUSD].")
@click.option("--stability-fee", type=PERCENT, help="Yearly interest, compounded, e.g. 5%.")
def pool_set_params(rpc_url, manifest, as_json, pool_name, account, keystore, **given) -> None:
    """Change some of POOL's risk parameters; the others stay (governance). The factory
    refuses values outside its bounds."""
    changes: dict[str, int] = {}
    for name in ("max_ltv", "liquidation_threshold", "liquidation_bonus", "liquidation_fee"):
        if given[name] is not None:
            changes[name] = _bps(given[name], name)
    for name in ("liquidation_tip", "target_health", "min_debt", "debt_ceiling"):
        if given[name] is not None:
            changes[name] = _wad(given[name])
    if given["stability_fee"] is not None:
        changes["stability_fee"] = risk.fee_per_second(float(given["stability_fee"]))
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    params = client.set_params(_sender(client.w3, account, keystore), pool, changes)
    data = {"pool": pool.name, **{k: getattr(params, k) for k in changes}}
    text = f"pool {pool.name}: " + ", ".join(f"{k} {getattr(params, k)}" for k in changes)
    _emit(as_json, data, text)


@_governance_command("set-controls")
@click.option("--position-debt-cap", type=NUMBER, help="Most debt of one position [bhUSD].")
@click.option("--haircut", type=PERCENT, help="Taken off max LTV for borrowing, e.g. 10%.")
@click.option(
    "--grace-period",
    type=click.IntRange(min=0),
    help="Seconds liquidations wait after an unpause (at most 14400).",
)
def pool_set_controls(
    rpc_url, manifest, as_json, pool_name, account, keystore, position_debt_cap, haircut,
    grace_period,
) -> None:  # fmt: skip
    """Change some of POOL's risk controls; the others stay (governance). The haircut lowers
    the borrow limit for new debt and withdrawals only: it never makes a position
    liquidatable. Governance overrules the risk steward at any time."""
    changes: dict[str, int] = {}
    if position_debt_cap is not None:
        changes["position_debt_cap"] = _wad(position_debt_cap)
    if haircut is not None:
        changes["haircut"] = _bps(haircut, "haircut")
    if grace_period is not None:
        changes["grace_period"] = grace_period
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    params = client.params(pool)
    c = client.set_controls(_sender(client.w3, account, keystore), pool, changes)
    data = {
        "pool": pool.name,
        "position_debt_cap": fmt.exact(c.position_debt_cap, 18),
        "haircut_bps": c.haircut,
        "borrow_ltv_bps": risk.borrow_ltv(params.max_ltv, c.haircut),
        "grace_period": c.grace_period,
    }
    text = (
        f"pool {pool.name}: position debt cap {fmt.usd(c.position_debt_cap)} bhUSD, borrow "
        f"limit {_borrow_limit_text(params.max_ltv, c.haircut)}, grace period {c.grace_period} s"
    )
    _emit(as_json, data, text)


def _bps(share: Decimal, name: str) -> int:
    bps = share * 10_000
    if bps != bps.to_integral_value():
        raise UserError(f"--{name.replace('_', '-')} {share:%} is finer than a basis point")
    return int(bps)


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


# `bulkhead keeper run`: the keeper bot's commands live with the keeper package
from bulkhead.keeper.cli import keeper as _keeper_group  # noqa: E402

cli.add_command(_keeper_group)

# `bulkhead keeper fleet`: the keeper on Silverback workers over Redis
from bulkhead.keeper.fleet.cli import fleet as _fleet_command  # noqa: E402

_keeper_group.add_command(_fleet_command)
cli.add_command(simulate)

# `bulkhead risk report` and `bulkhead dashboard` live with the monitor package
from bulkhead.monitor.cli import dashboard as _dashboard  # noqa: E402
from bulkhead.monitor.cli import risk as _risk_group  # noqa: E402

cli.add_command(_risk_group)
cli.add_command(_dashboard)

# `bulkhead steward ...`: the risk steward's bot and commands live with the steward package
from bulkhead.steward.cli import steward as _steward_group  # noqa: E402

cli.add_command(_steward_group)
