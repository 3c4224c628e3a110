from dataclasses import replace

import ape
import pytest

from bulkhead import risk
from tests.conftest import WAD


def test_set_risk_params__owner__accrues_at_old_fee_then_applies(
    weth, factory, admin, borrower, chain
):
    weth.open_at_ltv(borrower, 100_000 * WAD, 3_000)
    first = weth.pool.accrue(sender=admin)
    old = weth.params
    stored = weth.pool.rate()
    start = chain.blocks[first.block_number].timestamp
    max_ltv = (old.max_ltv + old.liquidation_threshold) // 2  # changed, still below threshold
    assert max_ltv != old.max_ltv
    new = replace(old, stability_fee=risk.fee_per_second(0.50), max_ltv=max_ltv, min_debt=200 * WAD)
    chain.pending_timestamp = start + 86400

    tx = factory.set_risk_params(weth.pool, new.as_tuple(), sender=admin)

    # the day before the change is charged at the old fee
    (accrued,) = tx.decode_logs(weth.pool.Accrue)
    assert accrued.rate == risk.grow(stored, 86400, old.stability_fee)
    (event,) = tx.decode_logs(weth.pool.RiskParamsSet)
    assert (event.max_ltv, event.min_debt, event.stability_fee) == (
        max_ltv,
        200 * WAD,
        new.stability_fee,
    )
    assert weth.params == new
    # and the day after at the new one
    chain.mine(timestamp=start + 2 * 86400)
    assert weth.pool.rate() == risk.grow(accrued.rate, 86400, new.stability_fee)


def test_set_risk_params__while_paused__stays_paused(weth, factory, admin):
    factory.set_paused(weth.pool, True, sender=admin)
    p = weth.params
    new = replace(p, max_ltv=(p.max_ltv + p.liquidation_threshold) // 2)
    factory.set_risk_params(weth.pool, new.as_tuple(), sender=admin)
    assert weth.params == new
    assert weth.pool.paused()


BOUNDS = [
    ({"liquidation_threshold": 999, "max_ltv": 500}, "risk: threshold out of bounds"),
    ({"liquidation_threshold": 9_501}, "risk: threshold out of bounds"),
    ({"max_ltv": 499}, "risk: max ltv out of bounds"),
    ({"max_ltv": 8_500}, "risk: max ltv not below threshold"),
    ({"liquidation_bonus": 49}, "risk: bonus out of bounds"),
    ({"liquidation_bonus": 2_501}, "risk: bonus out of bounds"),
    ({"liquidation_fee": 1_001}, "risk: liquidation fee out of bounds"),
    ({"liquidation_tip": 1_000 * WAD + 1}, "risk: tip out of bounds"),
    ({"target_health": WAD}, "risk: target health out of bounds"),
    ({"target_health": 3 * WAD + 1}, "risk: target health out of bounds"),
    ({"min_debt": WAD - 1}, "risk: min debt out of bounds"),
    ({"min_debt": 10**24 + 1}, "risk: min debt out of bounds"),
    ({"debt_ceiling": 10**33 + 1}, "risk: debt ceiling out of bounds"),
    ({"stability_fee": 21_979_553_152}, "risk: stability fee out of bounds"),
    # (1 + 1 %)(1 + 25 %) + 5 / 100 = 1.3125; x 95 % > 1: a liquidation could lower health
    (
        {"liquidation_threshold": 9_500, "liquidation_bonus": 2_500},
        "risk: penalty too high for threshold",
    ),
]


@pytest.mark.parametrize(
    "change, reason", BOUNDS, ids=[f"{r[6:]}-{i}" for i, (_, r) in enumerate(BOUNDS)]
)
def test_set_risk_params__out_of_bounds__reverts(change, reason, weth, factory, admin):
    params = replace(weth.params, **change)
    with pytest.raises(ValueError, match=reason):
        risk.validate(params)  # the Python mirror refuses it with the same reason
    with ape.reverts(reason):
        factory.set_risk_params(weth.pool, params.as_tuple(), sender=admin)


def test_set_risk_params__at_the_bounds__accepted(weth, factory, admin):
    params = replace(
        weth.params,
        liquidation_threshold=9_500,
        max_ltv=9_000,
        liquidation_bonus=50,
        liquidation_fee=0,
        liquidation_tip=0,
        target_health=3 * WAD,
        min_debt=WAD,
        debt_ceiling=10**33,
        stability_fee=21_979_553_151,
    )
    risk.validate(params)
    factory.set_risk_params(weth.pool, params.as_tuple(), sender=admin)
    assert weth.params == params


def test_set_risk_params__stranger__reverts(weth, factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_risk_params(weth.pool, weth.pool.risk_params(), sender=attacker)


def test_set_risk_params__unknown_pool__reverts(weth, factory, admin):
    with ape.reverts("factory: unknown pool"):
        factory.set_risk_params(weth.token, weth.pool.risk_params(), sender=admin)
