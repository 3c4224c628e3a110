from dataclasses import replace

import ape

from bulkhead import risk


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


def test_set_risk_params__from_factory__validates_again(weth, as_factory):
    # the pool does not trust its factory: the bounds are checked in the pool too
    with ape.reverts("risk: max ltv not below threshold"):
        weth.pool.set_risk_params(replace(weth.params, max_ltv=9_000).as_tuple(), sender=as_factory)
