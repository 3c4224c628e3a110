"""`bulkhead dashboard` in a real headless Chromium (Debian's, driven by Playwright through
`executable_path`: nothing is downloaded) against a real Anvil with positions and a running
keeper. The page is read as a user reads it; a price moved with the CLI must show up without
a reload. The test saves a screenshot in its tmp dir, so that a test run leaves the tree
clean; `BULKHEAD_SCREENSHOT=docs/img/dashboard.png` refreshes the one the README shows."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from bulkhead import risk
from bulkhead.artifacts import ROOT
from bulkhead.risk import WAD
from tests.cli.conftest import BORROWER, KEEPER, PATIENCE, free_port, wait_for_port

INSTALL_CHROMIUM = "apt-get install -y chromium"
KEEPER_ACCOUNT = 7  # the keeper's own dev account (`bulkhead keeper run`'s default)
WETH_DEBTS = (1000, 1500, 1650, 1750)  # [bhUSD] on 1 WETH each at 3,000 USD
TIMEOUT_MS = PATIENCE * 1000


def chromium() -> str:
    """Debian's chromium; fails (never skips) with the line that installs it."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(f"chromium is missing: {INSTALL_CHROMIUM}", pytrace=False)
    return path


def _start(args: list[str], cli, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BULKHEAD_RPC_URL": cli.rpc_url,
        "BULKHEAD_MANIFEST": str(cli.manifest),
    }
    env.pop("BULKHEAD_PRIVATE_KEY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bulkhead", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _serving(proc: subprocess.Popen, port: int, log: Path) -> None:
    """Until something answers on `port`; the process's output if it exits first."""
    try:
        wait_for_port(port)
    except TimeoutError:
        raise AssertionError(f"exited {proc.poll()}: {log.read_text()}") from None


@pytest.fixture(scope="module")
def book(cli, client):
    """Four WETH positions at rising leverage (ids 1-4), one in WBTC; position 3 protected
    (deleverage below health 1.2 back to 1.35); the keeper funded (`faucet --bhusd` borrows
    it in WETH position 5, at half the max LTV)."""
    cli.ok("faucet", "--account", BORROWER)
    for debt in WETH_DEBTS:
        cli.ok(
            "position", "open", "--pool", "WETH", "--collateral", "1", "--debt", debt,
            "--account", BORROWER,
        )  # fmt: skip
    cli.ok(
        "position", "open", "--pool", "WBTC", "--collateral", "0.1", "--debt", "3000",
        "--account", BORROWER,
    )  # fmt: skip
    cli.ok(
        "position", "protect", "--pool", "WETH", "--id", "3", "deleverage", "--trigger", "1.2",
        "--target", "1.35", "--account", BORROWER,
    )  # fmt: skip
    keeper = client.w3.eth.accounts[KEEPER_ACCOUNT]
    cli.ok("faucet", "--bhusd", "5000", "--to", keeper, "--account", KEEPER)


@pytest.fixture(scope="module")
def keeper_metrics(cli, book, tmp_path_factory):
    """`bulkhead keeper run --metrics-port`: its Prometheus page's URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("keeper") / "keeper.log"
    proc = _start(
        ["keeper", "run", "--metrics-port", str(port), "--poll-interval", "0.5"], cli, log
    )
    try:
        _serving(proc, port, log)
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def dashboard(cli, book, keeper_metrics, tmp_path_factory):
    """`bulkhead dashboard --port 0 --json` as a script starts it: the URL it announces."""
    log = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    args = ["dashboard", "--port", "0", "--json", "--vol", "80%", "--paths", "2000"]
    proc = _start([*args, "--keeper-metrics", keeper_metrics, "--poll-interval", "0.3"], cli, log)
    try:
        deadline = time.monotonic() + PATIENCE
        while not (lines := log.read_text().splitlines()):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        where = json.loads(lines[0])
        assert where["snapshot"] == where["url"] + "snapshot.json"
        yield where["url"]
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def page(dashboard):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[test]'", pytrace=False)

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=chromium(), headless=True, args=["--no-sandbox"]
        )
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(TIMEOUT_MS)
            tab.goto(dashboard)
            yield tab
        finally:
            browser.close()


def _text(page, selector: str) -> str:
    return page.locator(selector).first.inner_text().strip()


def _usd(text: str) -> Decimal:
    return Decimal(text.replace(",", "").split()[0])


def _ladder(page, pool: str) -> dict[int, Decimal]:
    rows = page.locator(f'[data-testid="pool-{pool}"] [data-testid="ladder"] tr[data-testid]')
    out = {}
    for i in range(rows.count()):
        # the table sits folded under the chart: its text, not its rendering
        drop, debt = rows.nth(i).locator("td").all_text_contents()
        out[int(drop.strip("-%"))] = _usd(debt)
    return out


def _probabilities(page, pool: str) -> dict[int, str]:
    rows = page.locator(f'[data-testid="pool-{pool}"] [data-testid="p-liq"] tr[data-testid]')
    return {
        int(cells[0]): cells[1]
        for cells in (rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count()))
    }


def _expected_ladder(client, price: int) -> dict[int, Decimal]:
    """From the chain with the pool's own test, independently of the page's code."""
    pool = client.pool("WETH")
    threshold = client.params(pool).liquidation_threshold
    c = pool.contract.functions
    ids = range(1, c.position_count().call() + 1)
    debts = [(c.collateral_of(i).call(), c.debt_of(i).call()) for i in ids]
    out = {}
    for drop in range(0, 61, 5):
        at = price * (100 - drop) // 100
        total = sum(d for coll, d in debts if risk.is_liquidatable(coll, d, at, threshold, 1))
        out[drop] = (Decimal(total) / WAD).quantize(Decimal("0.01"))
    return out


def _pct(p: float) -> str:
    return "0%" if p == 0 else ("<0.01%" if p < 0.0001 else f"{p:.2%}")


def test_dashboard__page__shows_pools_ladder_and_probabilities(page, cli, client):
    pools = page.locator("[data-testid^=pool-]")
    names = [pools.nth(i).get_attribute("data-testid") for i in range(pools.count())]
    assert names == ["pool-WETH", "pool-WBTC", "pool-VOL"]
    weth = '[data-testid="pool-WETH"]'
    assert _text(page, f"{weth} [data-testid=price]") == "3,000.00"
    assert _text(page, f"{weth} [data-testid=oracle]") == "ok"
    assert _text(page, f"{weth} [data-testid=positions]").startswith("5 (5 with debt")
    nearest = page.locator(f"{weth} [data-testid=nearest] tr[data-testid]")
    shown = [nearest.nth(i).get_attribute("data-testid") for i in range(nearest.count())]
    assert shown[:2] == ["near-4", "near-3"]  # lowest health first
    assert _ladder(page, "WETH") == _expected_ladder(client, 3000 * WAD)
    # the risk panel shows what `bulkhead risk report` computes for the same book and seed
    report = cli.json(
        "risk", "report", "--pool", "WETH", "--vol", "80%", "--paths", "2000", "--top", "5"
    )["pools"][0]
    assert _text(page, f"{weth} [data-testid=p-any]") == _pct(report["p_any_liquidation"])
    want = {p["id"]: _pct(p["p_liquidation"]) for p in report["positions"]}
    assert _probabilities(page, "WETH") == want
    assert "keeper not running" not in _text(page, "[data-testid=keeper]")
    assert _text(page, "[data-testid=share-price]") == "1.000000"
    assert _text(page, "[data-testid=stream]").startswith("nothing streaming")


def test_dashboard__price_moved_with_the_cli__page_changes_without_a_reload(
    page, cli, client, tmp_path
):
    page.evaluate("window.bulkheadMarker = 'same page'")
    updates = page.evaluate("window.bulkheadUpdates")
    weth = '[data-testid="pool-WETH"]'
    assert _text(page, f"{weth} [data-testid=p-any]") != "100.00%"
    # position 4 (liquidation price 2,500) goes under; position 3 (2,357) falls to health 1.04,
    # below its protection's trigger
    cli.ok("oracle", "set", "WETH", "2450")
    page.wait_for_function(
        "document.querySelector('[data-testid=\"pool-WETH\"] [data-testid=price]')"
        ".innerText.trim() === '2,450.00'"
    )
    assert page.evaluate("window.bulkheadMarker") == "same page"
    assert page.evaluate("window.bulkheadUpdates") > updates
    # the keeper liquidates position 4 and deleverages position 3: the page shows both
    page.wait_for_function(
        "(t => t.includes('1 liquidation') && t.includes('1 deleverage'))(document.querySelector("
        "'[data-testid=\"pool-WETH\"] [data-testid=activity]').innerText)"
    )
    pool = client.pool("WETH").contract.functions
    assert pool.debt_of(4).call() < 1750 * WAD
    assert pool.health(3).call() > 12 * WAD // 10
    assert page.evaluate("window.bulkheadMarker") == "same page"
    ladder = _ladder(page, "WETH")
    assert ladder == _expected_ladder(client, 2450 * WAD)
    assert ladder[10] > 0
    keeper = _text(page, "[data-testid=keeper]")
    assert "actions" in keeper and "keeper not running" not in keeper
    shot = Path(os.environ.get("BULKHEAD_SCREENSHOT") or tmp_path / "dashboard.png")
    shot = shot if shot.is_absolute() else ROOT / shot
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert time.time() - shot.stat().st_mtime < PATIENCE
