"""The README's walkthrough, literally, on a fresh node; and what a new user meets in it: a
max borrow that `borrow` accepts, repaying all when interest has accrued on minted bhUSD,
`withdraw all`, `balance`, and amounts that are negative or absurd."""

from __future__ import annotations

import csv
import io
import re
import shlex
from decimal import Decimal
from pathlib import Path

import pytest

from bulkhead import artifacts, risk
from bulkhead.client import Client
from bulkhead.deploy import Deployment
from bulkhead.risk import WAD
from tests.cli.conftest import ATTACKER, BORROWER, OPERATOR, Cli

DEPLOY_PRICES = {"WETH": "3000", "WBTC": "60000", "VOL": "2"}  # bulkhead/configs/local.toml
README = Path(__file__).resolve().parents[2] / "README.md"
D = Decimal


def _walkthrough() -> list[list[str]]:
    """The commands between the README's walkthrough markers, as argument lists."""
    text = README.read_text()
    block = re.search(r"<!-- walkthrough -->\s*```sh\n(.*?)```\s*<!-- /walkthrough -->", text, re.S)
    assert block, "README.md has no walkthrough block"
    commands = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    commands = [c for c in commands if c]
    assert all(c[0] == "bulkhead" for c in commands), commands
    return [c[1:] for c in commands]


@pytest.fixture(scope="module")
def fresh(anvil, tmp_path_factory) -> Cli:
    """The CLI on this module's own node, nothing deployed yet (the walkthrough deploys)."""
    return Cli(anvil.rpc_url, tmp_path_factory.mktemp("walk") / "deployment.json")


@pytest.fixture(scope="module")
def walked(fresh) -> Cli:
    """The walkthrough has run; each command exited 0."""
    steps = _walkthrough()
    assert len(steps) >= 8
    for args in steps:
        run = fresh(*args)
        assert run.code == 0, f"`bulkhead {shlex.join(args)}` exit {run.code}: {run.err}"
    return fresh


@pytest.fixture(scope="module")
def client(w3, walked) -> Client:
    return Client.attach(w3, Deployment.load(walked.manifest))


def _advance(w3, cli: Cli, seconds: int) -> None:
    """Move time on, then post every deploy price again (stale after their heartbeats)."""
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])
    for pool, price in DEPLOY_PRICES.items():
        cli.ok("oracle", "set", pool, price)


def test_walkthrough__readme_commands__repay_and_withdraw_all_leave_the_position_empty(
    walked, client, w3, dev
):
    pool = client.pool("WETH")
    c = pool.contract.functions
    assert c.owner_of(1).call() == dev[0]
    assert (c.collateral_of(1).call(), c.debt_of(1).call()) == (0, 0)
    # `borrow max` took it close to its max LTV: 4000 bhUSD against 2.5 WETH at 3000 USD
    # and 60 % leaves 500 more, less what an hour of interest needs
    logs = pool.contract.events.Borrow().get_logs(from_block=0)
    borrowed = [e["args"]["amount"] for e in logs if e["args"]["id"] == 1]
    assert borrowed[0] == 4000 * WAD and len(borrowed) == 2  # open, then borrow max
    assert 499 * WAD < borrowed[1] < 500 * WAD


def test_show__max_borrow__is_an_amount_borrow_accepts_half_an_hour_later(walked, client, w3):
    walked.ok("position", "open", "--pool", "WETH", "--collateral", "2", "--debt", "3000")
    pos_id = client.pool("WETH").contract.functions.position_count().call()
    shown = walked.ok("position", "show", "--pool", "WETH", "--id", pos_id).out
    match = re.search(r"max borrow\s+([0-9,]+\.[0-9]{2}) bhUSD more", shown)
    assert match, shown
    _advance(w3, walked, 1800)
    amount = match.group(1).replace(",", "")
    assert D(amount) > 0
    walked.ok("position", "borrow", "--pool", "WETH", "--id", pos_id, amount)
    # and it was close to the edge: one bhUSD more is refused
    pool = client.pool("WETH")
    p, price = client.params(pool), pool.contract.functions.price().call()
    debt = pool.contract.functions.debt_of(pos_id).call()
    limit = risk.max_debt(2 * WAD, price, p.max_ltv, pool.scale)
    assert debt <= limit
    assert limit - debt < limit // 1000  # at most 0.1 % of the limit was left unused
    message = walked.error("position", "borrow", "--pool", "WETH", "--id", pos_id, "1")
    assert message.startswith("borrowing 1.00 bhUSD would exceed the max LTV of 60%")


def test_show__ltv_and_liquidatable_flag__from_the_pool_price(walked, client, w3):
    walked.ok("position", "open", "--pool", "WETH", "--collateral", "1", "--debt", "1500")
    pos_id = client.pool("WETH").contract.functions.position_count().call()
    shown = walked.json("position", "show", "--pool", "WETH", "--id", pos_id)
    # 1500 / (1 x 3000) = 50 %, rounded up (the debt has accrued a second or two)
    assert shown["ltv_bps"] in (5000, 5001) and shown["liquidatable"] is False
    text = walked.ok("position", "show", "--pool", "WETH", "--id", pos_id).out
    assert re.search(r"LTV\s+50(\.01)?% \(max 60%, liquidation at 70%\)", text), text
    assert "LIQUIDATABLE" not in text
    walked.ok("oracle", "set", "WETH", "2000")  # 1500 / 2000 = 75 % > 70 %
    try:
        text = walked.ok("position", "show", "--pool", "WETH", "--id", pos_id).out
        assert re.search(r"health\s+0\.933  LIQUIDATABLE \(below 1\)", text), text
        assert re.search(r"LTV\s+75(\.01)?% ", text), text
        assert walked.json("position", "show", "--pool", "WETH", "--id", pos_id)["liquidatable"]
    finally:
        walked.ok("oracle", "set", "WETH", "3000")


def test_repay_all__only_the_minted_bhusd__says_what_is_short_and_the_faucet_fills_it(
    walked, client, w3, dev
):
    who = OPERATOR
    walked.ok("faucet", "--account", who, "--pool", "WETH")
    walked.ok(
        "position", "open", "--pool", "WETH", "--collateral", "2", "--debt", "1000",
        "--account", who,
    )  # fmt: skip
    pool = client.pool("WETH")
    pos_id = pool.contract.functions.position_count().call()
    _advance(w3, walked, 30 * 86400)  # a month of interest on 1000 bhUSD
    message = walked.error(
        "position", "repay", "--pool", "WETH", "--id", pos_id, "all", "--account", who
    )
    match = re.search(r": ([0-9.]+) bhUSD short \(`bulkhead faucet --bhusd ([0-9.]+)`", message)
    assert message.startswith("insufficient bhUSD balance: repaying all the debt needs"), message
    assert match and match.group(1) == match.group(2), message
    short = D(match.group(1)) * WAD
    debt = pool.contract.functions.debt_of(pos_id).call()
    held = client.balance(None, dev[who])
    assert debt - held <= short <= (debt - held) * 2 + 10**16  # what is missing, with a margin
    assert walked.error("position", "close", "--pool", "WETH", "--id", pos_id, "--account", who)
    # nothing moved
    assert pool.contract.functions.debt_of(pos_id).call() >= debt
    assert client.balance(None, dev[who]) == held
    walked.ok("faucet", "--bhusd", match.group(1), "--account", who)
    walked.ok("position", "close", "--pool", "WETH", "--id", pos_id, "--account", who)
    assert pool.contract.functions.debt_of(pos_id).call() == 0


def test_faucet_bhusd__to_another_address__receiver_gets_exactly_it_and_the_sender_owes_it(
    walked, client, dev
):
    pool = client.pool("WETH")
    before = client.balance(None, dev[ATTACKER])
    data = walked.json("faucet", "--bhusd", "12.5", "--to", dev[ATTACKER], "--account", BORROWER)
    assert client.balance(None, dev[ATTACKER]) - before == D("12.5") * WAD
    pos_id = data["position"]
    c = client.pool(data["pool"]).contract.functions
    assert c.owner_of(pos_id).call() == dev[BORROWER]
    min_debt = client.params(pool).min_debt
    assert c.debt_of(pos_id).call() >= max(min_debt, D("12.5") * WAD)
    health = client.position(client.pool(data["pool"]), pos_id).health
    assert health is not None and health > WAD  # half the max LTV: far from liquidation
    assert walked.error("faucet", "--bhusd", "0") == "amount must be above 0"
    assert walked.error("faucet", "--bhusd", "5", "--pool", "WETH") == (
        "--bhusd borrows bhUSD: leave out --pool and --amount"
    )


def test_withdraw_all__with_debt__refused_without_moving_anything(walked, client):
    walked.ok("position", "open", "--pool", "WETH", "--collateral", "1", "--debt", "500")
    pool = client.pool("WETH")
    pos_id = pool.contract.functions.position_count().call()
    message = walked.error("position", "withdraw", "--pool", "WETH", "--id", pos_id, "all")
    assert message == (
        f"position {pos_id} in pool WETH has 500.00 bhUSD of debt: repay it first, or "
        "`position close` (repays all and withdraws all)"
    )
    assert pool.contract.functions.collateral_of(pos_id).call() == WAD


def test_balance__every_asset__matches_the_token_contracts(walked, client, w3, dev):
    vault = w3.eth.contract(address=client.deployment.vault, abi=artifacts.abi("SavingsVault"))
    sender = dev[BORROWER]
    deposit = 100 * WAD
    walked.ok("faucet", "--bhusd", "100", "--account", BORROWER)
    w3.eth.wait_for_transaction_receipt(
        client.stablecoin.functions.approve(vault.address, deposit).transact({"from": sender})
    )
    w3.eth.wait_for_transaction_receipt(
        vault.functions.deposit(deposit, sender).transact({"from": sender})
    )
    data = walked.json("balance", "--account", BORROWER)
    assert data["address"] == sender
    got = {row["asset"]: row for row in data["balances"]}
    assert D(got["ETH"]["amount"]) * WAD == w3.eth.get_balance(sender)
    assert D(got["bhUSD"]["amount"]) * WAD == client.balance(None, sender)
    for pool in client.pools():
        assert D(got[pool.name]["amount"]).scaleb(pool.decimals) == client.balance(pool, sender)
    shares = vault.functions.balanceOf(sender).call()
    symbol = vault.functions.symbol().call()
    assert shares > 0
    assert D(got[symbol]["amount"]).scaleb(vault.functions.decimals().call()) == shares
    # another address, and a malformed one
    other = walked.json("balance", "--address", dev[ATTACKER])
    assert other["address"] == dev[ATTACKER]
    assert walked.error("balance", "--address", "0x12") == "--address '0x12' is not an address"


@pytest.mark.parametrize("command", ["borrow", "repay", "withdraw", "deposit"])
def test_amounts__negative_huge_and_long__one_short_line(walked, command):
    base = ["position", command, "--pool", "WETH", "--id", "1"]
    assert walked.error(*base, "-5") == (
        f"negative number '-5': amounts are never negative (see `bulkhead position {command} --help`)"
    )
    message = walked.error(*base, "1e400")
    assert "is too large (at most 1e30)" in message and len(message) < 160, message
    message = walked.error(*base, "1" * 1100)
    assert len(message) < 160, message
    message = walked.error(*base, "x" * 1100)
    assert "malformed number 'xxxx" in message and len(message) < 160, message


def test_liquidate__by_hand__pays_bhusd_and_receives_the_collateral_the_pool_gives(
    walked, client, dev
):
    pool = client.pool("WETH")
    c = pool.contract.functions
    walked.ok("position", "open", "--pool", "WETH", "--collateral", "1", "--debt", "1500")
    pos_id = c.position_count().call()
    assert walked.error("liquidate", "--pool", "WETH", "--id", pos_id, "--account", ATTACKER) == (
        f"position {pos_id} in pool WETH is healthy (health 1.400, liquidatable below 1)"
    )
    walked.ok("faucet", "--bhusd", "3000", "--account", ATTACKER)
    walked.ok("oracle", "set", "WETH", "2000")  # health 2000 x 0.7 / 1500 = 0.933
    try:
        bhusd, weth = client.balance(None, dev[ATTACKER]), client.balance(pool, dev[ATTACKER])
        data = walked.json("liquidate", "--pool", "WETH", "--id", pos_id, "--account", ATTACKER)
        paid, out = D(data["paid"]) * WAD, D(data["collateral_out"]) * WAD
        # what the liquidator's wallet shows is what the command reports
        assert bhusd - client.balance(None, dev[ATTACKER]) == paid
        assert client.balance(pool, dev[ATTACKER]) - weth == out
        # it got more collateral value than it paid (the bonus), and the position is safe again
        assert out * 2000 > paid and paid > 0
        assert not client.position(pool, pos_id).liquidatable
        assert walked.error("liquidate", "--pool", "WETH", "--id", pos_id).startswith(
            f"position {pos_id} in pool WETH is healthy"
        )
    finally:
        walked.ok("oracle", "set", "WETH", "3000")
    count = client.pool("WETH").contract.functions.position_count().call()
    assert walked.error("liquidate", "--pool", "WETH", "--id", "999") == (
        f"unknown position 999 in pool WETH (ids run from 1 to {count})"
    )


def test_list_all_csv__every_position_of_every_pool__exact_and_parseable(walked, client, dev):
    walked.ok("faucet", "--account", ATTACKER)
    walked.ok(
        "position", "open", "--pool", "WBTC", "--collateral", "0.5", "--debt", "2000",
        "--account", ATTACKER,
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(walked.ok("position", "list", "--all", "--csv").out)))
    listed = {(r["pool"], int(r["id"])) for r in rows}
    expected = set()
    for pool in client.pools():
        c = pool.contract.functions
        for pos_id in range(1, c.position_count().call() + 1):
            if c.collateral_of(pos_id).call() or c.debt_of(pos_id).call():
                expected.add((pool.name, pos_id))
    assert listed == expected and len({r["owner"] for r in rows}) >= 3  # several owners
    for r in rows:
        pool = client.pool(r["pool"])
        c = pool.contract.functions
        assert D(r["collateral"]).scaleb(pool.decimals) == c.collateral_of(int(r["id"])).call()
        assert r["liquidatable"] in ("True", "False")
    mine = list(csv.DictReader(io.StringIO(walked.ok("position", "list", "--csv").out)))
    assert mine and {r["owner"] for r in mine} == {dev[0]}
    assert walked.error("position", "list", "--all", "--owner", dev[1]) == (
        "choose --all or --owner, not both"
    )
    assert walked.error("position", "list", "--csv", "--json") == "choose --json or --csv, not both"


def test_vault__deposit_show_redeem__shares_and_bhusd_move_as_the_vault_says(walked, client, dev):
    who = OPERATOR
    walked.ok("faucet", "--bhusd", "500", "--account", who)
    vault = client.vault.functions
    bhusd = client.balance(None, dev[who])
    expected_shares = vault.previewDeposit(200 * WAD).call()
    data = walked.json("vault", "deposit", "200", "--account", who)
    assert D(data["shares"]) * WAD == expected_shares == vault.balanceOf(dev[who]).call()
    assert bhusd - client.balance(None, dev[who]) == 200 * WAD
    shown = walked.json("vault", "show", "--account", who)
    assert D(shown["shares"]) * WAD == expected_shares
    assert D(shown["total_assets"]) * WAD == vault.totalAssets().call()
    assert D(shown["worth"]) * WAD == vault.convertToAssets(expected_shares).call()
    text = walked.ok("vault", "show", "--account", who).out
    assert "share price" in text and f"shares of {dev[who]}" in text
    # redeeming more than held, nothing, and then all
    assert walked.error("vault", "redeem", "1e9", "--account", who).startswith(f"{dev[who]} holds ")
    assert walked.error("vault", "redeem", "0", "--account", who) == "amount must be above 0"
    worth = vault.previewRedeem(expected_shares).call()
    before = client.balance(None, dev[who])
    out = walked.json("vault", "redeem", "all", "--account", who)
    assert D(out["received"]) * WAD == worth == client.balance(None, dev[who]) - before
    assert vault.balanceOf(dev[who]).call() == 0
    assert walked.error("vault", "redeem", "all", "--account", who) == (
        f"{dev[who]} holds no savings vault shares"
    )
    assert walked.error("vault", "deposit", "1e9", "--account", who).startswith(
        "insufficient bhUSD balance: depositing 1,000,000,000.00 bhUSD needs"
    )


def test_governance__pause_params_sweep__owner_only_and_bounded(walked, client, dev):
    pool = client.pool("VOL")
    c = pool.contract.functions
    # only the factory's owner (dev account 0, the deployer) governs
    message = walked.error("pool", "pause", "VOL", "--account", ATTACKER)
    assert message == (
        f"only governance (the factory's owner, {dev[0]}) can pause or unpause a pool; "
        f"{dev[ATTACKER]} is not (--account or --keystore)"
    )
    assert c.paused().call() is False
    walked.ok("pool", "pause", "VOL")
    assert c.paused().call() is True
    assert walked.error("pool", "pause", "VOL") == "pool VOL is already paused"
    assert walked.error(
        "position", "open", "--pool", "VOL", "--collateral", "1000", "--debt", "200"
    ).startswith("cannot open a position: pool VOL is paused")
    walked.ok("pool", "unpause", "VOL")
    assert c.paused().call() is False

    before = client.params(pool)
    walked.ok("pool", "set-params", "VOL", "--max-ltv", "40%", "--stability-fee", "0.05")
    after = client.params(pool)
    assert after.max_ltv == 4000 and after.stability_fee == risk.fee_per_second(0.05)
    assert (after.liquidation_threshold, after.min_debt) == (
        before.liquidation_threshold,
        before.min_debt,
    )
    # one rule for shares in every command: 40, 40% and 0.4 alike
    for written in ("40", "0.4"):
        walked.ok("pool", "set-params", "VOL", "--max-ltv", written)
        assert client.params(pool).max_ltv == 4000
    threshold = after.liquidation_threshold
    assert walked.error("pool", "set-params", "VOL", "--max-ltv", "0.99").startswith(
        f"max LTV 99% must stay below the liquidation threshold {threshold / 100:g}%"
    )
    # the factory's own bounds: a refusal with its reason, nothing changed
    assert walked.error("pool", "set-params", "VOL", "--liquidation-bonus", "90%").startswith(
        "transaction refused: "
    )
    assert client.params(pool) == after
    assert walked.error("pool", "set-params", "VOL") == (
        "name at least one parameter to change (see --help)"
    )
    # anyone may sweep; what it reports is what the vault received
    vault_before = client.balance(None, client.deployment.vault)
    data = walked.json("pool", "sweep", "WETH", "--account", ATTACKER)
    assert D(data["swept"]) * WAD == client.balance(None, client.deployment.vault) - vault_before


def test_writes__print_their_transaction_hashes__mined_from_the_sender(walked, client, w3, dev):
    run = walked.ok("position", "open", "--pool", "WETH", "--collateral", "1", "--debt", "500")
    line = run.out.strip().splitlines()[-1]
    hashes = line.removeprefix("transactions: ").split(", ")
    assert line.startswith("transactions: ") and len(hashes) >= 1  # approve (if needed), open
    for tx_hash in hashes:
        tx = w3.eth.get_transaction(tx_hash)
        assert tx["from"] == dev[0] and w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    assert w3.eth.get_transaction(hashes[-1])["to"] == client.pool("WETH").contract.address
    data = walked.json("vault", "deposit", "1")
    assert data["transactions"] and all(
        w3.eth.get_transaction_receipt(h)["status"] == 1 for h in data["transactions"]
    )
    # a read sends nothing and prints no hashes
    assert "transactions" not in walked.json("balance")


def test_history__walkthrough_position__every_command_in_order_with_the_state_after(
    walked, client, dev
):
    data = walked.json("position", "history", "--pool", "WETH", "--id", "1")
    rows = data["history"]
    # the README's commands, one by one: open (its Open, Deposit and Borrow), borrow max,
    # deposit 0.5, withdraw 0.25, repay all, withdraw all
    assert [r["event"] for r in rows] == [
        "Open", "Deposit", "Borrow", "Borrow", "Deposit", "Withdraw", "Repay", "Withdraw",
    ]  # fmt: skip
    assert {r["by"] for r in rows} == {dev[0]}
    collateral = [D(r["collateral"]) for r in rows]
    assert collateral == [D("2.5")] * 4 + [D("3"), D("2.75"), D("2.75"), D(0)]
    assert 4000 <= D(rows[2]["debt"]) < D("4000.01") and D(rows[3]["debt"]) > 4499  # rounded up
    assert D(rows[-2]["debt"]) == 0 and D(rows[-1]["debt"]) == 0
    blocks = [r["block"] for r in rows]
    assert blocks == sorted(blocks)
    text = walked.ok("position", "history", "--pool", "WETH", "--id", "1").out
    assert "Withdraw" in text and "amount 0.25 WETH" in text and "amount 4,000.00 bhUSD" in text
    count = client.pool("WETH").contract.functions.position_count().call()
    assert walked.error("position", "history", "--pool", "WETH", "--id", "999") == (
        f"unknown position 999 in pool WETH (ids run from 1 to {count})"
    )


def test_protect__rules_set_shown_and_carried_out_by_the_keeper(walked, client, w3, dev):
    pool = client.pool("WETH")
    c = pool.contract.functions
    auto = client.automation.functions
    walked.ok("position", "open", "--pool", "WETH", "--collateral", "2", "--debt", "3000")
    pos_id = c.position_count().call()  # health 2 x 3000 x 0.7 / 3000 = 1.4
    base = ["position", "protect", "--pool", "WETH", "--id", pos_id]
    walked.ok(*base, "deleverage", "--trigger", "1.2", "--target", "1.35", "--max-fee", "0.5%")
    assert list(auto.protection_of(pool.contract.address, pos_id).call()) == [
        12 * WAD // 10, 135 * WAD // 100, 50,
    ]  # fmt: skip
    # the automation deleverages as the owner's operator: granted with the rule
    assert c.operators(dev[0], client.deployment.automation).call() is True
    walked.ok(*base, "boost", "--trigger", "2.5", "--target", "2")
    assert c.operators(dev[0], client.deployment.automation).call() is True  # granted for it
    bonus = client.params(pool).liquidation_bonus
    assert list(auto.boost_rule(pool.contract.address, pos_id).call())[:3] == [
        25 * WAD // 10, 2 * WAD, bonus,  # the default fee is the pool's cap
    ]  # fmt: skip
    walked.ok(*base, "top-up", "--trigger", "1.1", "--target", "1.3", "--allowance", "0.5")
    assert auto.top_up_rule(pool.contract.address, pos_id).call()[3] == WAD // 2
    assert pool.token.functions.allowance(dev[0], client.deployment.automation).call() >= WAD // 2
    shown = walked.json("position", "rules", "--pool", "WETH", "--id", pos_id)
    assert shown["deleverage"]["on"] and shown["boost"]["on"] and shown["top-up"]["on"]
    assert shown["top-up"]["allowance"] == "0.5" and shown["deleverage"]["max_fee_bps"] == 50
    # refusals: a rule the contracts reject keeps its reason; not the owner; missing options
    message = walked.error(*base, "boost", "--trigger", "1.3", "--target", "1.25")
    assert message.startswith("transaction refused: automation:"), message
    assert walked.error(*base, "boost", "--off", "--account", ATTACKER) == (
        f"position {pos_id} in pool WETH belongs to {dev[0]}; only its owner sets its rules, "
        f"not {dev[ATTACKER]}"
    )
    assert walked.error(*base, "deleverage", "--trigger", "1.2") == (
        "a deleverage rule needs --trigger and --target (or --off)"
    )
    assert walked.error(*base, "boost", "--trigger", "3", "--target", "2", "--allowance", "1") == (
        "--allowance is for top-up rules only, and top-up needs it"
    )
    walked.ok(*base, "boost", "--off")
    walked.ok(*base, "top-up", "--off")
    assert auto.boost_rule(pool.contract.address, pos_id).call()[0] == 0
    # the deleverage rule at work: at 2,500 USD health is 1.17, below the trigger, above 1;
    # the keeper (dev account 7, funded here) brings it back near the target
    keeper = w3.eth.accounts[7]
    walked.ok("faucet", "--bhusd", "5000", "--to", keeper)
    walked.ok("oracle", "set", "WETH", "2500")
    try:
        assert WAD < client.position(pool, pos_id).health < 12 * WAD // 10
        walked.ok("keeper", "run", "--once")
        health = client.position(pool, pos_id).health
        assert 133 * WAD // 100 <= health <= 137 * WAD // 100, health
    finally:
        walked.ok("oracle", "set", "WETH", "3000")


def test_network__names_and_ape_choices__reach_the_node_or_say_what_is_accepted(walked, anvil):
    from bulkhead.chain import resolve_rpc_url

    for name in ("local", "anvil", "Hardhat"):
        assert resolve_rpc_url(name) == "http://127.0.0.1:8545"
    choice = f"ethereum:local:{anvil.rpc_url}"
    assert resolve_rpc_url(choice) == anvil.rpc_url
    # the ape choice, as --network, against this module's node
    assert walked.json("balance", "--network", choice)["balances"]
    assert walked.error("balance", "--network", "mainnet-fork") == (
        "Invalid value for '--rpc-url' / '--network': 'mainnet-fork' is neither an http(s) URL "
        "nor one of local, anvil, hardhat (see `bulkhead balance --help`)"
    )
