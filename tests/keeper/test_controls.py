"""The keeper on Anvil with issue 15's controls: stop-losses carried out with the right amounts
(checked by balances), their races, and pools closed to liquidations (paused, then the grace
window after the unpause) while owners' rules go on."""

from __future__ import annotations

from web3 import Web3

from bulkhead import artifacts
from bulkhead.keeper import decide
from bulkhead.keeper.prometheus import parse, render
from bulkhead.risk import BPS, WAD

from .conftest import BORROWER, GWEI, KEEPER, RIVAL, Market, Node, make_keeper, patient

PROTECTION = (int(1.5 * WAD), int(1.8 * WAD), 100)  # trigger, target [wad], fee [bps]


def _factory(node: Node):
    return node.w3.eth.contract(
        address=Web3.to_checksum_address(node.deployment.factory),
        abi=artifacts.abi("PoolFactory"),
    )


def _operator(node: Node, m: Market, owner: str) -> None:
    node.transact(owner, m.pool.functions.set_operator(node.automation.address, True))


def _stop_loss(node: Node, m: Market, owner: str, pid: int, usd: int, fee: int) -> None:
    node.transact(owner, node.automation.functions.set_stop_loss(m.address, pid, usd * WAD, fee))


def _approve_bhusd(node: Node, account: str) -> None:
    """What a keeper does before its first protection or stop-loss, done ahead: a test of a
    race holds blocks back, and the approval would wait for one."""
    fn = node.stablecoin.functions.approve(node.automation.address, 2**256 - 1)
    node.transact(account, fn)


def _events(node: Node, name: str, from_block: int) -> list:
    return list(getattr(node.automation.events, name)().get_logs(from_block=from_block))


def _balances(node: Node, m: Market, *accounts: str) -> list[tuple[int, int]]:
    """(bhUSD, collateral) of each account."""
    return [(node.bhusd(a), m.token.functions.balanceOf(a).call()) for a in accounts]


# --------------------------------------------------------------- stop-loss


def test_stop_loss__price_falls_to_the_stop__keeper_gets_debt_plus_fee_owner_the_rest(chain):
    """WBTC (8 decimals): the keeper pays the whole debt and gets at most debt x (1 + fee)
    worth of collateral at the oracle price (to the last unit), the owner's wallet the rest;
    the debt is burned and no collateral is left or lost."""
    wbtc = chain.markets["WBTC"]
    owner, keeper_address = chain.accounts[BORROWER], chain.accounts[KEEPER]
    debt = 20_000 * WAD
    (pid,) = wbtc.open_many(owner, [(wbtc.collateral_for(debt, 2.0), debt)])
    _operator(chain, wbtc, owner)
    _stop_loss(chain, wbtc, owner, pid, 56_000, 150)
    chain.give_bhusd(keeper_address, 50_000 * WAD)
    keeper, log = make_keeper(chain, KEEPER)
    start = chain.block

    wbtc.set_price(56_001)  # above the stop: nothing due
    keeper.run_until_idle()
    assert not _events(chain, "StopLoss", start) and keeper.metrics.done["stop_loss"] == 0

    wbtc.set_price(55_000)
    price = wbtc.price()
    assert price == 55_000 * WAD
    coll = wbtc.pool.functions.collateral_of(pid).call()
    debt_before = wbtc.pool.functions.debt_of(pid).call()
    supply = chain.stablecoin.functions.totalSupply().call()
    (k_bhusd, k_coll), (o_bhusd, o_coll) = _balances(chain, wbtc, keeper_address, owner)
    pool_coll = wbtc.token.functions.balanceOf(wbtc.address).call()
    keeper.run_until_idle()

    (k_bhusd2, k_coll2), (o_bhusd2, o_coll2) = _balances(chain, wbtc, keeper_address, owner)
    paid, got, back = k_bhusd - k_bhusd2, k_coll2 - k_coll, o_coll2 - o_coll
    # the whole debt, with the seconds of interest until the block, burned
    assert wbtc.pool.functions.debt_of(pid).call() == 0
    assert debt_before <= paid <= debt_before + debt_before // 10**6
    assert supply - chain.stablecoin.functions.totalSupply().call() == paid
    # the keeper: collateral worth at most paid x 1.015 at 55,000 USD, short of it by less
    # than one unit (8 decimals: 1e10 wad-units per unit)
    cap = paid * (BPS + 150) // BPS  # [wad] USD
    assert got * wbtc.scale * price <= cap * WAD < (got + 1) * wbtc.scale * price
    # the owner: the rest, in the wallet; nothing stays in the pool, nothing is lost
    assert back == coll - got and back > 0 and o_bhusd2 == o_bhusd
    assert wbtc.pool.functions.collateral_of(pid).call() == 0
    assert pool_coll - wbtc.token.functions.balanceOf(wbtc.address).call() == coll
    assert chain.automation.functions.stop_loss_rule(wbtc.address, pid).call() == (0, 0)

    [done] = [e for e in log.events("done") if e["kind"] == "stop_loss"]
    assert (done["keeper_collateral"], done["owner_collateral"], done["debt_repaid"]) == (
        got,
        back,
        paid,
    )
    m = keeper.metrics
    assert m.done["stop_loss"] == 1 and m.summary()["stop_losses"] == 1
    assert m.bounty["stop_loss"] == got * wbtc.scale * price // WAD - paid > 0
    assert not m.failures


def test_stop_loss__price_back_above_the_stop_before_it_lands__lost_race_only_gas(chain):
    weth = chain.markets["WETH"]
    owner, keeper_address = chain.accounts[BORROWER], chain.accounts[KEEPER]
    debt = 2_000 * WAD
    (pid,) = weth.open_many(owner, [(weth.collateral_for(debt, 2.0), debt)])
    _operator(chain, weth, owner)
    _stop_loss(chain, weth, owner, pid, 2_800, 100)
    chain.give_bhusd(keeper_address, 10_000 * WAD)
    _approve_bhusd(chain, keeper_address)
    keeper, log = make_keeper(chain, KEEPER, receipt_wait=0.05, priority_fee=GWEI)
    weth.set_price(2_700)
    bhusd = chain.bhusd(keeper_address)
    start = chain.block

    chain.automine(False)
    keeper.step()  # simulated on the latest block (due), sent
    assert keeper.tx.in_flight
    # the price moves back in the same block, ordered first by its higher tip
    answer = 2_900 * 10**8
    chain.send(chain.admin, weth.feed.functions.set_answer(answer), tip=5 * GWEI)
    chain.mine_all()
    chain.automine(True)
    patient(keeper)
    keeper.run_until_idle()

    assert not _events(chain, "StopLoss", start)
    assert weth.pool.functions.debt_of(pid).call() >= debt  # the position is untouched
    assert chain.automation.functions.stop_loss_rule(weth.address, pid).call()[0] > 0
    assert chain.bhusd(keeper_address) == bhusd  # the keeper lost gas, not bhUSD
    assert keeper.metrics.failures == {decide.LOST_RACE: 1}
    [reverted] = log.events("reverted")
    assert reverted["reason"] == "automation: stop-loss not due"


def test_stop_loss__another_keeper_first__the_loser_lost_race_rule_spent_once(chain):
    weth = chain.markets["WETH"]
    owner = chain.accounts[BORROWER]
    debt = 2_000 * WAD
    (pid,) = weth.open_many(owner, [(weth.collateral_for(debt, 2.0), debt)])
    _operator(chain, weth, owner)
    _stop_loss(chain, weth, owner, pid, 2_800, 100)
    for account in (KEEPER, RIVAL):
        chain.give_bhusd(chain.accounts[account], 10_000 * WAD)
        _approve_bhusd(chain, chain.accounts[account])
    a, _ = make_keeper(chain, KEEPER, receipt_wait=0.05, priority_fee=GWEI)
    b, blog = make_keeper(chain, RIVAL, receipt_wait=0.05, priority_fee=3 * GWEI)
    weth.set_price(2_700)
    start = chain.block

    chain.automine(False)  # both see the same block and both send; b's tip goes first
    a.step()
    b.step()
    chain.mine_all()
    chain.automine(True)
    patient(a, b)
    a.run_until_idle()
    b.run_until_idle()

    [event] = _events(chain, "StopLoss", start)
    assert event.args.keeper == chain.accounts[RIVAL] and event.args.id == pid
    assert b.metrics.done["stop_loss"] == 1 and a.metrics.done["stop_loss"] == 0
    assert a.metrics.failures == {decide.LOST_RACE: 1}
    assert not b.metrics.failures and blog.events("done")


# ------------------------------------------------------ pause, grace window


def _closed_pool_book(chain: Node) -> tuple[Market, list[int]]:
    """In WETH: a position liquidatable at 2,400 USD (id 0 of the list), one whose protection
    is due there (1), one whose stop-loss is (2); the keeper holds bhUSD."""
    weth = chain.markets["WETH"]
    owner = chain.accounts[BORROWER]
    chain.give_bhusd(chain.accounts[KEEPER], 50_000 * WAD)
    debt = 2_000 * WAD
    healths = (weth.healths_unsafe_at(2_400, 1)[0], 1.6, 2.5)
    ids = weth.open_many(owner, [(weth.collateral_for(debt, h), debt) for h in healths])
    _operator(chain, weth, owner)
    chain.transact(
        owner, chain.automation.functions.set_protection(weth.address, ids[1], *PROTECTION)
    )
    _stop_loss(chain, weth, owner, ids[2], 2_500, 100)
    return weth, ids


def test_keeper__paused_pool__no_liquidation_stop_loss_and_protection_still_run(chain):
    weth, ids = _closed_pool_book(chain)
    chain.transact(chain.admin, _factory(chain).functions.set_paused(weth.address, True))
    weth.set_price(2_400)
    assert weth.liquidatable() == [ids[0]]
    keeper, log = make_keeper(chain, KEEPER)
    start = chain.block
    keeper.run_until_idle()
    keeper.step()  # one more pass: still held, logged once

    assert not list(weth.pool.events.Liquidate().get_logs(from_block=start))
    assert weth.liquidatable() == [ids[0]]
    assert [e.args.id for e in _events(chain, "StopLoss", start)] == [ids[2]]
    assert [e.args.id for e in _events(chain, "AutoDeleverage", start)] == [ids[1]]
    [paused] = log.events("pool_paused")
    assert paused["pool"] == "WETH" and paused["grace_period_s"] == 1800
    assert not [e for e in log.events("skip") if e["reason"] == decide.PAUSED]
    m = keeper.metrics
    assert m.skips[decide.PAUSED] == 1 and not m.failures  # one episode, no revert
    assert m.summary()["pools"]["WETH"]["liquidations"] == "paused"
    assert parse(render(m))['bulkhead_keeper_pool_paused{pool="WETH"}'] == 1


def test_keeper__grace_window_after_unpause__liquidates_only_once_it_ends(chain):
    weth, ids = _closed_pool_book(chain)
    factory = _factory(chain).functions
    chain.transact(chain.admin, factory.set_paused(weth.address, True))
    weth.set_price(2_400)
    chain.transact(chain.admin, factory.set_paused(weth.address, False))
    grace_end = weth.pool.functions.controls().call()[3]
    keeper, log = make_keeper(chain, KEEPER)
    start = chain.block

    # in the window: no liquidation, the owners' rules run
    keeper.run_until_idle()
    keeper.step()
    assert not list(weth.pool.events.Liquidate().get_logs(from_block=start))
    assert weth.liquidatable() == [ids[0]]
    assert [e.args.id for e in _events(chain, "AutoDeleverage", start)] == [ids[1]]
    assert [e.args.id for e in _events(chain, "StopLoss", start)] == [ids[2]]
    [grace] = log.events("grace_window")  # once per window, however many passes
    now = chain.w3.eth.get_block("latest")["timestamp"]
    assert grace["pool"] == "WETH" and grace["grace_end"] == grace_end
    assert 0 < grace["seconds_left"] <= 1800 and grace_end - now <= grace["seconds_left"]
    pools = keeper.metrics.summary()["pools"]
    assert pools["WETH"]["liquidations"] == "grace_window"
    assert pools["WETH"]["grace_end"] == grace_end
    assert parse(render(keeper.metrics))['bulkhead_keeper_liquidations_open{pool="WETH"}'] == 0
    assert not log.events("liquidations_open") and not keeper.metrics.failures
    assert {c["closed"]["WETH"] for c in log.events("cycle")} == {decide.GRACE_WINDOW}

    chain.warp(grace_end - now)  # the window ends (the price is 30 min old: still fresh)
    keeper.run_until_idle()
    [liquidated] = weth.pool.events.Liquidate().get_logs(from_block=start)
    assert liquidated.args.id == ids[0] and weth.liquidatable() == []
    [opened] = log.events("liquidations_open")
    assert (opened["pool"], opened["after"]) == ("WETH", decide.GRACE_WINDOW)
    m = keeper.metrics
    assert m.done["liquidate"] == 1 and not m.failures
    # counted from when liquidations opened, not from when the position became unsafe
    assert m.blocks_to_liquidation == [1]
    assert m.summary()["pools"]["WETH"]["liquidations"] == "open"
    assert "closed" not in log.events("cycle")[-1]
