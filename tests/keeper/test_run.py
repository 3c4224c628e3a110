"""`bulkhead.keeper.run` and `bulkhead keeper run` against the node: what the CLI and the
demo call."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account

from bulkhead import artifacts
from bulkhead.deploy import ConfigError
from bulkhead.keeper import run
from bulkhead.keeper.cli import keeper
from bulkhead.keeper.runner import keeper_from_env
from bulkhead.risk import WAD

from .conftest import BORROWER, KEEPER, OUTSIDER, PATIENCE, Node

ROOT = Path(__file__).resolve().parents[2]
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def _unsafe_book(node: Node) -> list[int]:
    weth = node.markets["WETH"]
    price = weth.price()
    debt = 2_000 * WAD
    healths = [*weth.healths_unsafe_at(2_100, 2), 2.5]  # two unsafe after the crash
    ids = weth.open_many(
        node.accounts[BORROWER],
        [(weth.collateral_for(debt, h, price), debt) for h in healths],
    )
    weth.set_price(2_100)
    return ids


def test_cli_keeper_run__dry_run_once__simulates_reports_and_sends_nothing(chain, tmp_path):
    ids = _unsafe_book(chain)
    keeper_address = chain.accounts[KEEPER]
    chain.give_bhusd(keeper_address, 50_000 * WAD)
    manifest = tmp_path / "deployment.json"
    chain.deployment.save(manifest)
    nonce = chain.w3.eth.get_transaction_count(keeper_address)
    args = [
        "run",
        "--rpc-url",
        chain.anvil.rpc_url,
        "--manifest",
        str(manifest),
        "--account",
        str(KEEPER),
        "--dry-run",
        "--once",
        "--json",
    ]
    result = CliRunner(mix_stderr=False).invoke(keeper, args)

    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["simulated"] == {"liquidate": 2}
    assert summary["liquidations"] == 0 and summary["txs_sent"] == 0
    assert chain.w3.eth.get_transaction_count(keeper_address) == nonce
    assert set(chain.markets["WETH"].liquidatable()) == set(ids[:2])
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    would_send = [e for e in lines if e["event"] == "would_send"]
    assert {e["id"] for e in would_send} == set(ids[:2])
    bounties = [e["bounty_usd"] for e in would_send]
    assert bounties[0] > bounties[1]  # larger bounty first
    assert lines[-1]["event"] == "summary"


def test_run__once_with_a_local_key__liquidates_and_returns_the_summary(chain, tmp_path):
    ids = _unsafe_book(chain)
    Account.enable_unaudited_hdwallet_features()
    key = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{KEEPER}").key.hex()
    chain.give_bhusd(chain.accounts[KEEPER], 50_000 * WAD)
    manifest = tmp_path / "deployment.json"
    chain.deployment.save(manifest)
    log = io.StringIO()
    summary = run(
        rpc_url=chain.anvil.rpc_url,
        manifest=manifest,
        private_key=key,
        once=True,
        max_fee=100,
        log_stream=log,
    )

    assert summary["liquidations"] == 2 and summary["cycles"] == 1
    assert summary["bounty_usd"]["total"] > 0 and summary["gas_spent_wei"] > 0
    assert chain.markets["WETH"].liquidatable() == []
    events = [json.loads(line) for line in log.getvalue().splitlines()]
    assert {e["id"] for e in events if e["event"] == "done"} == set(ids[:2])
    start = next(e for e in events if e["event"] == "keeper_start")
    assert start["address"] == chain.accounts[KEEPER] and start["max_fee"] == 100 * 10**9
    assert key[2:] not in log.getvalue()


def test_keeper_from_env__silverback_settings__configure_the_keeper(chain, tmp_path):
    manifest = tmp_path / "deployment.json"
    chain.deployment.save(manifest)
    env = {
        "BULKHEAD_MANIFEST": str(manifest),
        "BULKHEAD_ACCOUNT": str(KEEPER),
        "BULKHEAD_DRY_RUN": "1",
        "BULKHEAD_MAX_FEE": "50",
        "BULKHEAD_MIN_PROFIT": "2.5",
    }
    k = keeper_from_env(chain.w3, env, log_stream=io.StringIO())
    assert k.address == chain.accounts[KEEPER]
    assert (k.config.dry_run, k.config.max_fee, k.config.min_profit) == (
        True,
        50 * 10**9,
        25 * WAD // 10,
    )
    assert k.step().scanned == 0  # a fresh deployment: nothing to scan, nothing to do


def test_keeper_from_env__batch_size__set_or_one_line_error(chain, tmp_path):
    manifest = tmp_path / "deployment.json"
    chain.deployment.save(manifest)
    env = {"BULKHEAD_MANIFEST": str(manifest), "BULKHEAD_ACCOUNT": str(KEEPER)}
    k = keeper_from_env(chain.w3, {**env, "BULKHEAD_BATCH_SIZE": "7"}, log_stream=io.StringIO())
    assert k.config.batch_size == 7
    assert keeper_from_env(chain.w3, env, log_stream=io.StringIO()).config.batch_size == 1_000
    with pytest.raises(ConfigError) as exc:
        keeper_from_env(chain.w3, {**env, "BULKHEAD_LOG_FORMAT": "yaml"})
    assert str(exc.value) == "BULKHEAD_LOG_FORMAT 'yaml' is not one of json, text"
    text = io.StringIO()
    keeper_from_env(chain.w3, {**env, "BULKHEAD_LOG_FORMAT": "text"}, log_stream=text).step()
    assert re.match(r"\d\d:\d\d:\d\d keeper_start +address=", text.getvalue())
    for value, message in (
        ("0", "0 is not between 1 and 1000"),
        ("x", "'x' is not a whole number"),
    ):
        with pytest.raises(ConfigError) as exc:
            keeper_from_env(chain.w3, {**env, "BULKHEAD_BATCH_SIZE": value})
        assert str(exc.value) == f"BULKHEAD_BATCH_SIZE {message}"


def test_cli_keeper_run__manifest_of_a_reset_node__one_line_wrong_chain(chain, tmp_path):
    """A manifest whose factory is not on this node (the node was reset): the same one line
    the other commands print, not a traceback after three retries."""
    manifest = tmp_path / "deployment.json"
    raw = json.loads(chain.deployment.to_json())
    raw["factory"] = "0x000000000000000000000000000000000000dEaD"
    manifest.write_text(json.dumps(raw))
    args = ["run", "--rpc-url", chain.anvil.rpc_url, "--manifest", str(manifest), "--once"]
    result = CliRunner(mix_stderr=False).invoke(keeper, args)
    assert result.exit_code == 1
    err = result.stderr.strip().splitlines()
    assert err[-1].startswith(
        "Error: wrong chain: no factory at 0x000000000000000000000000000000000000dEaD on "
    ), result.stderr
    assert "Traceback" not in result.stderr and "InsufficientDataBytes" not in result.stderr


def _cli_args(chain: Node, manifest, *extra: str) -> list[str]:
    return ["run", "--rpc-url", chain.anvil.rpc_url, "--manifest", str(manifest), *extra]


def test_run__dry_run_that_loops__counts_each_due_action_once(chain, tmp_path):
    """Before: 5 passes over 2 liquidatable positions said "would send liquidate 10"."""
    ids = _unsafe_book(chain)
    chain.give_bhusd(chain.accounts[KEEPER], 50_000 * WAD)
    summary = run(
        rpc_url=chain.anvil.rpc_url,
        manifest=chain.deployment,
        account=KEEPER,
        dry_run=True,
        poll_interval=0.05,
        max_cycles=5,
        log_stream=io.StringIO(),
    )
    assert summary["cycles"] == 5
    assert summary["simulated"] == {"liquidate": 2}
    assert set(chain.markets["WETH"].liquidatable()) == set(ids[:2])


def test_cli_keeper_run__once_without_bhusd__says_how_to_fund_it_and_exits_1(chain, tmp_path):
    ids = _unsafe_book(chain)
    manifest = tmp_path / "deployment.json"
    chain.deployment.save(manifest)
    poor = chain.accounts[OUTSIDER]
    result = CliRunner(mix_stderr=False).invoke(
        keeper, _cli_args(chain, manifest, "--account", str(OUTSIDER), "--once", "--json")
    )
    assert result.exit_code == 1, result.stderr
    summary = json.loads(result.stdout)  # the summary is printed first
    assert summary["liquidations"] == 0 and summary["unfunded"]["actions"] == 2
    last = result.stderr.strip().splitlines()[-1]
    match = re.fullmatch(
        rf"Error: keeper {poor} holds 0\.00 bhUSD: 2 due action\(s\) need ([0-9,.]+) bhUSD in "
        rf"all \(the largest [0-9,.]+\); fund it: `bulkhead faucet --bhusd ([0-9.]+) --to {poor}`",
        last,
    )
    assert match, last
    # what it asks for is what the two liquidations need: with it, one pass does both
    chain.give_bhusd(poor, int(Decimal(match.group(2)) * WAD))
    assert set(chain.markets["WETH"].liquidatable()) == set(ids[:2])
    again = CliRunner(mix_stderr=False).invoke(
        keeper, _cli_args(chain, manifest, "--account", str(OUTSIDER), "--once", "--json")
    )
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["liquidations"] == 2
    assert chain.markets["WETH"].liquidatable() == []


def test_resolve_signer__local_chain_without_a_choice__the_keepers_own_dev_account(chain):
    from bulkhead.keeper.tx import KEEPER_DEV_ACCOUNT, resolve_signer

    signer = resolve_signer(chain.w3, env={})
    assert signer.address == chain.w3.eth.accounts[KEEPER_DEV_ACCOUNT]
    assert KEEPER_DEV_ACCOUNT != 0  # not the account that deploys and borrows by default
    assert resolve_signer(chain.w3, account=0, env={}).address == chain.w3.eth.accounts[0]


def test_cli_keeper_run__sigterm__logs_it_and_prints_the_summary(chain, tmp_path):
    manifest = tmp_path / "deployment.json"
    chain.deployment.save(manifest)
    command = [sys.executable, "-m", "bulkhead", "keeper", *_cli_args(chain, manifest)]
    proc = subprocess.Popen(
        [*command, "--poll-interval", "0.2", "--account", str(KEEPER)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(proc.stderr.readline())  # blocks until the keeper has started
        assert first["event"] == "keeper_start", first
        proc.send_signal(signal.SIGTERM)
        # what follows is a few lines, well within the pipes' buffers: wait, then read
        proc.wait(timeout=PATIENCE)
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    events = [json.loads(line)["event"] for line in err.splitlines()]
    assert "terminated" in events and events[-1] == "summary", events
    assert out.startswith("cycles"), out


def test_cli_keeper_run__text_log__amounts_in_tokens_one_event_a_line(chain, tmp_path):
    ids = _unsafe_book(chain)
    chain.give_bhusd(chain.accounts[KEEPER], 50_000 * WAD)
    manifest = tmp_path / "deployment.json"
    chain.deployment.save(manifest)
    args = _cli_args(chain, manifest, "--account", str(KEEPER), "--once", "--log-format", "text")
    result = CliRunner(mix_stderr=False).invoke(keeper, args)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(re.match(r"\d\d:\d\d:\d\d \S+", line) for line in lines), lines
    assert "{" not in result.stderr  # no JSON objects
    sent = next(line for line in lines if line.split()[1] == "sent")
    match = re.search(r"amount=([0-9,.]+)bhUSD min_out=([0-9.]+)WETH", sent)
    assert match, sent
    # the bhUSD it offered to burn: within its balance, more than either debt's half
    assert 1_000 < Decimal(match.group(1).replace(",", "")) <= 50_000
    done = [line for line in lines if line.split()[1] == "done"]
    assert {int(re.search(r" id=(\d+)", line).group(1)) for line in done} == set(ids[:2])
    assert all(re.search(r"bounty_usd=[0-9,.]+USD", line) for line in done)
    assert lines[-1].split()[1] == "summary"


def test_silverback_bot__automine_node__heartbeat_blocks_and_it_liquidates(chain, tmp_path):
    """`silverback run bots.keeper:bot` against the automine node `bulkhead node` starts:
    before, ape's block poller gave up after 10 s without a transaction and the bot did
    nothing; the heartbeat mines empty blocks while the chain stands still."""
    ids = _unsafe_book(chain)
    chain.give_bhusd(chain.accounts[KEEPER], 50_000 * WAD)
    manifest = tmp_path / "deployment.json"
    chain.deployment.save(manifest)
    env = {
        **os.environ,
        "BULKHEAD_MANIFEST": str(manifest),
        "BULKHEAD_ACCOUNT": str(KEEPER),
        "BULKHEAD_LOG_FORMAT": "text",
    }
    silverback = Path(sys.executable).parent / "silverback"
    network = f"ethereum:local:{chain.anvil.rpc_url}"
    log = tmp_path / "bot.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [str(silverback), "run", "bots.keeper:bot", "--network", network],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        weth = chain.markets["WETH"]
        deadline = time.monotonic() + PATIENCE  # a ceiling against a hang, not an expectation
        while set(weth.liquidatable()) & set(ids[:2]) and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        assert proc.poll() is None, log.read_text()[-3000:]  # still running, not timed out
        assert weth.liquidatable() == []
        text = log.read_text()
        assert "heartbeat" in text and "Timed out waiting for next block" not in text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_silverback_bot__no_blocks_at_all__exits_non_zero(chain, tmp_path):
    """Without the heartbeat an idle automine node gives no block: ape's poller gives up
    after 10 s and Silverback would exit 0 having done nothing; the bot exits 1."""
    manifest = tmp_path / "deployment.json"
    chain.deployment.save(manifest)
    env = {**os.environ, "BULKHEAD_MANIFEST": str(manifest), "BULKHEAD_HEARTBEAT": "0"}
    silverback = Path(sys.executable).parent / "silverback"
    network = f"ethereum:local:{chain.anvil.rpc_url}"
    done = subprocess.run(
        [str(silverback), "run", "bots.keeper:bot", "--network", network],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=PATIENCE,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "no_blocks" in done.stdout + done.stderr


def test_run__dry_run_with_a_due_protection__reports_it_with_the_approval_first(chain, tmp_path):
    """Before: a dry run sends no bhUSD approval, so each due deleverage simulated as
    "erc20: insufficient allowance" and counted as a failure."""
    weth = chain.markets["WETH"]
    owner = chain.accounts[BORROWER]
    debt = 2_000 * WAD
    (pid,) = weth.open_many(owner, [(weth.collateral_for(debt, 1.4), debt)])
    auto = chain.automation.functions
    chain.batch(
        [
            (owner, weth.pool.functions.set_operator(chain.automation.address, True)),
            (owner, auto.set_protection(weth.address, pid, int(1.5 * WAD), int(1.8 * WAD), 100)),
        ]
    )
    chain.give_bhusd(chain.accounts[KEEPER], 50_000 * WAD)
    nonce = chain.w3.eth.get_transaction_count(chain.accounts[KEEPER])
    log = io.StringIO()
    summary = run(
        rpc_url=chain.anvil.rpc_url,
        manifest=chain.deployment,
        account=KEEPER,
        dry_run=True,
        once=True,
        log_stream=log,
    )
    assert summary["simulated"] == {"deleverage": 1}
    assert sum(summary["failures"].values()) == 0
    events = [json.loads(line) for line in log.getvalue().splitlines()]
    (would,) = [e for e in events if e["event"] == "would_send"]
    assert (would["kind"], would["id"], would["approve_first"]) == ("deleverage", pid, True)
    assert chain.w3.eth.get_transaction_count(chain.accounts[KEEPER]) == nonce
    stable = chain.w3.eth.contract(
        address=chain.deployment.stablecoin, abi=artifacts.abi("Stablecoin")
    )
    allowance = stable.functions.allowance(chain.accounts[KEEPER], chain.automation.address)
    assert allowance.call() == 0  # and it approved nothing
