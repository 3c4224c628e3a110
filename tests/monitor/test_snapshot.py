"""The dashboard's pure parts without a chain: histogram, ladder, nearest list, bounties,
the SVG and the page; and `status --watch` riding out a node that stops answering."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import click
import pytest
from click.testing import CliRunner

from bulkhead import risk
from bulkhead.chain import NodeError
from bulkhead.client import Position
from bulkhead.monitor import page, svg
from bulkhead.monitor.snapshot import (
    LADDER_DROPS,
    KeeperAction,
    Nearest,
    PoolView,
    Snapshot,
    bounty,
    histogram,
    ladder,
    nearest,
)
from bulkhead.monitor.watch import watch
from bulkhead.risk import MAX_UINT256, WAD

THRESHOLD = 7_000  # [bps]
PRICE = 3_000 * WAD


def _position(pid: int, coll: int, debt: int, price: int = PRICE) -> Position:
    return Position(
        pool="WETH", id=pid, owner=f"0x{pid:040x}", collateral=coll, debt=debt, decimals=18,
        price=price, health=risk.health(coll, debt, price, THRESHOLD, 1),
        liquidation_price=risk.liquidation_price(coll, debt, THRESHOLD, 1), max_borrow=0,
    )  # fmt: skip


BOOK = [
    _position(1, WAD, 1_000 * WAD),  # health 2.1
    _position(2, WAD, 1_750 * WAD),  # health 1.2, liquidation price 2,500
    _position(3, WAD, 2_200 * WAD),  # health 0.95: liquidatable now
    _position(4, WAD, 0),  # no debt
]


def test_histogram__healths__one_count_per_bin():
    bins = dict(histogram([p.health for p in BOOK if p.debt]))
    assert bins == {"<1": 1, "1-1.1": 0, "1.1-1.25": 1, "1.25-1.5": 0, "1.5-2": 0, "2-3": 1,
                    ">=3": 0}  # fmt: skip


def test_ladder__drops__debt_liquidatable_at_each():
    rungs = dict(ladder(BOOK, PRICE, THRESHOLD, 1))
    assert list(rungs) == list(LADDER_DROPS)
    assert rungs[0] == 2_200 * WAD  # only the one under water
    assert rungs[15] == 2_200 * WAD  # 2,550 is above 2,500
    assert rungs[20] == 2_200 * WAD + 1_750 * WAD  # 2,400 < 2,500
    assert rungs[55] == 4_950 * WAD  # 1,350 < 1,428.57: all three


def test_nearest__lowest_health_first_with_distance():
    rows = nearest(BOOK, PRICE)
    assert [r.id for r in rows] == [3, 2, 1]
    assert rows[1].distance == pytest.approx(1 - 2_500 / 3_000, abs=1e-9)
    assert rows[0].distance < 0  # under water: the price is below its liquidation price


@pytest.mark.parametrize(
    "name, args, want",
    [
        ("Liquidate", {"collateral_out": WAD, "paid": 2_800 * WAD}, 200.0),
        ("AutoDeleverage", {"collateral_out": WAD // 10, "repaid": 295 * WAD}, 5.0),
        ("Boost", {"borrowed": 305 * WAD, "collateral_in": WAD // 10}, 5.0),
        ("TopUp", {"fee": WAD // 1000}, 3.0),
        ("StopLoss", {}, None),
    ],
)
def test_bounty__each_keeper_event__what_the_keeper_earned(name, args, want):
    assert bounty(name, args, PRICE, 1) == want


def test_bounty__no_price__unknown():
    assert bounty("Liquidate", {"collateral_out": WAD, "paid": WAD}, None, 1) is None


def test_svg__charts__well_formed_xml():
    for chart in (
        svg.bars(["a", "b<c"], [1, 0], title="t & u"),
        svg.steps([(0, 1.0), (10, 3.0)], title="bounty"),
        svg.steps([]),
        svg.meter(0.95),
    ):
        assert ET.fromstring(chart).tag.endswith("svg")


def _view() -> PoolView:
    return PoolView(
        name="WETH", address="0x" + "11" * 20, price=PRICE, feed_answer=PRICE, price_age=3,
        oracle="ok", paused=False, total_debt=4_950 * WAD, debt_ceiling=10**6 * WAD,
        reserve=WAD, bad_debt=0, positions=4, with_debt=3, liquidatable=1,
        histogram=histogram([p.health for p in BOOK if p.debt]),
        nearest=[Nearest(3, "0x<script>", WAD // 2, MAX_UINT256, None)],
        ladder=ladder(BOOK, PRICE, THRESHOLD, 1),
        actions=[KeeperAction(9, 1_700_000_000, "Liquidate", 3, "0xkeeper", 12.5, "0xabc")],
        risk_error="pool WETH: no price",
    )  # fmt: skip


def test_page__body__escapes_text_and_names_the_parts():
    snap = Snapshot(
        block=9, timestamp=1_700_000_000, chain_id=31337, pools=[_view()], vault=None,
        keeper=None, keeper_note="keeper not running", horizon=86_400,
    )  # fmt: skip
    html = page.body(snap)
    assert "<script>" not in html and "0x&lt;script&gt;" in html  # escaped
    for testid in ("pool-WETH", "ladder-20", "near-3", "risk-error", "activity", "keeper"):
        assert f'data-testid="{testid}"' in html
    assert "1 liquidation; bounties 12.50 USD" in html
    document = page.document(html)
    # nothing fetched from elsewhere: no script or style source, no link, no import
    for fetch in ("src=", "<link", "@import", "url("):
        assert fetch not in document


def test_watch__node_stops_answering__shown_and_retried():
    calls = []

    def render() -> str:
        calls.append(1)
        if len(calls) == 2:
            raise NodeError("node not reachable")
        return f"table {len(calls)}"

    @click.command()
    def cmd() -> None:
        watch(render, as_json=False, interval=0.01, refreshes=3)

    out = CliRunner().invoke(cmd).output
    assert len(calls) == 3
    assert "table 3" in out and "(#3)" in out
