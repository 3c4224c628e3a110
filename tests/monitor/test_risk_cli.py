"""`bulkhead risk report` end to end on a real Anvil."""

from __future__ import annotations

import math

import pytest

from bulkhead.monitor.risk_model import SECONDS_PER_YEAR, first_passage_probability
from tests.cli.conftest import BORROWER

DAY = 86_400


@pytest.fixture(scope="module")
def book(cli):
    """One WETH position at its max LTV (1 WETH, 1,790 bhUSD at 3,000 USD), nothing else."""
    cli.ok("faucet", "--account", BORROWER)
    return cli.json(
        "position", "open", "--pool", "WETH", "--collateral", "1", "--debt", "1790",
        "--account", BORROWER,
    )["id"]  # fmt: skip


def test_risk_report__single_position__agrees_with_closed_form(cli, book):
    report = cli.json(
        "risk", "report", "--pool", "WETH", "--vol", "150%", "--horizon", "24h",
        "--paths", "40000", "--steps", "24",
    )  # fmt: skip
    (pool,) = report["pools"]
    (position,) = pool["positions"]
    assert position["id"] == book
    want = first_passage_probability(
        pool["price"], position["liquidation_price"], 1.5, DAY / SECONDS_PER_YEAR
    )
    assert 0.01 < want < 0.99  # a probability that the comparison can get wrong
    assert abs(position["p_liquidation"] - want) < 0.01
    assert pool["p_any_liquidation"] == position["p_liquidation"]
    assert pool["vol_source"] == "given" and pool["vol"] == 1.5
    assert pool["expected_positions_liquidated"] == pytest.approx(position["p_liquidation"])


def test_risk_report__table__pools_and_positions(cli, book):
    out = cli.ok("risk", "report", "--vol", "80%").out
    for word in ("P(any liq.)", "VaR 99%", "ES 99%", "WETH", "WBTC", "VOL", "80.0% (given)"):
        assert word in out
    assert "WETH: most likely to be liquidated" in out


def test_risk_report__vol_per_pool__applies_to_that_pool(cli, book):
    report = cli.json("risk", "report", "--vol", "50%", "--vol", "weth=120%", "--paths", "500")
    vols = {p["pool"]: p["vol"] for p in report["pools"]}
    assert vols == {"WETH": 1.2, "WBTC": 0.5, "VOL": 0.5}


def test_risk_report__too_few_feed_rounds__one_line_error(cli, book):
    assert "give it with --vol" in cli.error("risk", "report", "--pool", "WETH")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--horizon", "soon"], "is not a duration such as 24h"),
        (["--horizon", "0h"], "must be positive"),
        (["--vol=-5%"], "negative number"),
        (["--vol", "3000%"], "beyond any market"),
        (["--vol", "GOLD=80%"], "unknown pool 'GOLD'"),
        (["--vol", "80%", "--paths", "10"], "10 is not in the range 100<=x<=1000000"),
        (["--vol", "80%", "--dist", "t", "--df", "2"], "more than 2 degrees of freedom"),
    ],
)
def test_risk_report__bad_input__one_line_error(cli, book, args, message):
    assert message in cli.error("risk", "report", *args)


def test_risk_report__node_down__one_line_error(cli, book):
    error = cli.error(
        "risk", "report", "--vol", "80%", env={"BULKHEAD_RPC_URL": "http://127.0.0.1:9"}
    )
    assert error == "node not reachable at http://127.0.0.1:9"


def test_risk_report__feed_rounds__realised_volatility(cli, w3, client):
    """Four hourly rounds of the VOL feed: the volatility is their realised one. Last in the
    module: the hours it adds make the other feeds stale."""
    prices = [2.0, 2.04, 1.98, 2.0]
    for price in prices[1:]:
        w3.provider.make_request("evm_increaseTime", [3600])
        cli.ok("oracle", "set", "VOL", price)
    feed = client.pool("VOL").feed
    logs = w3.eth.get_logs(
        {"address": feed.address, "fromBlock": 0, "topics": [feed.events.AnswerUpdated().topic]}
    )
    first = w3.eth.get_block(logs[0]["blockNumber"])["timestamp"]
    now = w3.eth.get_block("latest")["timestamp"]
    squares = sum(math.log(b / a) ** 2 for a, b in zip(prices, prices[1:]))
    want = math.sqrt(squares / (now - first) * SECONDS_PER_YEAR)
    report = cli.json("risk", "report", "--pool", "VOL", "--paths", "500")
    (pool,) = report["pools"]
    assert pool["vol_source"] == "feed: 4 rounds"
    assert pool["vol"] == pytest.approx(want, rel=1e-9)
