from dataclasses import replace

import ape

from bulkhead import risk
from tests.conftest import WAD, YEAR


def test_set_risk_params__stranger__reverts(weth, attacker):
    with ape.reverts("pool: only factory"):
        weth.pool.set_risk_params(weth.pool.risk_params(), sender=attacker)


def test_set_risk_params__from_factory__replaces_and_logs(weth, as_factory):
    old = weth.params
    max_ltv = (old.max_ltv + old.liquidation_threshold) // 2  # still below the threshold
    assert max_ltv != old.max_ltv
    new = replace(old, max_ltv=max_ltv, stability_fee=risk.fee_per_second(0.10))
    tx = weth.pool.set_risk_params(new.as_tuple(), sender=as_factory)
    assert weth.params == new
    (event,) = tx.decode_logs(weth.pool.RiskParamsSet)
    assert (event.max_ltv, event.stability_fee) == (max_ltv, new.stability_fee)


def test_set_risk_params__out_of_bounds__refused_by_the_factory(weth, factory, admin):
    # the factory is the one gate: the pool takes parameters from it alone, as they come
    with ape.reverts("risk: max ltv not below threshold"):
        factory.set_risk_params(
            weth.pool, replace(weth.params, max_ltv=9_000).as_tuple(), sender=admin
        )


def test_set_risk_params__from_factory__accrues_at_the_old_fee_first(
    weth, borrower, as_factory, chain
):
    weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    reserve = weth.pool.reserve()
    chain.pending_timestamp += YEAR // 12
    new = replace(weth.params, stability_fee=0)
    tx = weth.pool.set_risk_params(new.as_tuple(), sender=as_factory)
    (accrual,) = tx.decode_logs(weth.pool.Accrue)
    assert accrual.interest > 0
    assert weth.pool.reserve() == reserve + accrual.interest
