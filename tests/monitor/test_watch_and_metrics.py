"""`bulkhead status --watch`, the keeper's Prometheus page, and `bulkhead dashboard`'s
one-line errors."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from io import StringIO

import pytest

from bulkhead.keeper import prometheus
from bulkhead.keeper.metrics import Metrics
from bulkhead.keeper.runner import run as run_keeper
from bulkhead.risk import WAD
from tests.cli.conftest import BORROWER, PATIENCE

SAMPLE = re.compile(r'^[a-z_]+(\{([a-z]+="[^"]*",?)*\})? -?[0-9.]+(e[-+][0-9]+)?$')


@pytest.fixture(scope="module")
def book(cli):
    cli.ok("faucet", "--account", BORROWER)
    cli.ok(
        "position", "open", "--pool", "WETH", "--collateral", "1", "--debt", "1500",
        "--account", BORROWER,
    )  # fmt: skip


def test_status_watch__refreshes__the_table_each_time(cli, book):
    out = cli.ok("status", "--watch", "--refreshes", "2", "--interval", "0.2").out
    assert "(#2), every 0.2 s; Ctrl-C to stop" in out
    assert "liquidatable" in out and "WETH: lowest health" in out


def test_status_watch__terminal__redraws_in_place(cli, book):
    run = cli.ok(
        "status", "--watch", "--refreshes", "2", "--interval", "0.2", env={"FORCE_COLOR": "1"}
    )
    assert "\x1b[1A" in run.out  # cursor up: the second table overwrites the first


def test_status_watch_json__one_object_a_line(cli, book):
    lines = cli.ok("status", "--watch", "--json", "--refreshes", "2", "--interval", "0.2").out
    objects = [json.loads(line) for line in lines.strip().splitlines()]
    assert len(objects) == 2
    assert [p["name"] for p in objects[0]["pools"]] == ["WETH", "WBTC", "VOL"]


def test_status_watch__node_down__one_line_error(cli):
    error = cli.error("status", "--watch", env={"BULKHEAD_RPC_URL": "http://127.0.0.1:9"})
    assert error == "node not reachable at http://127.0.0.1:9"


def test_prometheus_render__counters__valid_text_format():
    metrics = Metrics(cycles=3, txs_sent=2)
    metrics.pool_done[("WETH", "liquidate")] = 2
    metrics.pool_bounty["WETH"] = 31 * WAD
    metrics.failures["reverted"] = 1
    text = prometheus.render(metrics)
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line
    samples = prometheus.parse(text)
    assert samples['bulkhead_keeper_actions_total{kind="liquidate",pool="WETH"}'] == 2
    assert samples['bulkhead_keeper_bounty_usd_total{pool="WETH"}'] == 31
    assert samples["bulkhead_keeper_cycles_total"] == 3
    assert samples['bulkhead_keeper_failures_total{reason="reverted"}'] == 1


def test_keeper_run__metrics_port__serves_the_counters_while_it_runs(cli, book):
    log, stop = StringIO(), threading.Event()
    result: dict = {}

    def keeper() -> None:
        result["summary"] = run_keeper(
            cli.rpc_url, cli.manifest, account=7, metrics_port=0, stop=stop,
            poll_interval=0.2, log_stream=log, connect_timeout=PATIENCE,
        )  # fmt: skip

    thread = threading.Thread(target=keeper)
    thread.start()
    try:
        url = None
        while url is None and thread.is_alive():
            found = re.search(r'"url": "(http://127.0.0.1:\d+/metrics)"', log.getvalue())
            url = found and found.group(1)
            stop.wait(0.05)
        assert url, log.getvalue()
        _until(lambda: "bulkhead_keeper_cycles_total 0\n" not in _get(url))  # a pass counted
        samples = prometheus.parse(_get(url))
        assert samples["bulkhead_keeper_up"] == 1 and samples["bulkhead_keeper_cycles_total"] >= 1
    finally:
        stop.set()
        thread.join(PATIENCE)
    with pytest.raises(OSError):
        _get(url)  # closed with the keeper


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=PATIENCE) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return answer.read().decode()


def test_keeper_run__metrics_port_taken__one_line_error(cli, book):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        error = cli.error("keeper", "run", "--once", "--metrics-port", port)
    assert error.startswith(f"cannot serve metrics on 127.0.0.1:{port}")


def test_dashboard__port_taken__one_line_error(cli, book):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        error = cli.error("dashboard", "--port", port, "--vol", "80%", "--paths", "100")
    assert error.startswith(f"cannot serve the dashboard on 127.0.0.1:{port}")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--horizon", "0h"], "must be positive"),
        (["--vol=-1"], "negative number"),
        (["--paths", "5"], "5 is not in the range 100<=x<=100000"),
        (["--vol", "GOLD=50%"], "unknown pool 'GOLD'"),
    ],
)
def test_dashboard__bad_input__one_line_error(cli, book, args, message):
    assert message in cli.error("dashboard", *args)


def test_dashboard__node_down__one_line_error(cli):
    error = cli.error("dashboard", env={"BULKHEAD_RPC_URL": "http://127.0.0.1:9"})
    assert error == "node not reachable at http://127.0.0.1:9"


def test_dashboard__node_lost_and_back__page_says_so_then_recovers(client, book):
    from bulkhead.monitor.server import Dashboard
    from bulkhead.monitor.snapshot import RiskSettings

    board = Dashboard(client, RiskSettings(paths=100, steps=4), poll_interval=0.05)
    port = board.start(port=0)
    endpoint = client.w3.provider.endpoint_uri
    try:
        assert _health(port) == (200, "ok")
        client.w3.provider.endpoint_uri = "http://127.0.0.1:9"  # the node goes away
        _until(lambda: _health(port)[0] != 200)
        code, text = _health(port)
        assert code == 503 and text.startswith("node not answering")
        assert "node not answering" in board.body and 'data-testid="pool-WETH"' in board.body
        client.w3.provider.endpoint_uri = endpoint  # and comes back
        _until(lambda: _health(port)[0] == 200)
        assert "node not answering" not in board.body
    finally:
        client.w3.provider.endpoint_uri = endpoint
        board.close()


def _health(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=PATIENCE) as a:
            return a.status, a.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _until(condition) -> None:
    """Wait for `condition`; PATIENCE is a ceiling against a hang, not an expectation."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.05)


def test_pool_view__feed_reverts__no_price_panels_say_so(client, dev, book):
    from bulkhead.monitor.snapshot import RiskSettings, pool_view

    weth = client.pool("WETH")
    now = client.w3.eth.get_block("latest")["timestamp"]
    weth.feed.functions.set_reverting(True).transact({"from": dev[0]})
    try:
        view = pool_view(client, weth, RiskSettings(paths=100, steps=4), now)
    finally:
        weth.feed.functions.set_reverting(False).transact({"from": dev[0]})
    assert view.price is None and view.feed_answer is None
    assert view.oracle == "feed call failed"
    assert (view.ladder, view.nearest, view.risk) == ([], [], None)
    assert view.risk_error == "no price to start from (oracle: feed call failed)"
    assert view.with_debt == 1 and view.total_debt > 0
