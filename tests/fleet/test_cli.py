"""`bulkhead keeper fleet` end to end on an automine node: it starts Redis, the workers and
the runner, clears a crash, and on SIGTERM stops everything and prints each worker's
metrics and the fleet's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from eth_account import Account

from bulkhead.artifacts import ROOT
from bulkhead.cli import cli as bulkhead_cli
from bulkhead.keeper.fleet.local import dev_workers

from .conftest import PATIENCE, crash, liquidatable


def test_fleet_command__crash_on_automine_node__clears_it_and_prints_each_worker(
    chain, manifest, tmp_path
):
    # crash() mines its own block: a call that races an automined block can find its state
    # pruned under Anvil's --prune-history
    chain.automine(False)
    crash(chain)
    chain.automine(True)
    due = sum(map(len, liquidatable(chain).values()))
    assert due > 600
    bulkhead = Path(sys.executable).parent / "bulkhead"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BULKHEAD_PRIVATE_KEY": ""}
    args = [str(bulkhead), "keeper", "fleet", "--workers", "3", "--network", chain.anvil.rpc_url]
    args += ["--manifest", str(manifest), "--log-dir", str(tmp_path / "logs")]
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=o, stderr=e)
    try:
        deadline = time.monotonic() + PATIENCE
        while any(liquidatable(chain).values()):
            assert proc.poll() is None, err.read_text()[-2000:]
            assert time.monotonic() < deadline, err.read_text()[-2000:]
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=PATIENCE)
    assert proc.returncode == 0, err.read_text()[-2000:]
    table = out.read_text().splitlines()
    assert table[0].split()[:2] == ["worker", "liquidations"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert sorted(rows) == ["fleet", "w1", "w2", "w3"]
    assert int(rows["fleet"][1]) == due
    assert sum(int(rows[w][1]) for w in ("w1", "w2", "w3")) == due
    for name in ("runner", "w1", "w2", "w3"):
        assert (tmp_path / "logs" / f"{name}.log").exists()


def test_fleet_command__account_of_the_demo__one_line_error(chain, manifest):
    result = CliRunner().invoke(
        bulkhead_cli,
        ["keeper", "fleet", "--accounts", "8,9", "--network", chain.anvil.rpc_url],
        env={"BULKHEAD_MANIFEST": str(manifest)},
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: dev accounts 0-8 deploy")


def test_dev_workers__past_the_node_accounts__next_keys_of_the_anvil_mnemonic_funded(chain):
    specs = dev_workers(chain.w3, 6)  # dev accounts 9-14; the node holds 13
    assert [s.account for s in specs[:4]] == [9, 10, 11, 12]
    assert [s.address for s in specs[:4]] == chain.accounts[9:13]
    for spec in specs[4:]:
        assert spec.account is None and spec.private_key
        assert Account.from_key(spec.private_key).address == spec.address
        assert chain.w3.eth.get_balance(spec.address) > 0
    assert len({s.address for s in specs}) == 6
    assert "private_key" not in repr(specs[-1]) and specs[-1].private_key not in repr(specs[-1])
