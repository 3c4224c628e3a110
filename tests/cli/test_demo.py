"""`bulkhead demo` end to end, and the ape script `ape run deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bulkhead import demo
from bulkhead.artifacts import ROOT
from bulkhead.chain import NodeError, connect
from bulkhead.deploy import Deployment
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
