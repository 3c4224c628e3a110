"""Issue 15's controls set through the CLI on a fresh Anvil and seen enforced by the chain:
the position debt cap, the volatility haircut, the grace window after an unpause, and a
stop-loss carried out by a keeper.

Each law is stated from first principles (balances, healths and supplies read from the
tokens and the pool), never from the Python mirror of the contracts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from web3 import Web3

from bulkhead.risk import BPS, WAD

from .conftest import BORROWER, KEEPER, LIQUIDATOR

MAX_UINT = 2**256 - 1


@pytest.fixture(autouse=True)
def isolated(w3, cli):
    """Each test starts from the module's fresh deployment and leaves it as it found it."""
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    w3.provider.make_request("evm_revert", [snapshot])


def _advance(w3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])


def _send(w3, fn, sender: str):
    """A transaction straight to the contract (no CLI pre-checks): the chain's own verdict."""
    tx = fn.transact({"from": sender})
    return w3.eth.wait_for_transaction_receipt(tx)


def _revert_reason(w3, fn, sender: str) -> str:
    try:
        fn.call({"from": sender})
    except Exception as exc:  # web3 wraps the node's revert in ContractLogicError
        return str(exc)
    raise AssertionError("the call did not revert")


def _open(cli, client, pool_name: str, collateral: str, debt: str, account: int) -> int:
    cli.ok("faucet", "--pool", pool_name, "--account", account)
    args = ["--pool", pool_name, "--collateral", collateral, "--debt", debt]
    cli.ok("position", "open", *args, "--account", account)
    return client.pool(pool_name).contract.functions.position_count().call()


def test_position_debt_cap__set_by_governance__a_borrow_above_it_fails_with_its_reason(
    cli, client, w3, dev
):
    pool = client.pool("WETH")
    cap = 10_000 * WAD
    assert cli.error(
        "pool", "set-controls", "WETH", "--position-debt-cap", "10000", "--account", BORROWER
    ).startswith("only governance")
    data = cli.json("pool", "set-controls", "WETH", "--position-debt-cap", "10000")
    assert Decimal(data["position_debt_cap"]) == 10_000
    assert pool.contract.functions.controls().call()[0] == cap
    pid = _open(cli, client, "WETH", "10", "9000", BORROWER)
    # the CLI refuses before sending, with the cap in its message
    message = cli.error(
        "position", "borrow", "--pool", "WETH", "--id", pid, "1001", "--account", BORROWER
    )
    assert "above pool WETH's position debt cap of 10,000.00 bhUSD" in message
    # the pool refuses it too, when asked directly
    borrow = pool.contract.functions.borrow(pid, 1001 * WAD)
    assert "pool: position debt cap" in _revert_reason(w3, borrow, dev[BORROWER])
    # up to the cap is fine (a little room for the interest accrued since the open)
    cli.ok("position", "borrow", "--pool", "WETH", "--id", pid, "999", "--account", BORROWER)
    assert pool.contract.functions.debt_of(pid).call() <= cap
    # a new position above the cap cannot open either
    assert "position debt cap" in cli.error(
        "position",
        "open",
        "--pool",
        "WETH",
        "--collateral",
        "10",
        "--debt",
        "10001",
        "--account",
        BORROWER,
    )
    # lowering the cap under an existing debt: the position still repays and still deposits
    cli.ok("pool", "set-controls", "WETH", "--position-debt-cap", "5000")
    cli.ok("position", "repay", "--pool", "WETH", "--id", pid, "100", "--account", BORROWER)
    cli.ok("position", "deposit", "--pool", "WETH", "--id", pid, "1", "--account", BORROWER)
    assert "pool: position debt cap" in _revert_reason(
        w3, pool.contract.functions.borrow(pid, WAD), dev[BORROWER]
    )
    # governance's bound: never above the pool's debt ceiling
    assert "above pool WETH's debt ceiling" in cli.error(
        "pool", "set-controls", "WETH", "--position-debt-cap", "50000001"
    )


def test_haircut__lowers_the_borrow_limit__and_makes_nobody_liquidatable(cli, client, w3, dev):
    pool = client.pool("WETH")
    c = pool.contract.functions
    # positions from far from the limit to right at it (max LTV 60 %, threshold 70 %)
    ids = [_open(cli, client, "WETH", "1", str(debt), BORROWER) for debt in (600, 1300, 1790)]
    # health is collateral value x threshold / debt: what it is made of, before and after
    inputs = [(c.collateral_of(i).call(), c.normalised_debt_of(i).call()) for i in ids]
    terms = (c.price().call(), c.risk_params().call()[1])
    room = [client.lens.functions.max_borrow(pool.contract.address, i).call() for i in ids]
    data = cli.json("pool", "set-controls", "WETH", "--haircut", "30%")
    assert data["haircut_bps"] == 3000 and data["borrow_ltv_bps"] == 4200
    # the haircut touches none of them, so no health moved and nobody became liquidatable
    assert [(c.collateral_of(i).call(), c.normalised_debt_of(i).call()) for i in ids] == inputs
    assert (c.price().call(), c.risk_params().call()[1]) == terms
    assert all(c.health(i).call() >= WAD for i in ids)
    assert c.positions_to_liquidate(1, 100).call() == []
    # the borrow limit fell from 60 % to 42 % of 3,000 USD: 1,260 bhUSD per WETH
    block = w3.eth.block_number
    lens = client.lens.functions
    after = [lens.max_borrow(pool.contract.address, i).call(block_identifier=block) for i in ids]
    assert after[0] < room[0] and after[1] == 0 and after[2] == 0
    debt = c.debt_of(ids[0]).call(block_identifier=block)
    assert 1260 * WAD - debt - 2 <= after[0] <= 1260 * WAD - debt
    # a borrow that fit before is refused now, by the CLI and by the pool
    assert "the borrow limit of 42%" in cli.error(
        "position", "borrow", "--pool", "WETH", "--id", ids[0], "700", "--account", BORROWER
    )
    assert "pool: exceeds max ltv" in _revert_reason(w3, c.borrow(ids[0], 700 * WAD), dev[BORROWER])
    # withdrawals follow the lower limit too; repaying and depositing never do
    assert "pool: exceeds max ltv" in _revert_reason(w3, c.withdraw(ids[1], 10**17), dev[BORROWER])
    cli.ok("position", "repay", "--pool", "WETH", "--id", ids[2], "10", "--account", BORROWER)
    cli.ok("position", "deposit", "--pool", "WETH", "--id", ids[2], "0.1", "--account", BORROWER)
    shown = cli.ok("position", "show", "--pool", "WETH", "--id", ids[0]).out
    assert "42% LTV (max 60% less a 30% haircut)" in shown
    # the liquidation threshold did not move: a liquidation waits for health below 1 as before
    assert c.risk_params().call()[1] == 7000


def test_grace_window__liquidatable_while_paused__waits_for_the_window_while_the_owner_repays(
    cli, client, w3, dev
):
    pool = client.pool("WETH")
    c = pool.contract.functions
    period = c.controls().call()[2]
    assert period == 1800  # from bulkhead/configs/local.toml
    owner_pos = _open(cli, client, "WETH", "1", "1700", BORROWER)
    other_pos = _open(cli, client, "WETH", "1", "1700", BORROWER)
    cli.ok("faucet", "--bhusd", "10000", "--account", LIQUIDATOR)
    cli.ok("pool", "pause", "WETH")
    cli.ok("oracle", "set", "WETH", "2000")  # health 2000 x 0.7 / 1700 = 0.82
    assert c.health(owner_pos).call() < WAD and c.health(other_pos).call() < WAD
    liquidate = ["liquidate", "--pool", "WETH", "--account", LIQUIDATOR, "--id"]
    assert cli.error(*liquidate, other_pos) == "cannot liquidate: pool WETH is paused"
    assert "pool: paused" in _revert_reason(
        w3, c.liquidate(other_pos, MAX_UINT, 0), dev[LIQUIDATOR]
    )
    text = cli.ok("pool", "unpause", "WETH").out
    assert "liquidations wait 1800 s" in text
    grace_end = c.controls().call()[3]
    assert grace_end == w3.eth.get_block("latest")["timestamp"] + period
    assert "grace window" in cli.error(*liquidate, other_pos)
    assert "pool: grace window" in _revert_reason(
        w3, c.liquidate(other_pos, MAX_UINT, 0), dev[LIQUIDATOR]
    )
    assert "pool: grace window" in _revert_reason(
        w3, c.liquidate_many([other_pos], MAX_UINT, 0), dev[LIQUIDATOR]
    )
    status = cli.json("status", "--pool", "WETH")["pools"][0]["controls"]
    assert status["liquidations"] == "grace" and status["grace_end"] == grace_end
    # the owner uses the window: repays enough to be safe again
    cli.ok("faucet", "--bhusd", "1000", "--account", BORROWER)
    cli.ok("position", "repay", "--pool", "WETH", "--id", owner_pos, "600", "--account", BORROWER)
    assert c.health(owner_pos).call() >= WAD
    # one second before the end: still closed; at the end: open to the position left unsafe
    _advance(w3, grace_end - w3.eth.get_block("latest")["timestamp"] - 2)
    assert "pool: grace window" in _revert_reason(
        w3, c.liquidate(other_pos, MAX_UINT, 0), dev[LIQUIDATOR]
    )
    _advance(w3, 2)
    cli.ok("oracle", "set", "WETH", "2000")  # a fresh answer: the old one is half an hour old
    bhusd = client.balance(None, dev[LIQUIDATOR])
    cli.ok(*liquidate, other_pos)
    assert client.balance(None, dev[LIQUIDATOR]) < bhusd
    assert c.health(other_pos).call() >= WAD
    # the owner who repaid in time kept the position whole
    assert c.collateral_of(owner_pos).call() == WAD


def test_stop_loss__set_by_the_owner__a_keeper_closes_below_its_price_within_its_fee(
    cli, client, w3, dev
):
    pool = client.pool("WETH")
    c = pool.contract.functions
    auto = client.automation
    pid = _open(cli, client, "WETH", "2", "2000", BORROWER)
    bonus = c.risk_params().call()[2]
    cli.ok(
        "position", "protect", "--pool", "WETH", "--id", pid, "--stop-loss", "2500",
        "--max-fee", "1%", "--account", BORROWER,
    )  # fmt: skip
    assert auto.functions.stop_loss_rule(pool.contract.address, pid).call() == (2500 * WAD, 100)
    assert (
        "close at or below 2,500.00 USD"
        in cli.ok("position", "show", "--pool", "WETH", "--id", pid).out
    )
    keeper = dev[KEEPER]
    cli.ok("faucet", "--bhusd", "5000", "--account", KEEPER)
    _send(w3, client.stablecoin.functions.approve(auto.address, MAX_UINT), keeper)
    stop = auto.functions.stop_loss(pool.contract.address, pid)
    # above its price it is not due, for anyone
    assert "automation: stop-loss not due" in _revert_reason(w3, stop, keeper)
    cli.ok("oracle", "set", "WETH", "2400")
    price = c.price().call()
    assert price == 2400 * WAD
    due = auto.functions.due(pool.contract.address, pid, 1).call()
    assert due == [(pid, 8)]
    debt = c.debt_of(pid).call()
    supply = client.stablecoin.functions.totalSupply().call()
    weth = pool.token.functions
    before = {a: weth.balanceOf(a).call() for a in (keeper, dev[BORROWER])}
    bhusd_before = client.balance(None, keeper)
    _send(w3, stop, keeper)
    got = weth.balanceOf(keeper).call() - before[keeper]
    back = weth.balanceOf(dev[BORROWER]).call() - before[dev[BORROWER]]
    paid = bhusd_before - client.balance(None, keeper)
    # the keeper paid the whole debt (it grew by at most a block's interest since it was read)
    assert debt <= paid <= debt + debt // 10**6
    assert c.debt_of(pid).call() == 0 and c.collateral_of(pid).call() == 0
    # every unit of collateral went to the keeper or back to the owner
    assert got + back == 2 * WAD
    # the keeper's collateral is worth at most the debt x (1 + fee), fee = min(1 %, bonus)
    fee = min(100, bonus)
    assert got * price <= paid * (BPS + fee) // BPS * WAD
    # and not less than that by more than a unit of rounding
    assert (got + 1) * price > paid * (BPS + fee) // BPS * WAD
    # the repaid debt left the supply: bhUSD burned equals the debt repaid
    assert supply - client.stablecoin.functions.totalSupply().call() == paid
    # the rule is spent: a second call finds nothing
    assert auto.functions.stop_loss_rule(pool.contract.address, pid).call() == (0, 0)
    assert "automation: no rule" in _revert_reason(w3, stop, keeper)
    assert Web3.to_checksum_address(c.owner_of(pid).call()) == dev[BORROWER]
