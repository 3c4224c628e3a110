"""The population planner: pure, no chain."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bulkhead import risk
from bulkhead.deploy import Config
from bulkhead.risk import WAD
from bulkhead.simulate.population import PoolSpec, Population, PopulationError, plan

OWNERS = [f"0x{i:040x}" for i in range(1, 41)]


def specs(ceiling: int | None = None) -> list[PoolSpec]:
    out = []
    for cfg in Config.load().pools:
        params = cfg.params if ceiling is None else replace(cfg.params, debt_ceiling=ceiling)
        out.append(PoolSpec(cfg.name, int(cfg.price * WAD), cfg.decimals, params))
    return out


def test_plan__same_seed__same_population_other_seed_differs():
    pop = Population(positions=120)
    assert plan(pop, specs(), OWNERS, 5) == plan(pop, specs(), OWNERS, 5)
    assert plan(pop, specs(), OWNERS, 5) != plan(pop, specs(), OWNERS, 6)


def test_plan__default_population__every_position_opens_within_the_pool_rules():
    by_name = {s.name: s for s in specs()}
    planned = plan(Population(positions=600), specs(), OWNERS, 7)
    assert [x.pool for x in planned[:3]] == ["WETH", "WBTC", "VOL"]
    for x in planned:
        s = by_name[x.pool]
        p = s.params
        assert x.debt >= p.min_debt
        assert risk.within_max_ltv(x.collateral, x.debt, s.price, p.max_ltv, s.scale)
        assert x.debt % 10**16 == 0
        if x.protection is not None:
            trigger, target, fee = x.protection
            assert x.health(s) > trigger and target > trigger and fee <= p.liquidation_bonus


def test_plan__default_population__leverage_has_the_stated_shape():
    pop, pools = Population(positions=3000), specs(ceiling=10**33)
    planned = plan(pop, pools, OWNERS, 7)
    lev = [x.leverage for x in planned]
    above = sum(1 for v in lev if v > 0.71) / len(lev)
    near = sum(1 for v in lev if v > 0.9) / len(lev)
    assert sum(lev) / len(lev) == pytest.approx(0.667, abs=0.02)
    assert above == pytest.approx(0.45, abs=0.03)
    assert near == pytest.approx(0.08, abs=0.02)
    # the protected share is of the positions healthy enough for the default trigger
    by_name = {s.name: s for s in pools}
    floor = int(pop.trigger * WAD) + 2 * 10**16
    eligible = [x.health(by_name[x.pool]) > floor for x in planned]
    assert not any(x.protection for x, ok in zip(planned, eligible) if not ok)
    protected = sum(1 for x in planned if x.protection) / sum(eligible)
    assert protected == pytest.approx(pop.protected, abs=0.02)


def test_plan__above_debt_ceiling__refused_with_the_numbers():
    pop = Population(positions=300, size_median=900_000, size_sigma=0.0, size_max=1_000_000)
    with pytest.raises(PopulationError, match="above the room under its debt ceiling"):
        plan(pop, specs(), OWNERS, 1)


@pytest.mark.parametrize(
    "pop, message",
    [
        (Population(positions=0), "at least one position"),
        (Population(size_min=0), "size_min"),
        (Population(ltv_min=0.5, ltv_max=0.4), "ltv_min <= ltv_max"),
        (Population(protected=2), "protected share"),
        (Population(trigger=1.5, target=1.2), "1 < trigger < target"),
    ],
)
def test_plan__bad_population__raises_one_line(pop, message):
    with pytest.raises(PopulationError, match=message):
        plan(pop, specs(), OWNERS, 1)
