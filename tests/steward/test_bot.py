"""The issue's check on a fresh Anvil: the steward bot raises the haircut after a volatile
price path and never exceeds its limits; and it lowers it again after calm. Prices move
one round at a time through the mock feed, the clock through `evm_increaseTime`, and the
bot runs as users run it: `bulkhead steward run --once`, from the steward's dev account."""

from __future__ import annotations

import random

from tests.steward.conftest import STEWARD

POOL = "WETH"


def volatile_hour(chain, rng: random.Random, price: float, rounds: int = 4) -> float:
    """`rounds` moves of +-8 % (about 750 % a year at this pace) spread over an hour."""
    for _ in range(rounds):
        chain.warp(3_600 // rounds)
        price *= 1.08 if rng.random() < 0.5 else 1 / 1.08
        chain.set_price(POOL, price)
    return price


def calm_hour(chain, price: float, k: int) -> None:
    """One round an hour, 0.1 % up or down (about 9 % a year)."""
    chain.warp(3_600)
    chain.set_price(POOL, price * (1.001 if k % 2 else 1.0))


def weth_decision(lines: list[dict]) -> dict:
    (line,) = [x for x in lines if x["event"] == "decision" and x["pool"] == POOL]
    return line


def test_run_once__volatile_path_then_calm__haircut_rises_a_step_a_cooldown_then_falls_to_zero(
    fresh,
):
    chain = fresh
    rules = chain.rules(POOL)
    ceiling, step, cooldown = rules["max_haircut"], rules["max_step"], rules["cooldown"]
    assert (ceiling, step, cooldown) == (3_000, 500, 3_600)  # bulkhead/configs/local.toml
    rng = random.Random(15)
    price = 3_000.0
    rises = []
    for _ in range(ceiling // step + 2):  # two passes more than the ceiling needs
        price = volatile_hour(chain, rng, price)  # an hour: the cooldown has run out
        before = chain.haircut(POOL)
        lines, _out = chain.run_once()
        d = weth_decision(lines)
        # every decision carries its inputs
        assert d["rounds"] >= 5 and d["vol"] > 5.0 and d["target_bps"] == 3_000
        assert d["current_bps"] == before and d["rules"]["max_step"] == step
        rises.append(chain.haircut(POOL))
        # a second pass at once: the cooldown holds the haircut where it is
        if before < rises[-1] < ceiling:
            again = weth_decision(chain.run_once()[0])
            assert again["action"] == "hold" and again["reason"].startswith("cooldown: ")
            assert chain.haircut(POOL) == rises[-1]
    assert rises == [500, 1_000, 1_500, 2_000, 2_500, 3_000, 3_000, 3_000]
    assert d["action"] == "hold" and d["reason"] == "at target"

    # calm: once a whole window (24 h) holds only calm rounds, the target is 0 and the
    # haircut comes down a step a cooldown
    for k in range(25):
        calm_hour(chain, price, k)
    falls = []
    for k in range(8):
        calm_hour(chain, price, k)
        lines, _out = chain.run_once()
        assert weth_decision(lines)["target_bps"] == 0
        falls.append(chain.haircut(POOL))
    assert falls == [2_500, 2_000, 1_500, 1_000, 500, 0, 0, 0]

    # the rules, checked on the factory's own record of every change
    events = chain.haircut_events()
    assert len(events) == 12
    steward = chain.accounts[STEWARD]
    for previous, event in zip(events, events[1:]):
        assert event["timestamp"] - previous["timestamp"] >= cooldown
    for event in events:
        assert event["caller"] == steward
        assert abs(event["haircut"] - event["previous"]) <= step
        assert event["haircut"] <= ceiling


def test_run_once_dry_run__volatile_path__logs_the_raise_and_sends_nothing(fresh):
    chain = fresh
    volatile_hour(chain, random.Random(3), 3_000.0)
    chain.mine()
    block, nonce = chain.w3.eth.block_number, chain.nonce(STEWARD)
    lines, out = chain.run_once("--dry-run")
    d = weth_decision(lines)
    assert (d["action"], d["new_bps"], d["dry_run"]) == ("raise", 500, True)
    assert not [x for x in lines if x["event"] == "haircut_set"]
    assert chain.haircut(POOL) == 0
    assert chain.w3.eth.block_number == block and chain.nonce(STEWARD) == nonce
    assert "would change" in out and "WETH 1" in out


def test_run_once__pools_without_new_rounds__hold_with_the_reason(fresh):
    lines, _out = fresh.run_once("--json")
    decisions = {x["pool"]: x for x in lines if x["event"] == "decision"}
    assert set(decisions) == {"WETH", "WBTC", "VOL"}
    for d in decisions.values():
        assert d["action"] == "hold" and d["reason"] == "too few feed rounds for an estimate"
        assert d["rounds"] == 1 and d["vol"] is None
