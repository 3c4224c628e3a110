"""The keeper against a market crash on Anvil: 200 positions over three pools, protections
of every kind, a 30 % fall of every price. Speed is measured in bench/scan.py and
bench/reaction.py."""

from __future__ import annotations

import random

from bulkhead.risk import WAD

from .conftest import BORROWER, GWEI, KEEPER, RIVAL, Market, Node, make_keeper, patient

CRASH = 0.70
SAFE_AFTER_CRASH = 1 / CRASH  # health at or above this before the crash stays >= 1.0
COUNTS = {"WETH": 100, "WBTC": 50, "VOL": 50}
DELEVERAGE = (int(1.5 * WAD), int(1.8 * WAD), 100)  # trigger, target [wad], fee [bps]
TOP_UP = (int(1.5 * WAD), int(1.7 * WAD), 50)
BOOST = (int(2.5 * WAD), int(1.6 * WAD), 50)


def _healths(m: Market, n: int, rng: random.Random) -> list[float]:
    """Healths from just above max LTV to 2.0, none within 0.02 of the crash boundary."""
    p = m.pool.functions.risk_params().call()
    low = p[1] / p[0] + 0.02  # threshold / max ltv
    out = []
    while len(out) < n:
        h = rng.uniform(low, 2.0)
        if abs(h - SAFE_AFTER_CRASH) > 0.02:
            out.append(h)
    return out


def _open_book(node: Node, owner: str, rng: random.Random) -> dict[str, dict]:
    """Open the 200 positions and set rules: every 10th + 1 deleverage, + 3 top-up, + 5 boost.

    Protected positions sit between their trigger and the crash boundary: each rule becomes
    due with the crash and none of them is liquidatable."""
    book = {}
    rule_calls = []
    for name, n in COUNTS.items():
        m = node.markets[name]
        healths = _healths(m, n, rng)
        debts = [rng.randrange(500, 5_000) * WAD for _ in range(n)]
        for i in range(n):
            if i % 10 in (1, 3):  # protected: safe now, under the trigger after the crash
                healths[i] = rng.uniform(1.55, 2.1)
            elif i % 10 == 5:
                healths[i] = rng.uniform(4.0, 5.0)  # a boost is due at once
        price = m.price()
        ids = m.open_many(
            owner, [(m.collateral_for(d, h, price), d) for d, h in zip(debts, healths)]
        )
        rules = {"deleverage": [], "top_up": [], "boost": []}
        for i, pid in enumerate(ids):
            if i % 10 == 1:
                rules["deleverage"].append(pid)
                rule_calls.append(
                    (owner, node.automation.functions.set_protection(m.address, pid, *DELEVERAGE))
                )
            elif i % 10 == 3:
                rules["top_up"].append(pid)
                allowance = m.collateral_for(debts[i], 3.0, price)
                rule_calls.append(
                    (
                        owner,
                        node.automation.functions.set_top_up(m.address, pid, *TOP_UP, allowance),
                    )
                )
            elif i % 10 == 5:
                rules["boost"].append(pid)
                rule_calls.append(
                    (owner, node.automation.functions.set_boost(m.address, pid, *BOOST))
                )
        # the owner's wallet funds top-ups; the automation borrows as the owner's operator
        m.fund(owner, m.collateral_for(sum(debts), 3.0, price), spender=node.automation.address)
        rule_calls.append((owner, m.pool.functions.set_operator(node.automation.address, True)))
        book[name] = {"ids": ids, "rules": rules}
    node.batch(rule_calls)
    return book


def _due(node: Node, m: Market) -> dict[str, set[int]]:
    count = m.pool.functions.position_count().call()
    due = node.automation.functions.due(m.address, 1, count).call()  # (id, rule bits)
    return {
        "liquidate": set(m.pool.functions.positions_to_liquidate(1, count).call()),
        "deleverage": {pid for pid, rules in due if rules & 1},
        "top_up": {pid for pid, rules in due if rules & 4},
        "boost": {pid for pid, rules in due if rules & 2},
    }


def _events(m: Market, node: Node, from_block: int) -> dict[str, list[int]]:
    pool_events, auto = m.pool.events, node.automation.events
    return {
        "liquidate": [e.args.id for e in pool_events.Liquidate().get_logs(from_block=from_block)],
        "deleverage": [
            e.args.id
            for e in auto.AutoDeleverage().get_logs(from_block=from_block)
            if e.args.pool == m.address
        ],
        "top_up": [
            e.args.id
            for e in auto.TopUp().get_logs(from_block=from_block)
            if e.args.pool == m.address
        ],
        "boost": [
            e.args.id
            for e in auto.Boost().get_logs(from_block=from_block)
            if e.args.pool == m.address
        ],
        "updated": [
            e.args.id for e in pool_events.PositionUpdated().get_logs(from_block=from_block)
        ],
    }


def _fund_keeper(node: Node, account: str, bhusd: int) -> int:
    own = node.give_bhusd(account, bhusd)
    for m in node.markets.values():  # collateral to supply in boosts (the keeper approves it)
        m.fund(account, m.collateral_for(200_000 * WAD, 1.0))
    return own


def test_crash__200_positions__every_unsafe_liquidated_every_due_protection_done_healthy_untouched(
    chain,
):
    owner = chain.accounts[BORROWER]
    book = _open_book(chain, owner, random.Random(2024))
    assert sum(len(b["ids"]) for b in book.values()) == 200
    keeper_address = chain.accounts[KEEPER]
    own = _fund_keeper(chain, keeper_address, 1_500_000 * WAD)
    keeper, _log = make_keeper(chain, KEEPER)

    # before the crash: only the boosts are due, and the keeper does every one of them
    before = chain.block
    due_before = {name: _due(chain, chain.markets[name]) for name in book}
    keeper.run_until_idle()
    for name, b in book.items():
        m = chain.markets[name]
        assert due_before[name]["boost"] == set(b["rules"]["boost"])
        assert not due_before[name]["liquidate"]
        events = _events(m, chain, before + 1)
        assert sorted(events["boost"]) == sorted(b["rules"]["boost"])
        assert not events["liquidate"]

    # the crash
    for name in book:
        m = chain.markets[name]
        m.set_price(m.price() / WAD * CRASH)
    crash_block = chain.block
    due = {name: _due(chain, chain.markets[name]) for name in book}
    assert sum(len(d["liquidate"]) for d in due.values()) > 40
    assert all(d["deleverage"] and d["top_up"] for d in due.values())
    keeper.run_until_idle()

    for name, b in book.items():
        m = chain.markets[name]
        after = _due(chain, m)
        assert after == {
            "liquidate": set(),
            "deleverage": set(),
            "top_up": set(),
            "boost": set(),
        }, name
        events = _events(m, chain, crash_block + 1)
        # every unsafe position liquidated, once
        assert sorted(events["liquidate"]) == sorted(due[name]["liquidate"]), name
        # every due protection carried out, once
        for kind in ("deleverage", "top_up"):
            assert due[name][kind] == set(b["rules"][kind])
            assert sorted(events[kind]) == sorted(due[name][kind]), (name, kind)
        assert not events["boost"]
        # no healthy position touched
        touched = set(events["updated"])
        assert touched == due[name]["liquidate"] | due[name]["deleverage"] | due[name]["top_up"]
        assert own not in touched or name != "WETH"

    m = keeper.metrics
    assert m.done["liquidate"] == sum(len(d["liquidate"]) for d in due.values())
    assert m.done["deleverage"] == sum(len(d["deleverage"]) for d in due.values())
    assert m.done["top_up"] == sum(len(d["top_up"]) for d in due.values())
    # no failures and no skips: each step waits for its own receipts (make_keeper), so no
    # pass finds its own transaction still pending, however slow the machine mines
    assert not m.failures and not m.skips
    pools = m.summary()["pools"]
    for name in book:
        assert pools[name]["liquidate"] == len(due[name]["liquidate"])
        assert pools[name]["boost"] == len(book[name]["rules"]["boost"])
        assert pools[name]["bounty_usd"] > 0
    assert m.bounty["liquidate"] > 0 and m.gas_spent > 0
    assert len(m.blocks_to_liquidation) == m.done["liquidate"]


def test_two_keepers__each_position_handled_once__the_loser_only_loses_gas(chain):
    weth = chain.markets["WETH"]
    owner = chain.accounts[BORROWER]
    rng = random.Random(7)
    specs = []
    price = weth.price()
    unsafe_healths = weth.healths_unsafe_at(2_100, 12)
    for i in range(40):
        debt = rng.randrange(500, 5_000) * WAD
        # 32 unsafe after the crash, 8 safe
        health = unsafe_healths[i % 12] if i % 5 else 2.5
        specs.append((weth.collateral_for(debt, health, price), debt))
    ids = weth.open_many(owner, specs)
    first, second = chain.accounts[KEEPER], chain.accounts[RIVAL]
    own = {chain.give_bhusd(first, 500_000 * WAD), chain.give_bhusd(second, 500_000 * WAD)}
    a, _ = make_keeper(chain, KEEPER, receipt_wait=0.05, priority_fee=GWEI)
    # b takes only the larger bounties, and outbids a for them
    b, _blog = make_keeper(
        chain, RIVAL, receipt_wait=0.05, priority_fee=3 * GWEI, min_profit=100 * WAD
    )
    start = {k: (chain.bhusd(k), chain.w3.eth.get_balance(k)) for k in (first, second)}
    weth.set_price(2_100)
    crash_block = chain.block
    unsafe = set(weth.liquidatable())
    assert len(unsafe) == 32

    chain.automine(False)  # both see the same block and both send
    a.step()
    b.step()
    assert a.tx.in_flight and b.tx.in_flight
    chain.mine_all()
    chain.automine(True)
    patient(a, b)
    for _ in range(5):
        a.step()
        b.step()

    events = weth.pool.events.Liquidate().get_logs(from_block=crash_block + 1)
    assert sorted(e.args.id for e in events) == sorted(unsafe)  # each exactly once
    assert weth.liquidatable() == []
    assert not {e.args.id for e in events} - set(ids) - own
    assert a.metrics.done["liquidate"] + b.metrics.done["liquidate"] == len(unsafe)
    assert b.metrics.done["liquidate"] > 0 and a.metrics.done["liquidate"] > 0
    assert a.metrics.failures["lost_race"] > 0  # a sent, b's higher tip went first
    for keeper, address in ((a, first), (b, second)):
        mine = [e for e in events if e.args.liquidator == address]
        assert len(mine) == keeper.metrics.done["liquidate"]
        assert set(keeper.metrics.failures) <= {"lost_race"}
        bhusd, eth = start[address]
        # what a keeper paid is exactly what its own liquidations burned, and its ether only
        # went to gas: a lost race costs gas and nothing else
        assert bhusd - chain.bhusd(address) == sum(e.args.paid for e in mine)
        assert eth - chain.w3.eth.get_balance(address) == keeper.metrics.gas_spent
