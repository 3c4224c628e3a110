"""`PoolFactory.set_steward_rules`: governance fixes, per pool, the steward's ceiling for
the haircut, its largest step and its cooldown, each within its bounds."""

import ape
import pytest

MAX_HAIRCUT = 5_000  # [bps] `risk.MAX_HAIRCUT`
DAY = 86_400  # [seconds]


def test_set_steward_rules__owner__stores_and_logs(weth, factory, admin):
    tx = factory.set_steward_rules(weth.pool, 2_000, 250, 7_200, sender=admin)
    assert tuple(factory.steward_rules(weth.pool)) == (2_000, 250, 7_200, 0)
    (event,) = tx.decode_logs(factory.StewardRulesSet)
    assert (event.pool, event.max_haircut, event.max_step, event.cooldown) == (
        weth.pool.address,
        2_000,
        250,
        7_200,
    )


def test_set_steward_rules__after_a_change__keeps_the_last_change(weth, factory, admin, chain):
    tx = factory.set_haircut(weth.pool, 100, sender=admin)
    factory.set_steward_rules(weth.pool, 2_000, 250, 7_200, sender=admin)
    assert factory.steward_rules(weth.pool).last_change == chain.blocks[tx.block_number].timestamp


def test_set_steward_rules__cooldown_bounds__are_the_constants(factory):
    assert (factory.MIN_STEWARD_COOLDOWN(), factory.MAX_STEWARD_COOLDOWN()) == (60, 30 * DAY)


@pytest.mark.parametrize(
    "rules",
    [(MAX_HAIRCUT, MAX_HAIRCUT, 60), (1, 1, 30 * DAY), (MAX_HAIRCUT, 1, 3_600)],
    ids=["largest", "smallest", "one-bps-steps"],
)
def test_set_steward_rules__at_the_bounds__accepted(rules, weth, factory, admin):
    factory.set_steward_rules(weth.pool, *rules, sender=admin)
    assert tuple(factory.steward_rules(weth.pool))[:3] == rules


@pytest.mark.parametrize(
    "rules, reason",
    [
        ((MAX_HAIRCUT + 1, 100, 3_600), "factory: steward haircut out of bounds"),
        ((1_000, 0, 3_600), "factory: steward step out of bounds"),
        ((1_000, 1_001, 3_600), "factory: steward step out of bounds"),
        ((0, 0, 3_600), "factory: steward step out of bounds"),
        ((1_000, 100, 59), "factory: steward cooldown out of bounds"),
        ((1_000, 100, 30 * DAY + 1), "factory: steward cooldown out of bounds"),
    ],
    ids=["ceiling", "zero-step", "step-above-ceiling", "zero-ceiling", "short", "long"],
)
def test_set_steward_rules__out_of_bounds__reverts(rules, reason, weth, factory, admin):
    before = tuple(factory.steward_rules(weth.pool))
    with ape.reverts(reason):
        factory.set_steward_rules(weth.pool, *rules, sender=admin)
    assert tuple(factory.steward_rules(weth.pool)) == before


def test_set_steward_rules__stranger__reverts(weth, factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_steward_rules(weth.pool, 1_000, 100, 3_600, sender=attacker)


def test_set_steward_rules__by_the_steward__reverts(weth, factory, admin, steward):
    factory.set_steward(steward, sender=admin)
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_steward_rules(weth.pool, MAX_HAIRCUT, MAX_HAIRCUT, 60, sender=steward)


def test_set_steward_rules__unknown_pool__reverts(factory, admin, stablecoin):
    with ape.reverts("factory: unknown pool"):
        factory.set_steward_rules(stablecoin, 1_000, 100, 3_600, sender=admin)
