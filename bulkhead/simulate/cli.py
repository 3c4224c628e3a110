"""`bulkhead simulate` (one scenario) and `bulkhead simulate sweep` (the frontier).

`bulkhead simulate` alone runs the default scenario: 1,000 positions over the three
default pools, every price down 40 % in block 10, 100 blocks of 12 s, one keeper.
The options both commands take, and the checks made before a run, are in `options.py`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from bulkhead.client import UserError
from bulkhead.simulate import options

if TYPE_CHECKING:
    from bulkhead.simulate.scenario import Scenario

SCENARIO_KINDS = ("drop", "staircase", "gbm", "replay")


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
@options.shared
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
    _run(RunOptions(**kw))


@dataclass(frozen=True)
class RunOptions:
    """The options of one run (`bulkhead simulate` without a subcommand), as click reads them."""

    kind: str
    file_: str | None
    positions: int
    blocks: int | None
    start: int
    drop: str
    pools: str | None
    steps: int
    step_every: int
    vol: str
    drift: float
    regime: bool
    calm_vol: str
    calm_blocks: int
    rise_blocks: int
    crash_blocks: int
    steward: bool
    steward_window: int
    haircut: str | None
    stop_loss: float
    out: str
    rpc_url: str | None
    config: str | None
    keepers: int
    keeper_kind: str
    block_time: int | None
    seed: int
    anchor_reset: str
    warmup_days: float
    gas_price: float
    as_json: bool
    no_plots: bool
    no_progress: bool


def _run(o: RunOptions) -> None:
    from bulkhead.simulate import engine, report
    from bulkhead.simulate.scenario import ScenarioError

    started = time.monotonic()
    try:
        scenario, block_time = _scenario(o)
        haircuts = options.haircuts(o.haircut)
        options.check_pool_names(o.config, scenario.moving, scenario.drop, scenario.vol, haircuts)
        options.check_out(o.out)
        settings = engine.Settings(
            scenario=scenario,
            population=options.population(o.positions, o.stop_loss / 100),
            haircuts=haircuts,
            steward=o.steward,
            steward_window=o.steward_window,
            keepers=o.keepers,
            keeper_kind=o.keeper_kind,
            block_time=block_time,
            seed=o.seed,
            rpc_url=o.rpc_url,
            config=o.config,
            anchor_reset=options.anchor_reset(o.anchor_reset),
            warmup_days=o.warmup_days,
            gas_price_gwei=o.gas_price,
        )
        result = engine.run(
            settings,
            out=Path(o.out),
            progress=not (o.no_progress or o.as_json),
            plots=not o.no_plots,
            log=options.log(o.as_json),
        )
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    what = "report" if o.no_plots else "report and plots"
    options.echo_result(result, o.as_json, report.render, what, o.out, started)
    if not result["ok"]:
        raise click.exceptions.Exit(1)


def _scenario(o: RunOptions) -> tuple[Scenario, int]:
    """The scenario the options describe, validated, and the seconds between its blocks."""
    from bulkhead.simulate.scenario import (
        Regime,
        Scenario,
        load_replay,
        parse_per_pool,
        replay_blocks,
    )

    replay = None
    block_time = o.block_time
    if o.kind == "replay":
        if not o.file_:
            raise UserError("--scenario replay needs --file CSV")
        replay = load_replay(o.file_)
        if block_time is None:
            block_time = 1 if replay.key == "block" else 300
    elif o.file_:
        raise UserError("--file is for --scenario replay")
    block_time = block_time or 12
    shape = None
    if o.regime:
        if o.kind != "gbm":
            raise UserError("--regime is for --scenario gbm")
        calm = parse_per_pool(o.calm_vol, "--calm-vol")
        if set(calm) != {"*"}:
            raise UserError("--calm-vol is one volatility for every pool")
        shape = Regime(calm["*"], o.calm_blocks, o.rise_blocks, o.crash_blocks)
    blocks = o.blocks
    if blocks is None:
        if replay:
            blocks = replay_blocks(replay, block_time, o.start)
        elif shape is not None:
            blocks = o.start + shape.blocks + 12  # and 12 blocks after the crash
        else:
            blocks = 100
    pools = o.pools
    moving = tuple(p.strip() for p in pools.split(",") if p.strip()) if pools else None
    if replay is not None and moving is None and "price" not in replay.columns:
        moving = tuple(replay.columns)  # the pools the file names
    scenario = Scenario(
        kind=o.kind,
        blocks=blocks,
        start=o.start,
        drop=parse_per_pool(o.drop, "--drop"),
        steps=o.steps,
        step_every=o.step_every,
        vol=parse_per_pool(o.vol, "--vol"),
        drift=o.drift / 100,
        moving=moving,
        file=o.file_,
        regime=shape,
    )
    scenario.validate()
    return scenario, block_time


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
@options.shared
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
    options.check_pool_names(config, pool_names)
    options.check_out(out)
    axes = [sweep.parse_axis(x_axis)]
    if y_axis.strip().lower() not in ("", "none"):
        axes.append(sweep.parse_axis(y_axis))
    settings = engine.Settings(
        population=options.population(positions),
        keepers=keepers,
        keeper_kind=keeper_kind,
        block_time=block_time or 12,
        seed=seed,
        rpc_url=rpc_url,
        config=config,
        anchor_reset=options.anchor_reset(anchor_reset),
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
    what = "table" if no_plots else "table and heatmap"
    options.echo_result(result, as_json, sweep.render, what, out, started)
