"""`bulkhead steward ...`: the click group the main CLI attaches (`cli.add_command(steward)`).

- `run`: the steward bot (`--once`, `--dry-run`); a JSON line per decision on stderr, the
  summary on stdout when it ends.
- `show`: the steward, and per pool its rules, the haircut, the volatility and the target.
- `appoint ADDRESS` and `rules POOL ...`: governance names the steward and fixes its rules.
- `set-haircut POOL P`: the steward by hand, within its rules.

Errors (`UserError`, `AccountError`, `NodeError`, ...) reach the main CLI's group, which
prints them as one line (`error: ...`) with a non-zero exit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from web3 import Web3

from bulkhead import fmt, risk
from bulkhead.chain import Sender
from bulkhead.client import Client, UserError, connect
from bulkhead.deploy import Deployment
from bulkhead.eth import accounts
from bulkhead.eth.accounts import STEWARD_DEV_ACCOUNT
from bulkhead.options import (
    BPS,
    DURATION,
    VolType,
    account_options,
    json_option,
    log_format_option,
    node_options,
    seconds_option,
)
from bulkhead.steward.core import Assessment, Steward, StewardConfig, steward_sender
from bulkhead.steward.decide import DEFAULT_MIN_CHANGE, DEFAULT_WINDOW, Curve
from bulkhead.steward.runner import DEFAULT_INTERVAL
from bulkhead.steward.runner import run as run_steward

STEWARD_DEFAULT = (
    f"env BULKHEAD_PRIVATE_KEY, else the named steward's dev account, else {STEWARD_DEV_ACCOUNT}"
)


VOL = VolType()


def _policy_options(f: Callable) -> Callable:
    """The estimate's window and the volatility-to-haircut curve (docs/STEWARD.md)."""
    options = [
        click.option(
            "--window",
            type=DURATION,
            default=str(DEFAULT_WINDOW),
            show_default=True,
            help="Feed history per estimate [seconds, or 60m, 24h, 7d].",
        ),
        click.option(
            "--calm-vol",
            type=VOL,
            multiple=True,
            help="Annualised volatility up to which the haircut is 0 [default: 50%]; "
            "`VOL=120%` for one pool (repeat).",
        ),
        click.option(
            "--stressed-vol",
            type=VOL,
            multiple=True,
            help="Annualised volatility from which the haircut is --stressed-haircut "
            "[default: 150%]; `VOL=250%` for one pool (repeat).",
        ),
        click.option(
            "--stressed-haircut",
            type=BPS,
            default="30%",
            show_default=True,
            help="The haircut at the stressed volatility (the pool's steward ceiling caps it).",
        ),
        click.option(
            "--min-change",
            type=click.IntRange(0, risk.MAX_HAIRCUT),
            default=DEFAULT_MIN_CHANGE,
            show_default=True,
            help="Least move [bps] toward a non-zero target worth a change.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _config(
    window: int,
    calm_vol: tuple[tuple[str, float], ...],
    stressed_vol: tuple[tuple[str, float], ...],
    stressed_haircut: int,
    min_change: int,
    dry_run: bool = False,
) -> StewardConfig:
    if window < 60:
        raise UserError("--window must be at least 60 seconds")
    if stressed_haircut == 0 or stressed_haircut > risk.MAX_HAIRCUT:
        raise UserError(
            f"--stressed-haircut must be above 0 and at most {fmt.bps(risk.MAX_HAIRCUT)}"
        )
    base = Curve()
    calm = {"*": base.calm, **dict(calm_vol)}
    stressed = {"*": base.stressed, **dict(stressed_vol)}
    names = sorted((set(calm) | set(stressed)) - {"*"}, key=str.lower)

    def curve(pool: str) -> Curve:
        try:
            return Curve(
                calm.get(pool, calm["*"]), stressed.get(pool, stressed["*"]), stressed_haircut
            )
        except ValueError as exc:
            where = "" if pool == "*" else f" for pool {pool}"
            raise UserError(f"{exc}{where}") from None

    return StewardConfig(
        window=window,
        curve=curve("*"),
        curves={name: curve(name) for name in names},
        min_change=min_change,
        dry_run=dry_run,
    )


# ------------------------------------------------------------------ helpers


def _client(rpc_url: str, manifest: str) -> Client:
    deployment = Deployment.load(manifest)
    return Client.attach(connect(rpc_url), deployment, where=f"the node at {rpc_url}")


def _prompt(text: str) -> str:
    return click.prompt(text, hide_input=True, err=True)


def _emit(as_json: bool, data: dict[str, Any], text: str, sender: Sender | None = None) -> None:
    sent = list(sender.sent) if sender is not None else []
    if sent:
        data = {**data, "transactions": sent}
        text = f"{text}\ntransactions: {', '.join(sent)}"
    click.echo(json.dumps(data, indent=2) if as_json else text)


def _rules_text(rules: dict[str, int]) -> str:
    if not rules["max_step"]:
        return "none"
    return (
        f"up to {fmt.bps(rules['max_haircut'])}, {fmt.bps(rules['max_step'])} a step, "
        f"every {rules['cooldown']} s"
    )


# ------------------------------------------------------------------ commands


@click.group("steward")
def steward() -> None:
    """The risk steward: volatility haircuts within governance's rules."""


@steward.command("run")
@node_options
@account_options(STEWARD_DEFAULT)
@click.option("--once", is_flag=True, help="One pass over the pools, then exit.")
@click.option("--dry-run", is_flag=True, help="Decide and log; send nothing.")
@seconds_option("--interval", default=DEFAULT_INTERVAL, least=0.05, help="Seconds between passes.")
@_policy_options
@log_format_option()
@seconds_option(
    "--connect-timeout",
    default=30.0,
    least=0,
    help="Seconds to wait for the node (with --once also when it goes away).",
)
@json_option
def run(
    rpc_url: str,
    manifest: str,
    account: int | None,
    keystore: str | None,
    once: bool,
    dry_run: bool,
    interval: float,
    log_format: str,
    connect_timeout: float,
    as_json: bool,
    **policy: Any,
) -> None:
    """Estimate each pool's volatility from its feed and move its haircut toward the
    target, one step per cooldown, within the steward's rules."""
    config = _config(**policy, dry_run=dry_run)
    summary = run_steward(
        rpc_url,
        manifest,
        account=account,
        keystore=keystore,
        config=config,
        once=once,
        interval=interval,
        log_format=log_format,
        connect_timeout=connect_timeout,
        prompt=_prompt,
    )
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    rows = [
        ["passes", str(summary["cycles"])],
        ["decisions", str(summary["decisions"])],
        ["haircut changes", _pairs(summary["changes"])],
        ["refused", _pairs(summary["refused"])],
    ]
    if summary["dry_run"]:
        rows.append(["dry run: would change", _pairs(summary["simulated"])])
    click.echo(fmt.table(["steward", ""], rows, set()))


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


@steward.command("show")
@node_options
@_policy_options
@json_option
def show(rpc_url: str, manifest: str, as_json: bool, **policy: Any) -> None:
    """The steward, and per pool: its rules, the haircut, the volatility and the target."""
    config = _config(**policy)
    client = _client(rpc_url, manifest)
    named = client.steward()
    assessments = Steward(client, None, config).assess_all()
    pools = []
    for a in assessments:
        max_ltv = client.params(client.pool(a.pool)).max_ltv
        pools.append(
            {
                **a.as_json(),
                "max_ltv_bps": max_ltv,
                "borrow_ltv_bps": risk.borrow_ltv(max_ltv, a.current),
                "ready_at": a.rules.ready_at() if a.rules.max_step else None,
            }
        )
    data = {
        "steward": named,
        "governance": client.factory.functions.owner().call(),
        "window_s": config.window,
        "curve": [{"vol": v, "haircut_bps": h} for v, h in config.curve.table()],
        "pools": pools,
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"steward: {named or 'none named'}; governance: {data['governance']}")
    rows = [_show_row(a, p) for a, p in zip(assessments, pools, strict=True)]
    headers = ["pool", "haircut", "borrow limit", "steward rules", "next change", "vol", "rounds"]
    headers += ["target", "decision"]
    click.echo(fmt.table(headers, rows, {1, 2, 5, 6, 7}))
    curve = ", ".join(f"{v:.0%} -> {fmt.bps(h)}" for v, h in config.curve.table())
    click.echo(f"volatility over {config.window} s, annualised; curve: {curve}")


def _show_row(a: Assessment, p: dict[str, Any]) -> list[str]:
    rules = a.rules.as_dict()
    if not a.rules.max_step:
        wait = "-"
    elif a.now >= a.rules.ready_at():
        wait = "now"
    else:
        wait = f"in {a.rules.ready_at() - a.now} s"
    vol = a.estimate.vol
    return [
        a.pool,
        fmt.bps(a.current),
        fmt.bps(p["borrow_ltv_bps"]),
        _rules_text(rules),
        wait,
        "-" if vol is None else f"{vol:.1%}",
        str(a.estimate.rounds),
        "-" if a.target is None else fmt.bps(a.target),
        f"{a.decision.action}: {a.decision.reason}"
        if not a.decision.changes
        else f"{a.decision.action} to {fmt.bps(a.decision.new)}",
    ]


@steward.command("appoint")
@node_options
@click.argument("address")
@account_options()
@json_option
def appoint(
    rpc_url: str,
    manifest: str,
    address: str,
    account: int | None,
    keystore: str | None,
    as_json: bool,
) -> None:
    """Name ADDRESS the risk steward (`none` removes the role) (governance)."""
    client = _client(rpc_url, manifest)
    if address.strip().lower() == "none":
        address = "0x" + "00" * 20
    elif not Web3.is_address(address):
        raise UserError(f"{fmt.short(address)!r} is not an address (or `none`)")
    address = Web3.to_checksum_address(address)
    sender = accounts.resolve(client.w3, account, keystore, prompt=_prompt)
    if address.lower() == client.factory.functions.owner().call().lower():
        raise UserError(
            "governance cannot be the steward: its own haircut changes bypass the steward's "
            "rules; name another account"
        )
    client.set_steward(sender, address)
    named = client.steward()
    text = f"risk steward: {named}" if named else "no risk steward named"
    _emit(as_json, {"steward": named}, text, sender)


@steward.command("rules")
@node_options
@click.argument("pool_name", metavar="POOL")
@click.option("--max-haircut", type=BPS, help="The steward's ceiling, e.g. 30%.")
@click.option("--max-step", type=BPS, help="The most one change may move the haircut, e.g. 5%.")
@click.option("--cooldown", type=DURATION, help="Between two changes [seconds, or 1h, 1d].")
@account_options()
@json_option
def rules(
    rpc_url: str,
    manifest: str,
    pool_name: str,
    max_haircut: int | None,
    max_step: int | None,
    cooldown: int | None,
    account: int | None,
    keystore: str | None,
    as_json: bool,
) -> None:
    """Fix what the steward may do to POOL's haircut (governance); rules not given stay."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    now = client.steward_rules(pool)
    given = {"max_haircut": max_haircut, "max_step": max_step, "cooldown": cooldown}
    if all(v is None for v in given.values()):
        raise UserError("name at least one of --max-haircut, --max-step and --cooldown")
    if not now["max_step"] and any(v is None for v in given.values()):
        raise UserError(
            f"pool {pool.name} has no steward rules yet: give --max-haircut, --max-step and "
            "--cooldown"
        )
    new = {k: now[k] if v is None else v for k, v in given.items()}
    sender = accounts.resolve(client.w3, account, keystore, prompt=_prompt)
    client.set_steward_rules(sender, pool, new["max_haircut"], new["max_step"], new["cooldown"])
    after = client.steward_rules(pool)
    _emit(
        as_json,
        {"pool": pool.name, **after},
        f"pool {pool.name}: steward {_rules_text(after)}",
        sender,
    )


@steward.command("set-haircut")
@node_options
@click.argument("pool_name", metavar="POOL")
@click.argument("haircut", type=BPS)
@account_options(STEWARD_DEFAULT)
@json_option
def set_haircut(
    rpc_url: str,
    manifest: str,
    pool_name: str,
    haircut: int,
    account: int | None,
    keystore: str | None,
    as_json: bool,
) -> None:
    """Set POOL's haircut to HAIRCUT (e.g. 5%) as the steward, within its rules."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = steward_sender(client, account, keystore, prompt=_prompt)
    before = client.controls(pool).haircut
    client.steward_set_haircut(sender, pool, haircut)
    after = client.controls(pool).haircut
    limit = client.borrow_ltv(pool)
    data = {
        "pool": pool.name,
        "haircut_bps": after,
        "previous_bps": before,
        "borrow_ltv_bps": limit,
    }
    text = (
        f"pool {pool.name}: haircut {fmt.bps(before)} -> {fmt.bps(after)}; borrow limit "
        f"{fmt.bps(limit)}"
    )
    _emit(as_json, data, text, sender)
