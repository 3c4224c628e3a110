"""The keeper's batched liquidations on Anvil: one `liquidate_many` per pool and pass, a rival
taking part of a batch, every position of a batch taken before it is simulated, and batch
size 1 (one `liquidate` per position)."""

from __future__ import annotations

from web3 import Web3
from web3.logs import DISCARD

from bulkhead.keeper import decide, planning
from bulkhead.risk import WAD

from .conftest import BORROWER, GWEI, KEEPER, RIVAL, Market, Node, make_keeper, patient

CRASH = 2_100  # [USD] WETH falls to this from 3,000


def _book(node: Node, unsafe: int, safe: int = 3) -> tuple[list[int], list[int]]:
    """`unsafe` WETH positions the crash makes liquidatable and `safe` that stay healthy."""
    weth = node.markets["WETH"]
    price = weth.price()
    healths = [*weth.healths_unsafe_at(CRASH, unsafe), *([2.5] * safe)]
    debts = [(500 + 37 * i) * WAD for i in range(len(healths))]
    ids = weth.open_many(
        node.accounts[BORROWER],
        [(weth.collateral_for(d, h, price), d) for d, h in zip(debts, healths)],
    )
    return ids[:unsafe], ids[unsafe:]


def _selector(market: Market, name: str) -> str:
    fn = market.pool.get_function_by_name(name)
    return Web3.keccak(text=f"{name}({','.join(i['type'] for i in fn.abi['inputs'])})")[:4].hex()


def _keeper_txs(node: Node, address: str, from_block: int) -> list[dict]:
    """Every transaction `address` sent in blocks after `from_block`."""
    out = []
    for n in range(from_block + 1, node.block + 1):
        block = node.w3.eth.get_block(n, full_transactions=True)
        out += [tx for tx in block.transactions if tx["from"] == address]
    return out


def test_crash__40_positions_one_pool__all_liquidated_in_one_liquidate_many(chain):
    weth = chain.markets["WETH"]
    unsafe, safe = _book(chain, 40)
    keeper_address = chain.accounts[KEEPER]
    own = chain.give_bhusd(keeper_address, 200_000 * WAD)
    keeper, log = make_keeper(chain, KEEPER)
    bhusd_before = chain.bhusd(keeper_address)
    weth_before = weth.token.functions.balanceOf(keeper_address).call()
    weth.set_price(CRASH)
    crash_block = chain.block
    assert set(weth.liquidatable()) == set(unsafe)

    keeper.run_until_idle()

    (tx,) = _keeper_txs(chain, keeper_address, crash_block)
    assert bytes(tx["input"])[:4].hex() == _selector(weth, "liquidate_many")
    receipt = chain.w3.eth.get_transaction_receipt(tx["hash"])
    assert receipt["status"] == 1 and receipt["blockNumber"] == crash_block + 1
    events = weth.pool.events.Liquidate().process_receipt(receipt, errors=DISCARD)
    assert sorted(e.args.id for e in events) == sorted(unsafe)  # every one, once
    assert all(e.args.liquidator == keeper_address for e in events)
    updated = weth.pool.events.PositionUpdated().process_receipt(receipt, errors=DISCARD)
    assert sorted(e.args.id for e in updated) == sorted(unsafe)  # nothing healthy touched
    assert weth.liquidatable() == []
    assert own not in {e.args.id for e in events} and not set(safe) & {e.args.id for e in events}
    # the keeper burned exactly what the events say it paid and got their collateral
    assert bhusd_before - chain.bhusd(keeper_address) == sum(e.args.paid for e in events)
    assert weth.token.functions.balanceOf(keeper_address).call() - weth_before == sum(
        e.args.collateral_out for e in events
    )

    m = keeper.metrics
    assert m.done["liquidate"] == 40 and m.txs_sent == 1
    assert m.pool_done[("WETH", "liquidate")] == 40
    assert m.blocks_to_liquidation == [1] * 40
    assert not m.failures
    (sent,) = log.events("sent")
    assert sent["kind"] == "liquidate_many" and sorted(sent["ids"]) == sorted(unsafe)
    assert sent["size"] == 40
    done = log.events("done")
    assert sorted(e["id"] for e in done) == sorted(unsafe)
    assert {e["batch"] for e in done} == {40}
    price = weth.price()
    assert m.bounty["liquidate"] == sum(
        e.args.collateral_out * price // WAD - e.args.paid for e in events
    )
    # the gas per position of a batch, learned from the receipt, stays near its measure
    assert keeper.gas["liquidate_many_each"] < decide.DEFAULT_GAS["liquidate_many_each"]
    summary = m.summary()
    assert summary["liquidations"] == 40 and summary["txs_sent"] == 1


def test_batch_size_limit__40_positions_in_batches_of_16__three_transactions(chain):
    weth = chain.markets["WETH"]
    unsafe, _safe = _book(chain, 40, safe=0)
    chain.give_bhusd(chain.accounts[KEEPER], 200_000 * WAD)
    keeper, log = make_keeper(chain, KEEPER, batch_size=16)
    weth.set_price(CRASH)
    crash_block = chain.block
    keeper.run_until_idle()

    txs = _keeper_txs(chain, chain.accounts[KEEPER], crash_block)
    assert len(txs) == 3
    assert sorted(e["size"] for e in log.events("sent")) == [8, 16, 16]
    events = weth.pool.events.Liquidate().get_logs(from_block=crash_block + 1)
    assert sorted(e.args.id for e in events) == sorted(unsafe)
    assert keeper.metrics.done["liquidate"] == 40 and keeper.metrics.txs_sent == 3


def test_rival_takes_part_of_a_batch__the_rest_liquidated__lost_race_per_position(chain):
    weth = chain.markets["WETH"]
    unsafe, _safe = _book(chain, 12)
    keeper_address, rival = chain.accounts[KEEPER], chain.accounts[RIVAL]
    chain.give_bhusd(keeper_address, 100_000 * WAD)
    chain.give_bhusd(rival, 100_000 * WAD)
    keeper, log = make_keeper(chain, KEEPER, receipt_wait=0.05, priority_fee=GWEI)
    bhusd_before = chain.bhusd(keeper_address)
    weth.set_price(CRASH)
    start = chain.block

    chain.automine(False)
    keeper.step()  # simulated with all 12 and sent; not mined yet
    (pending,) = keeper.tx.in_flight.values()
    assert sorted(pending.payload.ids) == sorted(unsafe)
    taken = unsafe[::4]  # the rival outbids the keeper for three of them
    for pid in taken:
        chain.send(rival, weth.pool.functions.liquidate(pid, 10**24, 0), tip=5 * GWEI)
    chain.mine()
    chain.automine(True)
    patient(keeper)
    keeper.run_until_idle()

    events = weth.pool.events.Liquidate().get_logs(from_block=start + 1)
    assert sorted(e.args.id for e in events) == sorted(unsafe)  # each exactly once
    by_rival = {e.args.id for e in events if e.args.liquidator == rival}
    by_keeper = [e for e in events if e.args.liquidator == keeper_address]
    assert by_rival == set(taken)
    assert sorted(e.args.id for e in by_keeper) == sorted(set(unsafe) - set(taken))
    assert len({e.transactionHash for e in by_keeper}) == 1  # in the one batch
    assert weth.liquidatable() == []
    m = keeper.metrics
    assert m.done["liquidate"] == 9 and m.failures == {"lost_race": 3}
    assert m.txs_sent == 1  # nothing sent again
    (skipped,) = log.events("batch_skipped")
    assert sorted(skipped["skipped"]) == sorted(taken) and skipped["bucket"] == "lost_race"
    assert bhusd_before - chain.bhusd(keeper_address) == sum(e.args.paid for e in by_keeper)


def test_every_position_of_a_batch_taken_before_simulation__lost_race_nothing_sent(chain):
    weth = chain.markets["WETH"]
    unsafe, _safe = _book(chain, 4)
    keeper_address, rival = chain.accounts[KEEPER], chain.accounts[RIVAL]
    chain.give_bhusd(keeper_address, 50_000 * WAD)
    chain.give_bhusd(rival, 50_000 * WAD)
    keeper, log = make_keeper(chain, KEEPER)
    weth.set_price(CRASH)
    chain.mine()
    # the keeper's discovery and plan see all four; the rival liquidates them before the
    # keeper simulates its batch
    keeper.logs.sync(keeper.index, chain.block)
    scan = keeper._discover()
    quote = keeper.tx.quote()
    the_plan = planning.plan(
        scan.due,
        scan.states,
        keeper._positions(scan.due),
        {},
        scan.bhusd,
        {},
        keeper._costs(quote),
        batch_size=keeper._batch_size(),
    )
    (batch,) = the_plan.batches
    assert sorted(batch.ids) == sorted(unsafe)
    for pid in unsafe:
        chain.transact(rival, weth.pool.functions.liquidate(pid, 10**24, 0))
    nonce = chain.w3.eth.get_transaction_count(keeper_address)

    sent, _late = keeper._execute(the_plan, (quote[1], quote[2]), {})

    assert sent == 0 and chain.w3.eth.get_transaction_count(keeper_address) == nonce
    assert keeper.metrics.failures == {"lost_race": 4}
    (failed,) = log.events("simulation_failed")
    assert failed["reason"] == "pool: nothing to liquidate" and failed["bucket"] == "lost_race"


def test_batch_size_1__one_liquidate_per_position(chain):
    weth = chain.markets["WETH"]
    unsafe, _safe = _book(chain, 3)
    keeper_address = chain.accounts[KEEPER]
    chain.give_bhusd(keeper_address, 50_000 * WAD)
    # (judged stuck by blocks only: a machine stalled for seconds must not look like a stuck
    # transaction here)
    keeper, log = make_keeper(chain, KEEPER, batch_size=1, stuck_seconds=600)
    weth.set_price(CRASH)
    crash_block = chain.block
    keeper.run_until_idle()

    txs = _keeper_txs(chain, keeper_address, crash_block)
    assert len(txs) == 3, [(e["event"], e.get("nonce"), e.get("reason")) for e in log.events()]
    assert {tx["to"] for tx in txs} == {weth.address}
    assert {bytes(tx["input"])[:4].hex() for tx in txs} == {_selector(weth, "liquidate")}
    assert sorted(e["id"] for e in log.events("sent")) == sorted(unsafe)
    assert {e["kind"] for e in log.events("sent")} == {"liquidate"}
    assert keeper.metrics.done["liquidate"] == 3 and keeper.metrics.txs_sent == 3
    assert weth.liquidatable() == []
