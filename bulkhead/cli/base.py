"""The `bulkhead` command line.

Every command reads the deployment manifest (`--manifest`, env `BULKHEAD_MANIFEST`,
default `./deployment.json`), talks to `--rpc-url` (env `BULKHEAD_RPC_URL`, default
`http://127.0.0.1:8545`), prints a table by default and JSON with `--json`. A user mistake
is one line on stderr (`error: ...`) and a non-zero exit, never a traceback.

The group, its one-line error handling, the shared options and the output helpers;
the commands live in the modules beside this one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import click
from requests.exceptions import RequestException
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from bulkhead import __version__, fmt, risk
from bulkhead.chain import Sender, TxError, revert_reason
from bulkhead.client import Client, Pool, Position, UserError, connect
from bulkhead.deploy import Deployment
from bulkhead.errors import BulkheadError
from bulkhead.eth import accounts as accounts_mod
from bulkhead.options import DEFAULT_MANIFEST, json_option, manifest_option, rpc_option
from bulkhead.risk import Controls

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


def _apy_text(apy: float) -> str:
    if apy != apy or apy == float("inf"):
        return "-"
    if apy > 10:  # a young vault's one-day window compounds into nonsense
        return f"{apy:.0%} (over a short window: not a forecast)"
    return f"{apy:.2%}"


def _bps(share: Decimal, name: str) -> int:
    bps = share * 10_000
    if bps != bps.to_integral_value():
        raise UserError(f"--{name.replace('_', '-')} {share:%} is finer than a basis point")
    return int(bps)


@click.group(
    name="bulkhead", cls=BulkheadGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="bulkhead")
def cli() -> None:
    """Bulkhead: isolated-margin CDP pools. Deploy, inspect and drive them from a terminal."""


def main() -> None:
    """Console entry point (`bulkhead`, `python -m bulkhead`)."""
    cli.main(prog_name="bulkhead")
