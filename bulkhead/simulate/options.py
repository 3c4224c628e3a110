"""What `bulkhead simulate` and `bulkhead simulate sweep` share: the options both take, the
readers of the options written as text (`--anchor-reset`, `--haircut`), the checks made
before anything runs (the pool names, the output folder) and how a result is printed.

Only click and the standard library load with the CLI; the rest loads when a command runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bulkhead.client import UserError
from bulkhead.options import json_option

KEEPER_KINDS = ("auto", "real")

Result = TypeVar("Result")  # a run's report or a sweep's result


def anchor_reset(value: str) -> int | None:
    """`--anchor-reset`: blocks until governance resets the price anchor, None for `off`."""
    if value.strip().lower() in ("off", "none", "never", "wait"):
        return None
    try:
        blocks = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number of blocks nor `off`") from None
    if blocks < 1:
        raise click.BadParameter("governance acts at least one block after it sees a refusal")
    return blocks


def shared(f: Callable) -> Callable:
    """Options of both the run and the sweep."""
    options: list[Callable[[Callable], Callable]] = [
        click.option(
            "--rpc-url",
            default=None,
            help="Run on this local dev node (Anvil, Hardhat) instead of an embedded Anvil.",
        ),
        click.option(
            "--config",
            type=click.Path(dir_okay=False),
            help="Pools to deploy (default: bulkhead/configs/local.toml).",
        ),
        click.option("--keepers", default=1, show_default=True, type=click.IntRange(1, 20)),
        click.option(
            "--keeper",
            "keeper_kind",
            default="auto",
            show_default=True,
            type=click.Choice(KEEPER_KINDS),
            help="The keeper the simulation runs: bulkhead.keeper, as `bulkhead keeper run` "
            "steps it (`auto` and `real` both name it).",
        ),
        click.option(
            "--block-time",
            type=click.IntRange(1, 86400),
            help="Seconds between blocks [default: 12; 300 for a replay by timestamp].",
        ),
        click.option("--seed", default=7, show_default=True, type=int),
        click.option(
            "--anchor-reset",
            default="1",
            show_default=True,
            help="Blocks after the oracle guard refuses a jump until governance calls "
            "factory.reset_price_anchor; `off` waits for the bound to widen instead.",
        ),
        click.option(
            "--warmup-days",
            default=30.0,
            show_default=True,
            type=click.FloatRange(0, 3650),
            help="Days of stability fees accrued into the reserves before the scenario.",
        ),
        click.option(
            "--gas-price",
            default=10.0,
            show_default=True,
            type=click.FloatRange(0, 10_000),
            help="Base fee of every block [gwei].",
        ),
        json_option,
        click.option("--no-plots", is_flag=True, help="Skip the PNG plots."),
        click.option("--no-progress", is_flag=True, help="Hide the progress bar."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def population(positions: int, stop_loss: float = 0.0) -> Any:
    """The population of `positions` positions, a `stop_loss` share of them with a stop-loss."""
    from bulkhead.simulate.population import Population

    return Population(positions=positions, stop_loss=stop_loss)


def haircuts(text: str | None) -> dict[str, int]:
    """`--haircut 10` or `WETH=10,VOL=20` [%] as whole bps per pool (`*`: every pool)."""
    from bulkhead.risk import MAX_HAIRCUT
    from bulkhead.simulate.scenario import parse_per_pool

    if text is None:
        return {}
    out = {}
    for pool, share in parse_per_pool(text, "--haircut").items():
        bps = round(share * 10_000)
        if abs(share * 10_000 - bps) > 1e-6 or not 0 <= bps <= MAX_HAIRCUT:
            raise UserError(
                f"--haircut {share * 100:g}% for {pool}: whole basis points from 0 to "
                f"{MAX_HAIRCUT / 100:g}%"
            )
        out[pool] = bps
    return out


def log(as_json: bool) -> Callable[[str], None]:
    """Where a run's progress lines go: stderr, or nowhere with --json."""
    return (lambda _line: None) if as_json else (lambda line: click.echo(line, err=True))


def check_pool_names(config: str | None, *named: Any) -> None:
    """Refuse a pool the config does not deploy, before anything runs (`--pools FOO` used to
    run with every pool unmoved and exit 0)."""
    from bulkhead.deploy import Config, ConfigError

    try:
        known = [p.name for p in Config.load(config).pools]
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    unknown = sorted({n for names in named if names for n in names if n != "*"} - set(known))
    if unknown:
        raise UserError(f"unknown pool(s) {', '.join(unknown)}; the config has {', '.join(known)}")


def check_out(out: str) -> None:
    """Make sure --out can be written before the run, not after it."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".bulkhead-write-check"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to --out {out}: {exc.strerror or exc}") from None


def echo_result(
    result: Result,
    as_json: bool,
    render: Callable[[Result], str],
    what: str,
    out: str,
    started: float,
) -> None:
    """Print `result` as JSON, or rendered as text with a line on stderr saying where `what`
    was written and how long the command took since `started` (`time.monotonic()`)."""
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    click.echo(render(result))
    click.echo(
        f"{what} in {out}/; the command took {time.monotonic() - started:.1f} s "
        "(start-up, the run, then the plots and files)",
        err=True,
    )
