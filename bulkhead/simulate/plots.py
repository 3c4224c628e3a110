"""PNG plots of a simulation report and of a sweep (matplotlib, no display needed)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

from bulkhead.simulate.schema import PoolReport, Report, SweepResult

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FixedLocator, FormatStrFormatter, FuncFormatter, NullFormatter

STEPS: dict[str, Any] = {"drawstyle": "steps-post"}
HEALTH_TICKS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)

COLORS = {
    "price": "#1f4e79", "liq": "#c0392b", "prot": "#27ae60", "refused": "#f5b7b1",
    "haircut": "#8e44ad", "vol": "#7f8c8d", "crash": "#fadbd8", "rise": "#fdebd0",
}  # fmt: skip


def _pools(report: Report) -> list[PoolReport]:
    return report["pools"]


def _grid(n: int, title: str, height: float = 2.6) -> tuple[Any, list[Any]]:
    fig, axes = plt.subplots(n, 1, figsize=(10, height * n + 0.6), sharex=True, squeeze=False)
    fig.suptitle(title, fontsize=11)
    return fig, [a[0] for a in axes]


def _shade_refused(ax: Any, series: dict[str, list]) -> None:
    blocks, oracle = series["block"], series["oracle"]
    for i, status in enumerate(oracle):
        if status != "ok":
            ax.axvspan(blocks[i] - 0.5, blocks[i] + 0.5, color=COLORS["refused"], lw=0)


def _usd(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")  # nothing clipped: titles, colour bars
    plt.close(fig)
    return path


def _legend(fig: Any, axes: list[Any], ncol: int = 6) -> None:
    """One legend for the figure, above the first plot: never over the data."""
    handles, labels = [], []
    for ax in axes:
        for h, lbl in zip(*ax.get_legend_handles_labels(), strict=True):
            if lbl not in labels and not lbl.startswith("_"):
                handles.append(h)
                labels.append(lbl)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.955), ncol=ncol,
        fontsize=8, frameon=False,
    )  # fmt: skip


def last_activity(report: Report) -> int:
    """The last block in which anything moved in any pool (price, liquidations, protections,
    the lowest health): the plots stop a few blocks after it instead of running on flat."""
    last = 0
    for pool in _pools(report):
        s = pool["series"]
        for i in range(1, len(s["block"])):
            moved = (
                s["price"][i] != s["price"][i - 1]
                or s["liquidations"][i]
                or s["protections"][i]
                or s["lowest_health"][i] != s["lowest_health"][i - 1]
            )
            if moved:
                last = max(last, s["block"][i])
    return last


def _trim(report: Report, axes: list[Any]) -> None:
    blocks = _pools(report)[0]["series"]["block"]
    end = min(blocks[-1], last_activity(report) + max(3, (blocks[-1] - blocks[0]) // 10))
    for ax in axes:
        ax.set_xlim(blocks[0] - 0.5, max(end, blocks[0] + 1) + 0.5)


def price_liquidations(report: Report, path: Path) -> Path:
    pools = _pools(report)
    fig, axes = _grid(len(pools), "Price (% of start) with liquidations and protections per block")
    for ax, pool in zip(axes, pools, strict=True):
        s = pool["series"]
        blocks = s["block"]
        start = s["price"][0]
        _shade_refused(ax, s)
        ax.plot(
            blocks,
            [p / start * 100 for p in s["price"]],
            color=COLORS["price"],
            lw=1.6,
            drawstyle="steps-post",
        )
        ax.yaxis.set_major_formatter(  # the report's prices are in USD
            FuncFormatter(lambda v, _pos, usd=start: f"{v:g}% ({_usd(v / 100 * usd)} USD)")
        )
        ax.set_ylabel(f"{pool['name']} price\n[% of start (USD)]")
        ax.grid(alpha=0.3)
        twin = ax.twinx()
        twin.bar(
            blocks,
            s["liquidations"],
            color=COLORS["liq"],
            alpha=0.7,
            width=0.9,
            label="liquidations",
        )
        twin.bar(
            blocks,
            s["protections"],
            bottom=s["liquidations"],
            color=COLORS["prot"],
            alpha=0.7,
            width=0.9,
            label="protections",
        )
        twin.set_ylabel("actions per block [count]")
        top = max([a + b for a, b in zip(s["liquidations"], s["protections"], strict=True)] + [1])
        twin.set_ylim(0, top * 1.15)
    axes[0].plot([], [], color=COLORS["price"], lw=1.6, label="price")
    axes[0].axvspan(0, 0, color=COLORS["refused"], lw=0, label="the pool refuses the price")
    twins = [a for a in fig.axes if a not in axes]
    _trim(report, axes)
    axes[-1].set_xlabel("block of the scenario [block]")
    _legend(fig, [axes[0], twins[0]])
    return _save(fig, path)


def health(report: Report, path: Path) -> Path:
    pools = _pools(report)
    fig, axes = _grid(len(pools), "Health of positions with debt, at the market price")
    labels = ("1st pct", "5th pct", "25th pct", "median", "75th pct")
    # (line style, width, colour): no two percentiles look alike
    styles = (
        (":", 1.2, "#7f8c8d"),
        ("--", 1.1, "#2e86c1"),
        ("-.", 1.1, "#16a085"),
        ("-", 1.8, "#1c2833"),
        ((0, (5, 1, 1, 1, 1, 1)), 1.1, "#8e44ad"),
    )
    for ax, pool in zip(axes, pools, strict=True):
        s = pool["series"]
        blocks = s["block"]
        qs = s["health_quantiles"]
        _shade_refused(ax, s)
        if qs and qs[0]:
            for j, (label, (ls, lw, color)) in enumerate(zip(labels, styles, strict=True)):
                ax.plot(
                    blocks,
                    [q[j] if q else math.nan for q in qs],
                    ls=ls,
                    lw=lw,
                    color=color,
                    label=label,
                    **STEPS,
                )
            lo = [q[1] if q else math.nan for q in qs]
            hi = [q[3] if q else math.nan for q in qs]
            ax.fill_between(
                blocks, lo, hi, color="#85c1e9", alpha=0.35, step="post",
                label="5th pct to median",
            )  # fmt: skip
        ax.plot(
            blocks,
            [h if h is not None else math.nan for h in s["lowest_health"]],
            color=COLORS["liq"],
            lw=1.2,
            label="lowest",
            **STEPS,
        )
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_yscale("log")
        seen = [h for h in s["lowest_health"] if h is not None]
        ax.set_ylim(min([0.5] + [h * 0.8 for h in seen]), 5)
        ax.yaxis.set_major_locator(FixedLocator(HEALTH_TICKS))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel(f"{pool['name']} health\n[ratio, log scale]")
        ax.grid(alpha=0.3, which="both")
    axes[0].plot([], [], color="black", lw=0.8, label="1.0: liquidatable below")
    _trim(report, axes)
    axes[-1].set_xlabel("block of the scenario [block]")
    _legend(fig, axes, ncol=5)
    return _save(fig, path)


def reserve_bad_debt(report: Report, path: Path) -> Path:
    pools = _pools(report)
    fig, axes = _grid(len(pools), "Reserve and bad debt [bhUSD] per pool")
    for ax, pool in zip(axes, pools, strict=True):
        s = pool["series"]
        blocks = s["block"]
        _shade_refused(ax, s)
        ax.plot(blocks, s["reserve"], color="#27ae60", lw=1.6, label="reserve", **STEPS)
        ax.plot(blocks, s["bad_debt"], color=COLORS["liq"], lw=1.6, label="bad debt", **STEPS)
        ax.plot(
            blocks,
            s["latent_shortfall"],
            color="#8e44ad",
            lw=1.0,
            ls="--",
            label="shortfall of positions not yet liquidated",
            **STEPS,
        )
        ax.set_ylabel(f"{pool['name']}\n[bhUSD]")
        ax.grid(alpha=0.3)
    _trim(report, axes)
    axes[-1].set_xlabel("block of the scenario [block]")
    _legend(fig, axes, ncol=3)
    return _save(fig, path)


def keeper_profit(report: Report, path: Path) -> Path:
    pools = _pools(report)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    fig.suptitle("Keepers: cumulative bounties, gas and profit [USD]", fontsize=11)
    total_profit = None
    for pool in pools:
        s = pool["series"]
        blocks = s["block"]
        cum = _cumsum(s["keeper_profit"])
        ax.plot(blocks, cum, lw=1.4, label=f"{pool['name']} profit", **STEPS)
        ax.plot(
            blocks,
            [-g for g in _cumsum(s["keeper_gas_usd"])],
            lw=0.9,
            ls=":",
            label=f"{pool['name']} gas (-)",
        )
        total_profit = (
            cum if total_profit is None else [a + b for a, b in zip(total_profit, cum, strict=True)]
        )
    if total_profit is not None:
        ax.plot(
            pools[0]["series"]["block"],
            total_profit,
            color="black",
            lw=2,
            label="all pools",
            **STEPS,
        )
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("block of the scenario [block]")
    ax.set_ylabel("cumulative [USD]")
    ax.grid(alpha=0.3)
    _trim(report, [ax])
    _legend(fig, [ax], ncol=4)
    return _save(fig, path)


def _cumsum(values: list[float]) -> list[float]:
    out, total = [], 0.0
    for v in values:
        total += v
        out.append(total)
    return out


def haircut(report: Report, path: Path) -> Path:
    """With the steward on: each pool's haircut, the steward's target (its volatility
    estimate through the curve, before the ceiling) and the price per block, the regime's
    rising and crash phases shaded."""
    pools = _pools(report)
    steward = report["steward"]
    if steward is None:
        raise ValueError("the haircut plot needs a run with the steward on")
    phases = report["scenario"].get("phases") or {}
    fig, axes = _grid(len(pools), "Haircut set by the risk steward, its target, and the price")
    for ax, pool in zip(axes, pools, strict=True):
        s = pool["series"]
        for name in ("rise", "crash"):
            if name in phases:
                first, last = phases[name]
                ax.axvspan(first - 0.5, last + 0.5, color=COLORS[name], lw=0, label=name)
        est = steward["series"].get(pool["name"], {})
        target = [
            (b, t / 100)
            for b, t in zip(est.get("block", []), est.get("target", []))
            if t is not None
        ]
        if target:
            ax.plot([b for b, _ in target], [t for _, t in target], color=COLORS["vol"], lw=1.0,
                    ls="--", drawstyle="steps-post", label="target (from the volatility)")  # fmt: skip
        ax.plot(s["block"], [h / 100 for h in s["haircut"]], color=COLORS["haircut"], lw=1.8,
                drawstyle="steps-post", label="haircut")  # fmt: skip
        ax.set_ylabel(f"{pool['name']} haircut\n[%]")
        ax.grid(alpha=0.3)
        twin = ax.twinx()
        twin.plot(s["block"], s["price"], color=COLORS["price"], lw=1.0, label="price [USD]")
        twin.set_ylabel("price [USD]")
    axes[-1].set_xlabel("block of the scenario [block]")
    twins = [a for a in fig.axes if a not in axes]
    _legend(fig, [axes[0], twins[0]])
    return _save(fig, path)


def run_plots(report: Report, out: Path, prefix: str = "") -> list[Path]:
    written = [
        price_liquidations(report, out / f"{prefix}price_liquidations.png"),
        health(report, out / f"{prefix}health.png"),
        reserve_bad_debt(report, out / f"{prefix}reserve_bad_debt.png"),
        keeper_profit(report, out / f"{prefix}keeper_profit.png"),
    ]
    if report.get("steward"):
        written.append(haircut(report, out / f"{prefix}haircut.png"))
    return written


def frontier_line(sweep: SweepResult, path: Path) -> Path:
    """A one-parameter sweep: the frontier (or bad debt) against the parameter, a line."""
    axis = sweep["axes"][0]
    frontier = sweep["metric"] == "frontier"
    cells = sorted((c for c in sweep["cells"] if not c.get("error")), key=lambda c: c["x"])
    xs = [c["x"] for c in cells]
    ys = [c["frontier"] * 100 if frontier else c["bad_debt"] for c in cells]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ax.plot(xs, ys, marker="o", color=COLORS["price"], lw=1.6, label=sweep["metric"])
    for x, y, c in zip(xs, ys, cells, strict=True):
        if frontier and (c["below_grid"] or c["at_top"]):
            note = "below the grid" if c["below_grid"] else "at the grid's top"
            ax.annotate(note, (x, y), textcoords="offset points", xytext=(0, 8), fontsize=8)
    ax.set_xticks(xs, [axis["format"].format(v) for v in xs])
    ax.set_xlabel(axis["label"])
    ax.set_ylabel(
        "largest single-block drop\nwith zero bad debt [%]" if frontier else "bad debt [bhUSD]"
    )
    ax.grid(alpha=0.3)
    ax.set_title(textwrap.fill(sweep["title"], 90), fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def frontier_heatmap(sweep: SweepResult, path: Path) -> Path:
    """The frontier table as a heatmap over two parameters; a line for one parameter."""
    axes_ = sweep["axes"]
    if len(axes_) == 1:
        return frontier_line(sweep, path)
    xs = axes_[0]["values"]
    ys = axes_[1]["values"] if len(axes_) > 1 else [None]
    grid = [[math.nan] * len(xs) for _ in ys]
    labels = [[""] * len(xs) for _ in ys]
    frontier = sweep["metric"] == "frontier"
    for cell in sweep["cells"]:
        i = ys.index(cell["y"]) if len(axes_) > 1 else 0
        j = xs.index(cell["x"])
        if cell.get("error"):
            labels[i][j] = "invalid"
        elif frontier:
            grid[i][j] = cell["frontier"] * 100
            labels[i][j] = (
                f"<{sweep['drops'][0] * 100:g}%"
                if cell["below_grid"]
                else f"{cell['frontier'] * 100:g}%" + ("+" if cell["at_top"] else "")
            )
        else:
            grid[i][j] = cell["bad_debt"]
            labels[i][j] = f"{cell['bad_debt']:,.0f}"
    fig, ax = plt.subplots(figsize=(1.6 * len(xs) + 3, 1.2 * len(ys) + 2.2))
    if frontier:
        image = ax.imshow(
            grid, cmap="RdYlGn", vmin=0, vmax=sweep["max_drop"] * 100, aspect="auto", origin="lower"
        )
        bar_label = "largest single-block drop with zero bad debt [%]"
    else:
        image = ax.imshow(grid, cmap="Reds", vmin=0, aspect="auto", origin="lower")
        bar_label = "bad debt [bhUSD]"
    for i in range(len(ys)):
        for j in range(len(xs)):
            ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(xs)), [axes_[0]["format"].format(v) for v in xs])
    ax.set_xlabel(axes_[0]["label"])
    if len(axes_) > 1:
        ax.set_yticks(range(len(ys)), [axes_[1]["format"].format(v) for v in ys])
        ax.set_ylabel(axes_[1]["label"])
    else:
        ax.set_yticks([])
    fig.colorbar(image, ax=ax, label=textwrap.fill(bar_label, 30))
    ax.set_title(textwrap.fill(sweep["title"], 70), fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
