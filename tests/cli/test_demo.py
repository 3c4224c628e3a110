"""`bulkhead demo` end to end, and the ape script `ape run deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from web3 import Web3

from bulkhead import artifacts, demo
from bulkhead.artifacts import ROOT
from bulkhead.chain import NodeError, connect
from bulkhead.deploy import Deployment
from bulkhead.risk import BPS, WAD
from tests.cli.conftest import Cli, free_port

D = Decimal


@pytest.fixture(scope="module")
def summary(anvil, tmp_path_factory):
    manifest = tmp_path_factory.mktemp("demo") / "deployment.json"
    cli = Cli(anvil.rpc_url, manifest)
    data = cli.json("demo", "--rpc-url", anvil.rpc_url, "--manifest", manifest)
    return cli, data


def test_demo__given_node__summary_per_pool(summary):
    _cli, data = summary
    assert data["ok"] is True
    assert data["positions"] >= 50 and data["borrowers"] >= 3
    assert [p["name"] for p in data["pools"]] == ["WETH", "WBTC", "VOL"]
    for pool in data["pools"]:
        # 20 borrowers' positions per pool; the keeper's own funding position is in WETH
        assert pool["positions"] == (21 if pool["name"] == "WETH" else 20)
        assert D(pool["debt"]) > 0
        assert D(pool["price"]) < D(pool["price_before"])
        assert pool["oracle"] == "ok"
        assert D(pool["reserve"]) > 0  # fees accrued into the reserve
        # the default crash leaves no bad debt, and the keeper leaves nothing liquidatable
        assert D(pool["bad_debt"]) == 0
        assert pool["liquidatable"] == 0
        assert D(pool["lowest_health"]) >= 1
    keeper = data["keeper"]
    assert keeper["liquidations"] > 0
    assert keeper["deleverages"] + keeper["top_ups"] + keeper["boosts"] > 0
    assert keeper["left_liquidatable"] == {}
    assert D(data["vault"]["share_price"]) > D(data["vault"]["share_price_before"])
    assert [s["name"] for s in data["steps"]] == [name for name, _ in demo.STEPS]
    assert data["accounting"]["ok"] and abs(data["accounting"]["gap_wei"]) <= 1_000


def test_demo__stop_loss__keeper_got_at_most_debt_plus_fee_owner_the_rest(summary, w3):
    """Read back from the chain: the borrower's stop-loss was carried out once, after the
    price reached it; the keeper's collateral is worth at most debt x (1 + fee) at the price
    it ran at, and the rest of the position's collateral went to the owner."""
    cli, data = summary
    s = data["stop_loss"]
    assert data["keeper"]["stop_losses"] == 1
    deployment = Deployment.load(cli.manifest)
    pool = next(p for p in deployment.pools if p.name == s["pool"])
    automation = w3.eth.contract(
        address=Web3.to_checksum_address(deployment.automation),
        abi=artifacts.abi("PositionAutomation"),
    )
    [event] = automation.events.StopLoss().get_logs(from_block=deployment.deploy_block)
    a = event["args"]
    address = Web3.to_checksum_address(pool.address)
    assert (a["pool"], a["id"], a["keeper"]) == (address, s["id"], w3.eth.accounts[7])
    assert a["price"] <= D(s["stop_price"]) * WAD
    unit = 10**pool.collateral_decimals
    scale = 10 ** (18 - pool.collateral_decimals)
    assert a["keeper_collateral"] * scale * a["price"] <= (
        a["debt_repaid"] * (BPS + s["max_fee_bps"]) // BPS * WAD
    )
    assert a["keeper_collateral"] + a["owner_collateral"] == D(s["collateral"]) * unit
    assert a["owner_collateral"] > 0 and a["debt_repaid"] >= D(s["debt"]) * WAD
    pool_contract = w3.eth.contract(address=address, abi=artifacts.abi("MarginPool"))
    assert pool_contract.functions.debt_of(s["id"]).call() == 0


def test_demo__grace_window__no_liquidation_of_the_paused_pool_before_it_ended(summary, w3):
    cli, data = summary
    g = data["grace"]
    deployment = Deployment.load(cli.manifest)
    pool = next(p for p in deployment.pools if p.name == g["pool"])
    contract = w3.eth.contract(
        address=Web3.to_checksum_address(pool.address), abi=artifacts.abi("MarginPool")
    )
    _cap, _haircut, period, grace_end = contract.functions.controls().call()
    assert (period, grace_end) == (1800, g["grace_end"])
    assert g["grace_end"] - g["unpaused_at"] == 1800
    assert g["held"] > 0  # the crash made positions liquidatable while paused
    events = contract.events.Liquidate().get_logs(from_block=g["paused_block"])
    times = [w3.eth.get_block(e["blockNumber"])["timestamp"] for e in events]
    assert len(times) == g["liquidated_after"] >= g["held"]
    assert min(times) >= grace_end  # none in the pause or the window, all after it


def test_demo__given_node__varied_leverage(summary):
    cli, _data = summary
    status = cli.json("status", "--lowest", "20")
    for pool in status["pools"]:
        healths = sorted(D(p["health"]) for p in pool["lowest_health"])
        # after the crash and the keeper's work: from just above 1.0 to careful
        assert healths[0] >= 1 and healths[-1] / healths[0] > 1.5


def test_demo__given_node__every_borrower_holds_positions_in_every_pool(summary, dev):
    cli, data = summary
    assert data["borrowers"] == 6
    for borrower in dev[1:7]:
        listed = cli.json("position", "list", "--owner", borrower)["positions"]
        assert len(listed) == 10
        assert {p["pool"] for p in listed} == {"WETH", "WBTC", "VOL"}


def test_demo__given_node__manifest_serves_the_other_commands(summary):
    cli, data = summary
    assert Deployment.load(cli.manifest).chain_id == data["chain_id"]
    status = cli.json("status")
    assert [p["positions"] for p in status["pools"]] == [21, 20, 20]
    liquidatable = {p["name"]: p["liquidatable"] for p in status["pools"]}
    assert liquidatable == {p["name"]: p["liquidatable"] for p in data["pools"]}


def test_demo__failing_step__exits_non_zero_and_names_it(anvil, tmp_path, monkeypatch):
    def broken(ctx):
        raise demo.DemoError("the keeper fell overboard")

    monkeypatch.setattr(demo, "STEPS", [demo.STEPS[0], ("keeper", broken)])
    run = Cli(anvil.rpc_url, tmp_path / "m.json")("demo", "--rpc-url", anvil.rpc_url)
    assert run.code == 1
    assert "step 'keeper' failed: the keeper fell overboard" in run.out
    assert "demo FAILED" in run.out


def test_demo__node_not_reachable__one_line_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    assert Cli(url, tmp_path / "m.json").error("demo", "--rpc-url", url) == (
        f"node not reachable at {url}"
    )


def test_demo__python_module__runs_embedded_node_to_the_end_and_stops_it():
    """`python -m bulkhead demo` (what `make demo` runs) in a process of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKHEAD_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bulkhead", "demo"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "61 positions (60 of 6 borrowers) on chain id 31337" in text
    assert "accounting: bhUSD supply" in text and ": holds (gap" in text
    assert "left liquidatable: 0" in text
    assert "savings vault: share price 1.000000 ->" in text and "(rose)" in text
    assert "stop-loss: WETH #21 (stop 2,300.00 USD) closed at 2,234.50 USD" in text
    assert "grace window: VOL paused through the crash" in text and "none before" in text
    assert "demo finished in" in text
    # the moderate drop, then three crash steps of 8 %
    for pool, move in (("WETH", "-31.5%"), ("WBTC", "-29.9%"), ("VOL", "-39.3%")):
        row = next(line for line in text.splitlines() if line.startswith(pool))
        assert move in row
    url = next(line for line in proc.stderr.splitlines() if "embedded Anvil on" in line).split()[-1]
    with pytest.raises(NodeError):
        connect(url)


def test_ape_script__deploy_on_foundry__writes_the_manifest(tmp_path):
    manifest = tmp_path / "deployment.json"
    ape = Path(sys.executable).parent / "ape"
    proc = subprocess.run(
        [ape, "run", "deploy", "--network", "ethereum:local:foundry", "--manifest", manifest],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    deployment = Deployment.load(manifest)
    assert deployment.chain_id == 31337
    assert [p.name for p in deployment.pools] == ["WETH", "WBTC", "VOL"]
    assert f"manifest written to {manifest}" in proc.stdout
