"""The simulator's plots as a risk analyst reads them: every line and band labelled, no two
percentiles drawn alike, legends off the data, units on the axes, prices in USD beside %,
the flat tail trimmed, and a one-parameter sweep drawn as a line."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.image import AxesImage

from bulkhead.simulate import plots

BLOCKS = 40  # the drop in block 3, liquidations in block 4, then nothing moves


def _series(start: float) -> dict:
    n = BLOCKS + 1
    price = [start] * 3 + [start * 0.6] * (n - 3)
    return {
        "block": list(range(n)),
        "price": price,
        "oracle": ["ok"] * n,
        "liquidations": [0] * 4 + [7] + [0] * (n - 5),
        "protections": [0] * 4 + [2] + [0] * (n - 5),
        "lowest_health": [1.3] * 3 + [0.8] + [1.1] * (n - 4),
        "health_quantiles": [[1.3, 1.4, 1.6, 1.9, 2.3]] * n,
        "reserve": [1000.0] * n,
        "bad_debt": [0.0] * n,
        "latent_shortfall": [0.0] * n,
        "keeper_profit": [0.0] * 4 + [50.0] + [0.0] * (n - 5),
        "keeper_gas_usd": [0.0] * 4 + [1.0] + [0.0] * (n - 5),
    }


REPORT = {
    "pools": [{"name": "WETH", "series": _series(3000.0)}, {"name": "VOL", "series": _series(2.0)}]
}


@pytest.fixture
def figures(monkeypatch) -> list:
    """The figures the plot functions build, kept instead of saved."""
    kept: list = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: kept.append(fig) or path)
    return kept


def _data_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def test_run_plots__legends_above_the_data_and_units_on_every_axis(figures):
    plots.run_plots(REPORT, Path("/nonexistent"))
    assert len(figures) == 4
    for fig in figures:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        top = max(ax.get_window_extent(renderer).y1 for ax in fig.axes)
        assert not any(ax.get_legend() for ax in fig.axes)  # no legend inside a plot
        (legend,) = fig.legends
        assert legend.get_window_extent(renderer).y0 >= top  # above every plot
        for ax in _data_axes(fig):
            label = ax.get_ylabel()
            assert "[" in label and "]" in label, label  # a unit
        assert any("[block]" in ax.get_xlabel() for ax in fig.axes)


def test_health__percentiles_distinct_and_every_line_and_band_labelled(figures):
    plots.health(REPORT, Path("/nonexistent"))
    (fig,) = figures
    ax = fig.axes[0]
    labelled = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    styles = [(str(line.get_linestyle()), line.get_color()) for line in labelled]
    assert len(set(styles)) == len(styles)  # no two drawn alike
    names = [line.get_label() for line in labelled]
    assert {"1st pct", "5th pct", "25th pct", "median", "75th pct", "lowest"} <= set(names)
    bands = [c.get_label() for c in ax.collections if not c.get_label().startswith("_")]
    assert bands == ["5th pct to median"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert set(names) | set(bands) <= set(legend)


def test_price__usd_beside_percent_and_the_flat_tail_trimmed(figures):
    assert plots.last_activity(REPORT) == 4
    plots.price_liquidations(REPORT, Path("/nonexistent"))
    (fig,) = figures
    weth, vol = fig.axes[0], fig.axes[1]
    formatter = weth.yaxis.get_major_formatter()
    assert formatter(60, 0) == "60% (1,800 USD)"
    assert vol.yaxis.get_major_formatter()(60, 0) == "60% (1.2 USD)"
    low, high = weth.get_xlim()
    assert high <= 4 + 4 + 0.5 < BLOCKS  # a few blocks after the last activity, not 40


def _sweep(axes: int) -> dict:
    xs = [0.45, 0.5, 0.55]
    ys = [0.03, 0.08] if axes == 2 else [None]
    return {
        "metric": "frontier",
        "title": "WETH: largest single-block drop with zero bad debt (100 positions, seed 7)",
        "axes": [
            {"label": "max LTV", "format": "{:.0%}", "values": xs},
            *(
                [{"label": "liquidation bonus", "format": "{:.0%}", "values": ys}]
                if axes == 2
                else []
            ),
        ],
        "drops": [0.05, 0.1],
        "max_drop": 0.95,
        "cells": [
            {"x": x, "y": y, "frontier": 0.6 - x / 3, "below_grid": False, "at_top": False}
            for x in xs
            for y in ys
        ],
    }


def test_sweep__one_parameter__a_line_chart_two__a_heatmap(figures):
    plots.frontier_heatmap(_sweep(1), Path("/nonexistent"))
    plots.frontier_heatmap(_sweep(2), Path("/nonexistent"))
    line, heat = figures
    assert not any(isinstance(a, AxesImage) for a in line.axes[0].get_children())
    (drawn,) = [ln for ln in line.axes[0].get_lines() if len(ln.get_xdata()) == 3]
    assert list(drawn.get_ydata()) == pytest.approx(
        [(0.6 - x / 3) * 100 for x in (0.45, 0.5, 0.55)]
    )
    assert "[%]" in line.axes[0].get_ylabel()
    assert any(isinstance(a, AxesImage) for a in heat.axes[0].get_children())
    assert len(heat.axes) == 2  # the heatmap and its colour bar


def test_haircut__steward_on__fifth_figure_with_haircut_target_and_phases_labelled(figures):
    series = [{**p["series"], "haircut": [0] * 20 + [500] * (BLOCKS - 19)} for p in REPORT["pools"]]
    report = {
        "pools": [{**p, "series": s} for p, s in zip(REPORT["pools"], series, strict=True)],
        "scenario": {"phases": {"calm": [2, 9], "rise": [10, 25], "crash": [26, 28]}},
        "steward": {
            "series": {
                p["name"]: {"block": list(range(1, 41)), "target": [0] * 19 + [900] * 21}
                for p in REPORT["pools"]
            }
        },
    }
    plots.run_plots(report, Path("/nonexistent"))
    assert len(figures) == 5
    fig = figures[-1]
    labels = {t.get_text() for legend in fig.legends for t in legend.get_texts()}
    assert {"rise", "crash", "target (from the volatility)", "haircut", "price [USD]"} <= labels
    axes = [ax for ax in fig.axes if ax.get_ylabel().endswith("[%]")]
    assert [ax.get_ylabel() for ax in axes] == ["WETH haircut\n[%]", "VOL haircut\n[%]"]
