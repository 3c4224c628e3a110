"""Faults the keeper survives, one test each, on a real Anvil."""

from __future__ import annotations

import threading
import time

from web3.exceptions import TransactionNotFound

from bulkhead.eth.fees import BUMP_DEN, BUMP_NUM
from bulkhead.eth.rpc import Rpc
from bulkhead.keeper import NodeSigner, run_keeper
from bulkhead.keeper.tx import TxManager, TxRequest
from bulkhead.node import Anvil
from bulkhead.risk import WAD

from .conftest import (
    BORROWER,
    GWEI,
    KEEPER,
    OUTSIDER,
    PATIENCE,
    RIVAL,
    Node,
    make_keeper,
    patient,
)

DEBT = 2_000 * WAD
CRASH = 2_100  # [USD] WETH falls to this from 3,000


def _weth_positions(node: Node, unsafe: int = 3, safe=(2.0, 3.0)) -> list[int]:
    """`unsafe` positions that the crash makes liquidatable, then one per health in `safe`
    (each above 1 / 0.7, so healthy after the crash)."""
    weth = node.markets["WETH"]
    owner = node.accounts[BORROWER]
    price = weth.price()
    healths = [*weth.healths_unsafe_at(CRASH, unsafe), *safe]
    return weth.open_many(owner, [(weth.collateral_for(DEBT, h, price), DEBT) for h in healths])


def _liquidate_events(node: Node, market, from_block: int) -> list:
    return market.pool.events.Liquidate().get_logs(from_block=from_block)


def _wait_for(predicate, what: str) -> None:
    """Until `predicate()` holds; PATIENCE is only a ceiling against a hang."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001, S110 - a call racing a block on a pruning node
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_node_restart__unsafe_while_down__reconnects_and_liquidates_all(tmp_path):
    state = tmp_path / "anvil-state.json"
    anvil = Anvil(accounts=12, state=state).start()
    thread = None
    stop = threading.Event()
    try:
        node = Node(anvil)
        weth = node.markets["WETH"]
        ids = _weth_positions(node)
        node.give_bhusd(node.accounts[KEEPER], 50_000 * WAD)
        # a step returns only once it has counted its receipts, so when nothing is left
        # liquidatable and the thread has stopped, every liquidation is in the metrics (a
        # 2 s receipt wait let a loaded machine stop the thread before the count)
        keeper, log = make_keeper(node, KEEPER)
        thread = threading.Thread(
            target=run_keeper,
            args=(keeper,),
            kwargs={"poll_interval": 0.05, "stop": stop, "max_backoff": 0.4},
        )
        thread.start()
        _wait_for(lambda: keeper.metrics.cycles >= 1, "a first cycle")

        anvil.stop()  # SIGTERM: anvil writes its state
        # while the keeper cannot reach its node, the chain moves on (a second node on the same
        # state): more positions are opened, and the price falls
        side = Node(Anvil(accounts=12, state=state).start(), node.deployment)
        try:
            later = _weth_positions(side, unsafe=2, safe=())
            side.markets["WETH"].set_price(CRASH)
            unsafe = set(side.markets["WETH"].liquidatable())
        finally:
            side.anvil.stop()
        assert unsafe == {ids[0], ids[1], ids[2], *later}
        _wait_for(lambda: len(log.events("node_unreachable")) >= 3, "the keeper to notice")

        restarted = Anvil(port=anvil.port, accounts=12, state=state).start()
        anvil = restarted
        node = Node(restarted, node.deployment)
        _wait_for(lambda: not node.markets["WETH"].liquidatable(), "every liquidation")
        liquidated = {
            e.args.id for e in _liquidate_events(node, weth, node.deployment.deploy_block)
        }
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=PATIENCE)
        anvil.stop()

    assert liquidated == unsafe
    assert keeper.metrics.reconnects >= 1
    assert keeper.metrics.done["liquidate"] == len(unsafe)
    waits = [e["retry_in_s"] for e in log.events("node_unreachable")]
    assert waits[:3] == [0.25, 0.4, 0.4]  # back-off doubles up to its cap
    assert log.events("reconnected")


def test_nonce_used_outside__keeper_resyncs_and_liquidates(chain):
    ids = _weth_positions(chain)
    keeper_address = chain.accounts[KEEPER]
    chain.give_bhusd(keeper_address, 50_000 * WAD)
    # one `liquidate` per position: three transactions at consecutive nonces after the resync
    keeper, log = make_keeper(chain, KEEPER, batch_size=1)
    keeper.step()
    ours = keeper.tx.next_nonce
    for _ in range(3):  # someone uses the keeper's account by hand
        chain.w3.eth.wait_for_transaction_receipt(
            chain.w3.eth.send_transaction({"from": keeper_address, "to": chain.admin, "value": 1})
        )
    chain.markets["WETH"].set_price(CRASH)
    keeper.run_until_idle()

    assert chain.markets["WETH"].liquidatable() == []
    assert keeper.metrics.done["liquidate"] == 3
    assert keeper.metrics.nonce_resyncs == 1
    assert [e["nonce"] for e in log.events("sent")] == [ours + 3, ours + 4, ours + 5]
    assert not keeper.metrics.failures
    assert ids


def test_nonce_taken_between_sync_and_send__send_retries_at_the_next_nonce(chain):
    account = chain.accounts[OUTSIDER]
    tx = TxManager(Rpc(chain.w3.provider), NodeSigner(account), chain.deployment.chain_id)
    tx.sync_nonce()
    stale = tx.next_nonce
    chain.w3.eth.wait_for_transaction_receipt(
        chain.w3.eth.send_transaction({"from": account, "to": chain.admin, "value": 1})
    )
    pending = tx.send(TxRequest(chain.admin, "0x", 21_000, "transfer"))

    assert pending.nonce == stale + 1
    assert tx.counters["nonce_resyncs"] == 1
    (outcome,) = tx.poll()
    assert outcome.status == "mined"


def test_pending_tx_replaced_from_outside__counted_dropped_then_redone(chain):
    (pid, *_) = _weth_positions(chain, unsafe=1, safe=(2.0,))
    keeper_address = chain.accounts[KEEPER]
    chain.give_bhusd(keeper_address, 50_000 * WAD)
    keeper, log = make_keeper(chain, KEEPER, receipt_wait=0.1)
    chain.markets["WETH"].set_price(CRASH)
    chain.automine(False)
    keeper.step()
    (ours,) = keeper.tx.in_flight.values()
    # the same nonce, sent by hand with a higher fee, takes the keeper's place
    chain.w3.eth.send_transaction(
        {
            "from": keeper_address,
            "to": chain.admin,
            "value": 1,
            "nonce": ours.nonce,
            "gas": 21_000,
            "maxFeePerGas": 300 * GWEI,
            "maxPriorityFeePerGas": 50 * GWEI,
        }
    )
    chain.mine()
    chain.automine(True)
    patient(keeper)
    keeper.run_until_idle()

    assert keeper.metrics.failures["dropped"] == 1
    assert keeper.metrics.done["liquidate"] == 1
    assert chain.markets["WETH"].liquidatable() == []
    assert [e["id"] for e in log.events("sent")] == [pid, pid]


def test_stuck_transaction__bumped_by_12_5_percent_within_cap__mined_once(chain):
    (pid, *_) = _weth_positions(chain, unsafe=1, safe=(2.0,))
    chain.give_bhusd(chain.accounts[KEEPER], 50_000 * WAD)
    weth = chain.markets["WETH"]
    weth.set_price(CRASH)
    start = chain.block
    chain.automine(False)
    base = chain.w3.eth.get_block("latest")["baseFeePerGas"]
    first_max = 2 * base + GWEI
    cap = first_max * 12 // 10  # room for one bump (x1.125) but not two (x1.266)
    keeper, log = make_keeper(
        chain, KEEPER, receipt_wait=0.05, stuck_seconds=0.2, max_fee=cap, priority_fee=GWEI
    )
    keeper.step()
    (pending,) = keeper.tx.in_flight.values()
    for _ in range(3):
        time.sleep(0.25)
        keeper.step()
    assert len(pending.hashes) == 2  # one replacement; the cap stopped the second
    bumps = log.events("fee_bump")
    assert len(bumps) == 1
    assert bumps[0]["max_fee"] * BUMP_DEN >= bumps[0]["old_max_fee"] * BUMP_NUM
    assert bumps[0]["max_fee"] <= cap
    assert keeper.metrics.fee_capped >= 1
    assert weth.liquidatable() == [pid]  # nothing mined while automine is off

    chain.automine(True)  # mines what is pending
    chain.mine()
    patient(keeper)
    keeper.run_until_idle()
    assert keeper.metrics.done["liquidate"] == 1
    assert [e.args.id for e in _liquidate_events(chain, weth, start)] == [pid]
    mined = [h for h in pending.hashes if _receipt(chain, h)]
    assert mined == [pending.hashes[-1]]  # the replacement, not the original
    assert weth.liquidatable() == []


def _receipt(node: Node, tx_hash: str):
    try:
        return node.w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return None


def test_rival_liquidates_first__keeper_reverts__lost_race_counted_not_retried(chain):
    (pid, *_) = _weth_positions(chain, unsafe=1, safe=(2.0,))
    keeper_address, rival = chain.accounts[KEEPER], chain.accounts[RIVAL]
    chain.give_bhusd(keeper_address, 50_000 * WAD)
    chain.give_bhusd(rival, 50_000 * WAD)
    weth = chain.markets["WETH"]
    weth.set_price(CRASH)
    start = chain.block
    keeper, log = make_keeper(chain, KEEPER, receipt_wait=0.05, priority_fee=GWEI)
    bhusd_before = chain.bhusd(keeper_address)
    chain.automine(False)
    keeper.step()  # simulated fine and sent; not mined yet
    chain.send(rival, weth.pool.functions.liquidate(pid, 10**24, 0), tip=5 * GWEI)  # outbids
    chain.mine()
    chain.automine(True)
    patient(keeper)
    keeper.run_until_idle()

    assert keeper.metrics.failures == {"lost_race": 1}
    assert keeper.metrics.done["liquidate"] == 0
    assert len(log.events("sent")) == 1  # not sent again
    (event,) = _liquidate_events(chain, weth, start)
    assert event.args.liquidator == rival
    assert chain.bhusd(keeper_address) == bhusd_before  # the loser only loses gas
    assert keeper.metrics.gas_spent > 0
    (reverted,) = log.events("reverted")
    assert reverted["reason"] in ("pool: position is healthy", "pool: no debt")


def test_stuck_and_outbid__keeper_cancels_instead_of_bumping(chain):
    (pid, *_) = _weth_positions(chain, unsafe=1, safe=(2.0,))
    keeper_address, rival = chain.accounts[KEEPER], chain.accounts[RIVAL]
    chain.give_bhusd(keeper_address, 50_000 * WAD)
    chain.give_bhusd(rival, 50_000 * WAD)
    weth = chain.markets["WETH"]
    weth.set_price(CRASH)
    keeper, log = make_keeper(chain, KEEPER, receipt_wait=0.05, priority_fee=GWEI, stuck_blocks=1)
    eth_before = chain.w3.eth.get_balance(keeper_address)
    chain.automine(False)
    keeper.step()
    (pending,) = keeper.tx.in_flight.values()
    # the base fee jumps above the keeper's max fee; a rival pays it and liquidates first
    chain.rpc("anvil_setNextBlockBaseFeePerGas", hex(pending.tx["maxFeePerGas"] * 4))
    chain.send(rival, weth.pool.functions.liquidate(pid, 10**24, 0), tip=5 * GWEI)
    chain.mine()
    keeper.step()  # stuck one block; simulating it again fails: replaced by a self-transfer
    assert log.events("cancel")
    chain.mine()
    chain.automine(True)
    patient(keeper)
    keeper.run_until_idle()

    assert keeper.metrics.failures == {"lost_race": 1}
    assert keeper.metrics.cancels == 1
    (receipt,) = [r for r in (_receipt(chain, h) for h in pending.hashes) if r]
    assert receipt["gasUsed"] == 21_000 and receipt["to"] == keeper_address
    spent = eth_before - chain.w3.eth.get_balance(keeper_address)
    assert spent == keeper.metrics.gas_spent == 21_000 * receipt["effectiveGasPrice"]


def test_oracle_stale__no_liquidation_no_crash__then_resumes(chain):
    ids = _weth_positions(chain)
    chain.give_bhusd(chain.accounts[KEEPER], 50_000 * WAD)
    weth = chain.markets["WETH"]
    weth.set_price(CRASH)
    chain.warp(3_700)  # past the heartbeat: every feed is stale
    keeper, log = make_keeper(chain, KEEPER)
    for _ in range(3):
        report = keeper.step()
        assert report.sent == 0 and report.due["liquidate"] == 0
        assert report.skips == {"oracle_invalid": 3}
    assert keeper.metrics.done["liquidate"] == 0
    assert keeper.metrics.skips["oracle_invalid"] == 3  # once per pool, not once per block
    assert {e["detail"] for e in log.events("skip")} == {"stale price"}
    assert weth.pool.functions.price_status().call()[1] == 4

    weth.set_price(CRASH)  # a fresh answer
    keeper.run_until_idle()
    assert keeper.metrics.done["liquidate"] == 3
    assert ids and weth.liquidatable() == []


def test_bhusd_balance_too_small__skips_and_reports__partial_where_the_pool_allows(chain):
    weth = chain.markets["WETH"]
    owner = chain.accounts[BORROWER]
    small_debt, large_debt = 120 * WAD, 2_000 * WAD
    # health 1.35 falls to 0.945 at 2,100: unhealthy, but the collateral still covers a partial
    small, large = weth.open_many(
        owner,
        [
            (weth.collateral_for(small_debt, 1.35), small_debt),
            (weth.collateral_for(large_debt, 1.35), large_debt),
        ],
    )
    keeper_address = chain.accounts[KEEPER]
    chain.give_bhusd(chain.accounts[OUTSIDER], 1_000 * WAD)
    chain.transact(
        chain.accounts[OUTSIDER], chain.stablecoin.functions.transfer(keeper_address, 40 * WAD)
    )
    weth.set_price(CRASH)
    keeper, log = make_keeper(chain, KEEPER)
    keeper.step()
    # 40 bhUSD cannot leave the 120 debt at or above the 100 minimum: skipped and reported;
    # the 2,000 debt can take a partial liquidation paid with the whole balance
    skips = [e for e in log.events("skip") if e["reason"] == "insufficient_bhusd"]
    assert [e["id"] for e in skips] == [small]
    (done,) = log.events("done")
    assert done["id"] == large
    (sent,) = log.events("sent")
    assert sent["partial"] is True and sent["amount"] == 40 * WAD
    assert chain.bhusd(keeper_address) < WAD

    for _ in range(3):  # nothing left to pay with: both skipped, each reported once
        assert keeper.step().sent == 0
    skips = [e for e in log.events("skip") if e["reason"] == "insufficient_bhusd"]
    assert [e["id"] for e in skips] == [small, large]
    assert keeper.metrics.summary()["skips"]["insufficient_bhusd"] == 2
    assert set(weth.liquidatable()) == {small, large}
