"""`bulkhead node` as a user runs it (a separate process, stopped with Ctrl-C), its state
across restarts, and a Hardhat node from the repo's own npm packages."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from bulkhead.artifacts import ROOT
from bulkhead.client import connect
from tests.cli.conftest import BORROWER, PATIENCE, Cli, free_port, wait_for_port


def _start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "bulkhead", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait(proc: subprocess.Popen, port: int) -> None:
    """Until the node answers; its stderr in the failure if it exits first."""
    deadline = time.monotonic() + PATIENCE
    while not _port_answers(port):
        if proc.poll() is not None:
            raise AssertionError(f"bulkhead node exited {proc.returncode}: {proc.stderr.read()}")
        assert time.monotonic() < deadline, "bulkhead node did not answer"
        time.sleep(0.1)


def _interrupt(proc: subprocess.Popen) -> tuple[int, str]:
    """Ctrl-C, as a terminal sends it; returns the exit code and stderr."""
    proc.send_signal(signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=PATIENCE)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, err


def _port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_node__state_file__positions_survive_a_restart(tmp_path):
    port, state = free_port(), tmp_path / "chain.json"
    cli = Cli(f"http://127.0.0.1:{port}", tmp_path / "deployment.json")

    node = _start("node", "--port", str(port), "--state", str(state), "--quiet")
    try:
        _wait(node, port)
        cli.ok("deploy")
        cli.ok("faucet", "--account", BORROWER)
        ids = [
            cli.json(
                "position",
                "open",
                "--pool",
                pool,
                "--collateral",
                amount,
                "--debt",
                "500",
                "--account",
                BORROWER,
            )["id"]  # fmt: skip
            for pool, amount in (("WETH", "1"), ("VOL", "1000"))
        ]
        before = cli.json("status")
    finally:
        code, err = _interrupt(node)
    assert code == 0, err
    assert f"saving state to {state}" in err
    assert state.stat().st_size > 0
    assert not _port_answers(port)

    node = _start("node", "--port", str(port), "--state", str(state), "--quiet")
    try:
        _wait(node, port)
        for pool, position_id in zip(("WETH", "VOL"), ids, strict=True):
            shown = cli.json("position", "show", "--pool", pool, "--id", position_id)
            assert shown["id"] == position_id and Decimal(shown["debt"]) >= 500
        after = cli.json("status")
        assert [p["positions"] for p in after["pools"]] == [p["positions"] for p in before["pools"]]
        assert after["block"] >= before["block"]
    finally:
        code, err = _interrupt(node)
    assert code == 0, err


def test_node__port_in_use__one_line_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = Cli("http://unused", tmp_path / "m.json").error("node", "--port", port)
    assert message == f"port {port} is already in use (is a node running? pick --port)"


def test_node__state_in_a_missing_folder__one_line_error(tmp_path):
    state = tmp_path / "no" / "such" / "state.json"
    message = Cli("http://unused", tmp_path / "m.json").error(
        "node", "--port", free_port(), "--state", state
    )
    assert message == f"cannot keep state in {state}: its folder does not exist"


def test_node__block_time__mines_without_transactions(tmp_path):
    port = free_port()
    node = _start("node", "--port", str(port), "--block-time", "0.5", "--quiet")
    try:
        _wait(node, port)
        w3 = connect(f"http://127.0.0.1:{port}")
        target = w3.eth.block_number + 2
        # no transaction is sent: only the interval miner can bring the head to `target`
        # (the ceiling only guards against a hang; a loaded machine mines late, not never)
        give_up = time.monotonic() + PATIENCE
        while w3.eth.block_number < target and time.monotonic() < give_up:
            time.sleep(0.1)
        assert w3.eth.block_number >= target
    finally:
        code, _err = _interrupt(node)
    assert code == 0


@pytest.fixture
def hardhat():
    """`npx hardhat node` from the repo's node_modules, on a free port."""
    port = free_port()
    binary = ROOT / "node_modules" / ".bin" / "hardhat"
    proc = subprocess.Popen(
        [str(binary), "node", "--port", str(port), "--hostname", "127.0.0.1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_deploy__hardhat_node__deploys_and_positions_work(hardhat, tmp_path):
    cli = Cli(hardhat, tmp_path / "deployment.json")
    manifest = cli.json("deploy", "--rpc-url", hardhat)
    assert manifest["chain_id"] == 31337
    assert [p["name"] for p in manifest["pools"]] == ["WETH", "WBTC", "VOL"]
    cli.ok("faucet", "--pool", "WBTC", "--account", BORROWER)
    shown = cli.json(
        "position", "open", "--pool", "WBTC", "--collateral", "0.1", "--debt", "1500",
        "--account", BORROWER,
    )  # fmt: skip
    assert shown["collateral"] == "0.1" and shown["health"] is not None
    status = cli.json("status", "--pool", "WBTC")
    assert status["pools"][0]["positions"] == 1
