"""`bulkhead position ...` and `bulkhead liquidate`: one position's life, by its owner or a keeper."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from typing import Any

import click
from web3 import Web3

from bulkhead import fmt
from bulkhead.cli.base import (
    _bps,
    _client,
    _common,
    _emit,
    _id_option,
    _pool_option,
    _position_text,
    _positions_table,
    _sender,
    _stop_loss_text,
    _units,
    _wad,
    cli,
)
from bulkhead.client import Client, Pool, UserError
from bulkhead.options import NUMBER, PERCENT, AmountOr, account_options


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
