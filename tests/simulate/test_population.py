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


# ------------------------------------------------------------------ issue 15's controls


def test_plan__under_a_haircut__every_position_within_the_reduced_limit_same_draws():
    haircut = 2_000
    plain = plan(Population(positions=300), specs(), OWNERS, 7)
    cut_specs = [replace(s, haircut=haircut) for s in specs()]
    cut = plan(Population(positions=300), cut_specs, OWNERS, 7)
    by_name = {s.name: s for s in cut_specs}
    for x, y in zip(plain, cut, strict=True):
        s = by_name[y.pool]
        limit = s.params.max_ltv * (10_000 - haircut) // 10_000  # max LTV x (1 - haircut)
        assert risk.within_max_ltv(y.collateral, y.debt, s.price, limit, s.scale)
        assert (x.owner, x.leverage) == (y.owner, y.leverage)  # the same draws
        assert y.debt <= x.debt


def test_plan__position_debt_cap__no_debt_above_it():
    cap = 5_000 * WAD
    capped = [replace(s, position_debt_cap=cap) for s in specs()]
    planned = plan(Population(positions=300), capped, OWNERS, 7)
    assert max(x.debt for x in planned) == cap
    assert all(x.debt <= cap for x in planned)


def test_plan__stop_loss_share__rules_above_the_liquidation_price_other_draws_unchanged():
    by_name = {s.name: s for s in specs()}
    plain = plan(Population(positions=200), specs(), OWNERS, 7)
    stops = plan(Population(positions=200, stop_loss=0.5), specs(), OWNERS, 7)
    with_rule = [x for x in stops if x.stop_loss is not None]
    assert 70 <= len(with_rule) <= 130
    for x, y in zip(plain, stops, strict=True):
        assert replace(y, stop_loss=None) == x
    for x in with_rule:
        s = by_name[x.pool]
        price, fee = x.stop_loss
        liquidation = risk.liquidation_price(
            x.collateral, x.debt, s.params.liquidation_threshold, s.scale
        )
        assert liquidation < price < s.price  # between the liquidation price and today's
        assert price == pytest.approx(liquidation * 1.10, rel=1e-4)
        assert fee == min(100, s.params.liquidation_bonus)


def test_population__stop_loss_share_outside_0_1__refused():
    with pytest.raises(PopulationError, match="stop-loss share"):
        plan(Population(positions=3, stop_loss=1.5), specs(), OWNERS, 7)
