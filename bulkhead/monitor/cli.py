"""`bulkhead risk report` and `bulkhead dashboard`: the click commands the main CLI attaches.

Errors are raised as `UserError` or click's own, which the main CLI's group prints as one
line (`error: ...`) with a non-zero exit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from bulkhead import fmt
from bulkhead.client import Client, UserError, connect
from bulkhead.deploy import Deployment
from bulkhead.monitor import risk_model
from bulkhead.monitor.book import PoolReport, report_json, risk_report
from bulkhead.monitor.risk_model import RiskModelError
from bulkhead.options import VolType, json_option, node_options, seconds_option


def attach(rpc_url: str, manifest: str) -> Client:
    deployment = Deployment.load(manifest)
    return Client.attach(connect(rpc_url), deployment, where=f"the node at {rpc_url}")


class HorizonType(click.ParamType):
    """A duration: `24h`, `30m`, `7d`, `1w`, `3600s`."""

    name = "duration"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        try:
            return risk_model.parse_horizon(value)
        except RiskModelError as exc:
            self.fail(str(exc), param, ctx)


HORIZON = HorizonType()
VOL = VolType(ceiling=risk_model.MAX_VOL)


def vols_by_pool(client: Client, given: tuple[tuple[str, float], ...]) -> dict[str, float]:
    """`--vol` values by lower-case pool name (`*`: every pool); checks the names."""
    out: dict[str, float] = {}
    for name, vol in given:
        key = name if name == "*" else client.pool(name).name.lower()
        out[key] = vol
    return out


def risk_options(f: Callable) -> Callable:
    """The model's options, shared by `risk report` and `dashboard`."""
    options = [
        click.option(
            "--horizon",
            type=HORIZON,
            default="24h",
            show_default=True,
            help="How far ahead: 24h, 30m, 7d, 1w, 3600s.",
        ),
        click.option(
            "--vol",
            "vol",
            type=VOL,
            multiple=True,
            help="Yearly volatility of the price, for every pool (80%) or one (WETH=80%); "
            "repeatable. Default: realised over the feed's rounds of the last 30 days.",
        ),
        click.option(
            "--dist",
            type=click.Choice(risk_model.DISTRIBUTIONS),
            default="normal",
            show_default=True,
            help="Returns per step: normal (GBM) or Student-t (fat tails).",
        ),
        click.option(
            "--df",
            type=float,
            default=4.0,
            show_default=True,
            help="Student-t degrees of freedom (more than 2).",
        ),
        click.option(
            "--steps",
            type=click.IntRange(min=1, max=10_000),
            default=risk_model.DEFAULT_STEPS,
            show_default=True,
            help="Steps in the horizon: a keeper liquidates at the worst price of its step.",
        ),
        click.option("--seed", type=int, default=0, show_default=True, help="Random seed."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


# ------------------------------------------------------------------ risk report


@click.group("risk")
def risk() -> None:
    """Predictive risk: probability of liquidation and value at risk of bad debt."""


@risk.command("report")
@node_options
@click.option("--pool", "pool_name", help="Only this pool.")
@risk_options
@click.option(
    "--paths",
    type=click.IntRange(min=100, max=1_000_000),
    default=risk_model.DEFAULT_PATHS,
    show_default=True,
    help="Monte-Carlo price paths per pool.",
)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Positions listed per pool in the table (JSON lists all).",
)
@json_option
def risk_report_cmd(
    rpc_url: str,
    manifest: str,
    pool_name: str | None,
    horizon: int,
    vol: tuple[tuple[str, float], ...],
    dist: str,
    df: float,
    steps: int,
    seed: int,
    paths: int,
    top: int,
    as_json: bool,
) -> None:
    """Monte-Carlo price paths over each pool's book: P(liquidation), VaR and ES of bad debt."""
    client = attach(rpc_url, manifest)
    pools = [client.pool(pool_name)] if pool_name else client.pools()
    try:
        reports = risk_report(
            client, pools, horizon, vols_by_pool(client, vol), paths, steps, dist, df, seed
        )
    except RiskModelError as exc:
        raise UserError(str(exc)) from None
    block = client.w3.eth.block_number
    if as_json:
        data = {"block": block, "pools": [report_json(r) for r in reports]}
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(report_text(reports, block, top))


def duration(seconds: float) -> str:
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def pct(p: float) -> str:
    """A probability for people: `<0.01%` rather than 0 when it is tiny but not zero."""
    if p == 0:
        return "0%"
    if p < 0.0001:
        return "<0.01%"
    return f"{p:.2%}"


def _positions_text(rep: PoolReport, top: int) -> list[str]:
    """The `top` positions most likely to be liquidated, as a titled table (or nothing)."""
    shown = rep.risk.positions()[:top]
    if not shown:
        return []
    liq = dict(zip(rep.book.ids.tolist(), rep.book.liquidation_price.tolist()))
    owners = dict(zip(rep.book.ids.tolist(), rep.book.owners))
    rows = [
        [
            str(pid),
            owners[pid],
            f"{liq[pid]:,.4f}",
            f"{(1 - liq[pid] / rep.price):.2%}" if rep.price else "-",
            pct(p),
        ]
        for pid, p in shown
    ]
    headers = ["id", "owner", "liq. price", "distance", "P(liquidation)"]
    return [
        f"\n{rep.risk.pool}: most likely to be liquidated",
        fmt.table(headers, rows, {0, 2, 3, 4}),
    ]


def report_text(reports: list[PoolReport], block: int, top: int) -> str:
    """`bulkhead risk report`'s table: one row per pool, then each pool's riskiest positions."""
    first = reports[0].risk if reports else None
    head = (
        f"block {block}: risk over {duration(first.horizon)}, {first.paths:,} paths x "
        f"{first.steps} steps, {'Student-t (df ' + str(first.df) + ')' if first.dist == 't' else 'normal'}"
        " returns"
        if first
        else f"block {block}: no pools"
    )
    rows = []
    for rep in reports:
        r = rep.risk
        rows.append(
            [
                r.pool,
                f"{rep.price:,.4f}" + ("" if rep.price_source == "ok" else " *"),
                f"{r.vol:.1%} ({rep.vol_source})",
                str(rep.book.size),
                pct(r.p_any),
                f"{r.expected_liquidations:.3f}",
                f"{r.expected_bad_debt:,.2f}",
                f"{r.reserve:,.2f}",
                f"{r.var:,.2f}",
                f"{r.es:,.2f}",
            ]
        )
    headers = [
        "pool",
        "price [USD]",
        "vol [yearly]",
        "positions",
        "P(any liq.)",
        "E[liquidations]",
        "E[bad debt]",
        "reserve",
        "VaR 99% [bhUSD]",
        "ES 99% [bhUSD]",
    ]
    parts = [head, fmt.table(headers, rows, right={1, 3, 4, 5, 6, 7, 8, 9})]
    parts += [
        f"* {rep.risk.pool}: {rep.price_source}" for rep in reports if rep.price_source != "ok"
    ]
    parts.append("VaR and ES: of bad debt after the reserve, over the worst 1 % of paths.")
    for rep in reports:
        parts += _positions_text(rep, top)
    return "\n".join(parts)


# ------------------------------------------------------------------ dashboard


@click.command("dashboard")
@node_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8600,
    show_default=True,
    help="Port to listen on (0: any free port, printed).",
)
@click.option(
    "--keeper-metrics",
    metavar="URL",
    help="The keeper's Prometheus page (`bulkhead keeper run --metrics-port 9464`: "
    "http://127.0.0.1:9464/metrics), shown while the keeper runs.",
)
@risk_options
@click.option(
    "--paths",
    type=click.IntRange(min=100, max=100_000),
    default=2_000,
    show_default=True,
    help="Monte-Carlo price paths per pool at each new block.",
)
@seconds_option(
    "--poll-interval", default=1.0, least=0.1, help="Seconds between looks at the node's head."
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Announce the address as a JSON line on stdout (with --port 0, for scripts).",
)
def dashboard(
    rpc_url: str,
    manifest: str,
    host: str,
    port: int,
    keeper_metrics: str | None,
    horizon: int,
    vol: tuple[tuple[str, float], ...],
    dist: str,
    df: float,
    steps: int,
    seed: int,
    paths: int,
    poll_interval: float,
    as_json: bool,
) -> None:
    """A live risk dashboard in the browser: pools, positions near liquidation, the
    liquidation ladder, keeper activity, the savings vault and the predicted risk."""
    import signal
    import threading

    from bulkhead.monitor.server import Dashboard
    from bulkhead.monitor.snapshot import RiskSettings

    client = attach(rpc_url, manifest)
    try:
        risk_model.check_inputs(0.0, horizon, paths, steps, dist, df)
    except RiskModelError as exc:
        raise UserError(str(exc)) from None
    settings = RiskSettings(horizon, vols_by_pool(client, vol), paths, steps, dist, df, seed)
    board = Dashboard(client, settings, keeper_metrics, poll_interval)
    try:
        bound = board.start(host, port)
    except OSError as exc:
        raise UserError(str(exc)) from None
    done = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
    url = f"http://{host}:{bound}/"
    if as_json:
        where = {"url": url, "events": f"{url}events", "snapshot": f"{url}snapshot.json"}
        click.echo(json.dumps(where))
    else:
        click.echo(f"dashboard at {url} (Ctrl-C to stop)", err=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        board.close()
