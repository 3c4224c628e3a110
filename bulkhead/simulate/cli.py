"""`bulkhead simulate` (one scenario) and `bulkhead simulate sweep` (the frontier).

`bulkhead simulate` alone runs the default scenario: 1,000 positions over the three
default pools, every price down 40 % in block 10, 100 blocks of 12 s, one keeper.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from bulkhead.client import UserError
from bulkhead.options import json_option

SCENARIO_KINDS = ("drop", "staircase", "gbm", "replay")
KEEPER_KINDS = ("auto", "real")


def _anchor_reset(value: str) -> int | None:
    if value.strip().lower() in ("off", "none", "never", "wait"):
        return None
    try:
        blocks = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a number of blocks nor `off`") from None
    if blocks < 1:
        raise click.BadParameter("governance acts at least one block after it sees a refusal")
    return blocks


def _shared(f: Callable) -> Callable:
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


def _population(positions: int, stop_loss: float = 0.0) -> Any:
    from bulkhead.simulate.population import Population

    return Population(positions=positions, stop_loss=stop_loss)


def _haircuts(text: str | None) -> dict[str, int]:
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


def _log(as_json: bool) -> Callable[[str], None]:
    return (lambda _line: None) if as_json else (lambda line: click.echo(line, err=True))


@click.group(invoke_without_command=True)
@click.option(
    "--scenario",
    "kind",
    default="drop",
    show_default=True,
    type=click.Choice(SCENARIO_KINDS),
    help="Price path.",
)
@click.option("--file", "file_", type=click.Path(dir_okay=False), help="CSV to replay.")
@click.option("--positions", default=1000, show_default=True, type=click.IntRange(1, 20_000))
@click.option(
    "--blocks",
    type=click.IntRange(1, 100_000),
    help="Blocks to drive [default: 100; a replay: the file's length plus 10].",
)
@click.option(
    "--start", default=10, show_default=True, type=click.IntRange(1), help="First block that moves."
)
@click.option(
    "--drop",
    default="40",
    show_default=True,
    help="Drop [%] of `drop` and total of `staircase`: `40` (or `40%`), or per pool `WETH=90,VOL=20`.",
)
@click.option("--pools", help="Pools that move, e.g. WETH,VOL (default: all).")
@click.option(
    "--steps", default=4, show_default=True, type=click.IntRange(1), help="Staircase steps."
)
@click.option(
    "--step-every",
    default=10,
    show_default=True,
    type=click.IntRange(1),
    help="Blocks between steps.",
)
@click.option(
    "--vol", default="100", show_default=True, help="GBM volatility [% a year], or per pool."
)
@click.option("--drift", default=0.0, show_default=True, type=float, help="GBM drift [% a year].")
@click.option(
    "--regime",
    is_flag=True,
    help="GBM in a volatility regime: calm (--calm-vol, --calm-blocks), then volatility "
    "rising to --vol (--rise-blocks), then a crash of --drop (--crash-blocks).",
)
@click.option(
    "--calm-vol",
    default="30",
    show_default=True,
    help="The regime's calm volatility [% a year].",
)
@click.option("--calm-blocks", default=36, show_default=True, type=click.IntRange(1))
@click.option("--rise-blocks", default=24, show_default=True, type=click.IntRange(1))
@click.option("--crash-blocks", default=4, show_default=True, type=click.IntRange(1))
@click.option(
    "--steward",
    "steward",
    is_flag=True,
    help="The risk steward moves haircuts during the scenario (`bulkhead steward run`'s "
    "rule, within each pool's steward rules).",
)
@click.option(
    "--steward-window",
    default=86_400,
    show_default=True,
    type=click.IntRange(60, 30 * 86_400),
    help="Seconds of feed history per volatility estimate.",
)
@click.option(
    "--haircut",
    default=None,
    help="Haircut [%] governance sets before the positions open: `10`, or per pool "
    "`WETH=10,VOL=20`.",
)
@click.option(
    "--stop-loss",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 100),
    help="Share of positions [%] whose owners set a stop-loss 10% above their liquidation "
    "price (PositionAutomation.set_stop_loss; keepers execute them).",
)
@click.option(
    "--out",
    default="simulation",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for report.json, the plots and the keepers' logs.",
)
@_shared
@click.pass_context
def simulate(ctx: click.Context, **kw: Any) -> None:
    """Crash a local deployment block by block while keepers react; report and plot it.

    Starts an embedded Anvil (unless --rpc-url), deploys, opens --positions positions
    (sizes and leverage drawn from distributions, 40 owners, a fifth with protections),
    drives the prices, and writes report.json and four PNG plots to --out.
    """
    if ctx.invoked_subcommand is not None:
        given = [
            name
            for name in ctx.params
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
        ]
        if given:
            raise click.UsageError(
                f"options before `{ctx.invoked_subcommand}` ({', '.join(given)}) belong to the "
                f"single run; put them after `{ctx.invoked_subcommand}`"
            )
        return
    _run(**kw)


def _run(
    kind: str,
    file_: str | None,
    positions: int,
    blocks: int | None,
    start: int,
    drop: str,
    pools: str | None,
    steps: int,
    step_every: int,
    vol: str,
    drift: float,
    regime: bool,
    calm_vol: str,
    calm_blocks: int,
    rise_blocks: int,
    crash_blocks: int,
    steward: bool,
    steward_window: int,
    haircut: str | None,
    stop_loss: float,
    out: str,
    rpc_url: str | None,
    config: str | None,
    keepers: int,
    keeper_kind: str,
    block_time: int | None,
    seed: int,
    anchor_reset: str,
    warmup_days: float,
    gas_price: float,
    as_json: bool,
    no_plots: bool,
    no_progress: bool,
) -> None:
    from bulkhead.simulate import engine, report
    from bulkhead.simulate.scenario import (
        Regime,
        Scenario,
        ScenarioError,
        load_replay,
        parse_per_pool,
        replay_blocks,
    )

    started = time.monotonic()
    try:
        replay = None
        if kind == "replay":
            if not file_:
                raise UserError("--scenario replay needs --file CSV")
            replay = load_replay(file_)
            if block_time is None:
                block_time = 1 if replay.key == "block" else 300
        elif file_:
            raise UserError("--file is for --scenario replay")
        block_time = block_time or 12
        shape = None
        if regime:
            if kind != "gbm":
                raise UserError("--regime is for --scenario gbm")
            calm = parse_per_pool(calm_vol, "--calm-vol")
            if set(calm) != {"*"}:
                raise UserError("--calm-vol is one volatility for every pool")
            shape = Regime(calm["*"], calm_blocks, rise_blocks, crash_blocks)
        if blocks is None:
            if replay:
                blocks = replay_blocks(replay, block_time, start)
            elif shape is not None:
                blocks = start + shape.blocks + 12  # and 12 blocks after the crash
            else:
                blocks = 100
        moving = tuple(p.strip() for p in pools.split(",") if p.strip()) if pools else None
        if replay is not None and moving is None and "price" not in replay.columns:
            moving = tuple(replay.columns)  # the pools the file names
        scenario = Scenario(
            kind=kind,
            blocks=blocks,
            start=start,
            drop=parse_per_pool(drop, "--drop"),
            steps=steps,
            step_every=step_every,
            vol=parse_per_pool(vol, "--vol"),
            drift=drift / 100,
            moving=moving,
            file=file_,
            regime=shape,
        )
        scenario.validate()
        haircuts = _haircuts(haircut)
        _check_pool_names(config, moving, scenario.drop, scenario.vol, haircuts)
        _check_out(out)
        settings = engine.Settings(
            scenario=scenario,
            population=_population(positions, stop_loss / 100),
            haircuts=haircuts,
            steward=steward,
            steward_window=steward_window,
            keepers=keepers,
            keeper_kind=keeper_kind,
            block_time=block_time,
            seed=seed,
            rpc_url=rpc_url,
            config=config,
            anchor_reset=_anchor_reset(anchor_reset),
            warmup_days=warmup_days,
            gas_price_gwei=gas_price,
        )
        result = engine.run(
            settings,
            out=Path(out),
            progress=not (no_progress or as_json),
            plots=not no_plots,
            log=_log(as_json),
        )
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        click.echo(report.render(result))
        what = "report" if no_plots else "report and plots"
        click.echo(
            f"{what} in {out}/; the command took {time.monotonic() - started:.1f} s "
            "(start-up, the run, then the plots and files)",
            err=True,
        )
    if not result["ok"]:
        raise click.exceptions.Exit(1)


def _check_pool_names(config: str | None, *named: Any) -> None:
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


def _check_out(out: str) -> None:
    """Make sure --out can be written before the run, not after it."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".bulkhead-write-check"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to --out {out}: {exc.strerror or exc}") from None


@simulate.command(name="sweep")
@click.option(
    "--x",
    "x_axis",
    default="threshold=80,85,90",
    show_default=True,
    help="First parameter and values: threshold, max_ltv, bonus, fee, haircut (in %), "
    "keepers, block_time (s) or drop (%). `--y haircut=0,20`: the frontier without and with "
    "a 20% haircut.",
)
@click.option(
    "--y",
    "y_axis",
    default="bonus=3,5,8",
    show_default=True,
    help="Second parameter (same names), or `none` for a one-parameter sweep.",
)
@click.option("--pool", "pool_names", multiple=True, help="Pool(s) to crash [default: WETH].")
@click.option("--positions", default=100, show_default=True, type=click.IntRange(1, 5_000))
@click.option(
    "--drops",
    default="5:95:2.5",
    show_default=True,
    help="Drops searched [%]: START:STOP:STEP or a list.",
)
@click.option(
    "--max-blocks",
    default=12,
    show_default=True,
    type=click.IntRange(2, 1_000),
    help="Blocks a probe may take to liquidate everything.",
)
@click.option(
    "--out",
    default="simulation/sweep",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for sweep.json, sweep.csv and frontier.png.",
)
@_shared
def sweep_cmd(
    x_axis: str,
    y_axis: str,
    pool_names: tuple[str, ...],
    positions: int,
    drops: str,
    max_blocks: int,
    out: str,
    rpc_url: str | None,
    config: str | None,
    keepers: int,
    keeper_kind: str,
    block_time: int | None,
    seed: int,
    anchor_reset: str,
    warmup_days: float,
    gas_price: float,
    as_json: bool,
    no_plots: bool,
    no_progress: bool,
) -> None:
    """Largest single-block drop with zero bad debt, over one or two parameters.

    Each cell opens the population under its parameters, then bisects the grid of drops
    (each probe from the cell's snapshot); the table and a heatmap go to --out.
    """
    from bulkhead.simulate import engine, sweep

    started = time.monotonic()
    _check_pool_names(config, pool_names)
    _check_out(out)
    axes = [sweep.parse_axis(x_axis)]
    if y_axis.strip().lower() not in ("", "none"):
        axes.append(sweep.parse_axis(y_axis))
    settings = engine.Settings(
        population=_population(positions),
        keepers=keepers,
        keeper_kind=keeper_kind,
        block_time=block_time or 12,
        seed=seed,
        rpc_url=rpc_url,
        config=config,
        anchor_reset=_anchor_reset(anchor_reset),
        warmup_days=warmup_days,
        gas_price_gwei=gas_price,
        pools=tuple(pool_names) or ("WETH",),
    )
    result = sweep.run(
        settings,
        axes,
        drops=sweep.parse_drops(drops),
        max_blocks=max_blocks,
        out=Path(out),
        progress=not (no_progress or as_json),
        plots=not no_plots,
        log=lambda _line: None,  # the progress bar says enough
    )
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        click.echo(sweep.render(result))
        what = "table" if no_plots else "table and heatmap"
        click.echo(
            f"{what} in {out}/; the command took {time.monotonic() - started:.1f} s "
            "(start-up, the run, then the plots and files)",
            err=True,
        )
