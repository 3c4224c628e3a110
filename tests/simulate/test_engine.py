"""The simulator on a real Anvil, at a small scale.

One embedded Anvil and one deployment for the module (`bulkhead.node.Anvil` through
`Simulation.start`, stopped at the end); every test rewinds to the deployment, opens its
own population and runs its own scenario. The keeper is the shipped
`bulkhead.keeper.Keeper`; each report says so.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bulkhead.risk import WAD
from bulkhead.simulate import analysis
from bulkhead.simulate.engine import Settings, Simulation
from bulkhead.simulate.keepers import REAL, make_keepers
from bulkhead.simulate.population import Population
from bulkhead.simulate.report import pool_summary
from bulkhead.simulate.scenario import Regime, Scenario

BASE = Settings(population=Population(positions=45), warmup_days=30, owners=20)
POOLS = ("WETH", "WBTC", "VOL")


@pytest.fixture(scope="module")
def sim():
    simulation = Simulation(BASE, log=lambda _line: None)
    simulation.start(keepers=2)
    simulation.deploy()
    simulation.checkpoint()
    yield simulation
    simulation.close()


def simulate(sim, scenario, keepers=1, block_time=12, **settings):
    """Rewind to the deployment, prepare with `settings`, run `scenario`: (books, report)."""
    sim.s = replace(BASE, **settings)
    sim.rewind()
    sim.prepare()
    books = analysis.books(sim, POOLS)
    report = sim.run(scenario, keepers=keepers, block_time=block_time, progress=False)
    return books, report


def summaries(report):
    return {p["name"]: pool_summary(p) for p in report["pools"]}


def shortfall_from_events(report, pool):
    """[bhUSD] shortfall the pool recorded: reserve used plus bad debt, over liquidations."""
    return sum(
        e["reserve_used"] + e["bad_debt"]
        for e in report["events"]
        if e["kind"] == "liquidate" and e["pool"] == pool
    )


def test_drop_40__default_params_and_population__zero_bad_debt_one_keeper(sim):
    books, report = simulate(sim, Scenario(blocks=8, start=2), keepers=1)
    # the default max LTV leaves every position's collateral above the liquidation penalty
    # through a 40 % gap
    assert all(b.safe_drop() > 0.40 for b in books.values())
    assert report["keepers"]["implementation"] == REAL
    assert len(report["keepers"]["addresses"]) == 1
    s = summaries(report)
    assert s["WETH"]["liquidations"] > 0 and s["WBTC"]["liquidations"] > 0
    for name, x in s.items():
        assert x["bad_debt_wei"] == 0 and shortfall_from_events(report, name) == 0, name
        assert x["liquidatable_end"] == 0 and x["latent_shortfall_end"] == 0, name
    assert report["accounting"]["ok"]


def test_drop_beyond_the_frontier__default_params__shortfall_is_what_collateral_cannot_cover(
    sim,
):
    drop = 0.50  # within every pool's jump bound, beyond the 40 % the defaults are set for
    books, report = simulate(sim, Scenario(blocks=8, start=2, drop={"*": drop}))
    s = summaries(report)
    assert report["keepers"]["implementation"] == REAL
    for name in POOLS:
        assert s[name]["refused_blocks"] == 0, name
        predicted = books[name].shortfall_after(drop) / WAD
        assert shortfall_from_events(report, name) == pytest.approx(predicted, rel=1e-6, abs=0.02)
        bad_debt = sum(
            e["bad_debt"]
            for e in report["events"]
            if e["kind"] == "liquidate" and e["pool"] == name
        )
        assert s[name]["bad_debt"] == pytest.approx(bad_debt, rel=1e-6, abs=0.02)
        assert s[name]["liquidatable_end"] == 0 and s[name]["latent_shortfall_end"] == 0
        assert s[name]["liquidations"] > 0
    # beyond the frontier some WETH positions no longer cover the liquidation penalty, and
    # their shortfall outruns the month of reserve: the rest is bad debt
    assert books["WETH"].safe_drop() < drop
    assert s["WETH"]["bad_debt"] > 0
    assert report["accounting"]["ok"]


def test_drop_40__weth_max_ltv_60_default_population__zero_bad_debt(sim):
    _books, report = simulate(
        sim,
        Scenario(blocks=8, start=2, moving=("WETH",)),
        population=Population(positions=40),
        pools=("WETH",),
        overrides={"WETH": {"max_ltv": 6000}},
    )
    weth = summaries(report)["WETH"]
    assert report["pools"][0]["params"]["max_ltv"] == 6000
    assert weth["positions"] == 40 and weth["liquidations"] > 0
    assert weth["bad_debt_wei"] == 0 and weth["latent_shortfall_end"] == 0


def test_drop_90_in_weth__governance_resets_the_anchor__bad_debt_in_weth_only(sim):
    scenario = Scenario(blocks=8, start=2, drop={"WETH": 0.90}, moving=("WETH",))
    # a year of fees, so that the sweep leaves each reserve at its target and fills the vault
    books, report = simulate(sim, scenario, anchor_reset=1, warmup_days=365)
    events = [(e["block"], e["pool"], e["event"]) for e in report["oracle_events"]]
    assert events == [
        (2, "WETH", "pool refuses the feed: price jump"),
        (3, "WETH", "governance calls factory.reset_price_anchor"),
        (3, "WETH", "pool accepts the feed again"),
    ]
    s = summaries(report)
    assert s["WETH"]["bad_debt"] > 0 and s["WETH"]["liquidatable_end"] == 0
    assert shortfall_from_events(report, "WETH") == pytest.approx(
        books["WETH"].shortfall_after(0.90) / WAD, rel=1e-6
    )
    assert all(e["block"] >= 4 for e in report["events"] if e["pool"] == "WETH")
    for name in ("WBTC", "VOL"):
        iso = report["isolation"][name]
        assert iso["positions_unchanged"] and iso["reserve_unchanged"] and iso["bad_debt_unchanged"]
        assert s[name]["liquidations"] == 0 and s[name]["protections"] == 0
    assert sorted(report["isolation"]) == ["VOL", "WBTC"]
    vault = report["savings_vault"]
    assert int(vault["start"]["tracked_assets"]) > 0
    assert vault["unchanged"] and vault["end"] == {
        **vault["start"],
        **{
            k: vault["end"][k]
            for k in ("totalAssets", "locked_assets")  # these stream with time
        },
    }
    assert report["accounting"]["ok"]


def test_drop_90_in_weth__no_governance__refused_until_a_heartbeat_has_passed(sim):
    scenario = Scenario(blocks=7, start=1, drop={"WETH": 0.90}, moving=("WETH",))
    _, report = simulate(
        sim,
        scenario,
        block_time=900,
        anchor_reset=None,
        pools=("WETH",),
        population=Population(positions=20),
    )
    refused, accepted = report["oracle_events"]
    assert (refused["block"], refused["event"]) == (1, "pool refuses the feed: price jump")
    assert "widens to 10000 bps" in refused["response"]
    # the anchor dates from the warm-up block; 3,600 s later the bound is 100 %
    assert (accepted["block"], accepted["refused_blocks"]) == (4, 3)
    weth = report["pools"][0]["series"]
    assert weth["oracle"][1:4] == ["price jump"] * 3 and weth["latent_shortfall"][3] > 0
    liquidated_at = [e["block"] for e in report["events"] if e["kind"] == "liquidate"]
    assert liquidated_at and min(liquidated_at) == 5


def test_two_keepers__same_positions__each_closed_once_and_lost_races_cost_gas(sim):
    _, report = simulate(sim, Scenario(blocks=6, start=2), keepers=2)
    assert len(report["keepers"]["addresses"]) == 2
    closed = {}
    for pool in report["pools"]:
        for e in report["events"]:
            if e["pool"] == pool["name"] and e["kind"] == "liquidate":
                closed.setdefault((e["pool"], e["id"]), []).append(e["block"])
    assert closed
    s = summaries(report)
    assert sum(x["liquidations"] for x in s.values()) == len(
        [e for e in report["events"] if e["kind"] == "liquidate"]
    )
    assert sum(x["keeper_reverted"] for x in s.values()) >= 1
    assert all(x["liquidatable_end"] == 0 for x in s.values())
    assert report["accounting"]["ok"]


def test_same_seed__run_twice__identical_report(sim):
    scenario = Scenario(kind="gbm", blocks=10, start=2, vol={"*": 8.0})
    _, first = simulate(sim, scenario, seed=11, population=Population(positions=30))
    _, second = simulate(sim, scenario, seed=11, population=Population(positions=30))
    assert [p["series"] for p in first["pools"]] == [p["series"] for p in second["pools"]]
    assert first["events"] == second["events"]
    _, other = simulate(sim, scenario, seed=12, population=Population(positions=30))
    assert [p["series"]["price"] for p in other["pools"]] != [
        p["series"]["price"] for p in first["pools"]
    ]


def test_make_keepers__auto_and_real__the_shipped_keeper(sim):
    for kind in ("auto", "real"):
        handles = make_keepers(kind, sim.rpc_url, sim.deployment, sim.keeper_accounts[:1])
        assert [h.implementation for h in handles] == [REAL]
    with pytest.raises(ValueError, match="unknown keeper kind 'stand-in'"):
        make_keepers("stand-in", sim.rpc_url, sim.deployment, sim.keeper_accounts[:1])


# ------------------------------------------------------------------ issue 15's controls


def test_gbm_regime_with_the_steward__haircut_rises_before_the_crash_within_its_rules(sim):
    regime = Regime(calm_vol=0.3, calm_blocks=6, rise_blocks=10, crash_blocks=2)
    scenario = Scenario(
        kind="gbm", blocks=22, start=2, vol={"*": 4.0}, drop={"*": 0.3}, regime=regime
    )
    _, report = simulate(
        sim, scenario, block_time=3_600, steward=True, steward_window=6 * 3_600,
        population=Population(positions=30),
    )  # fmt: skip
    phases = report["scenario"]["phases"]
    rise, crash = phases["rise"][0], phases["crash"][0]
    steward = report["steward"]
    assert steward["account"] == sim.steward_account and steward["window_s"] == 6 * 3_600
    for pool in report["pools"]:
        haircut = pool["series"]["haircut"]
        assert haircut[rise] == 0, pool["name"]  # calm: nothing to do
        assert haircut[crash] > 0, pool["name"]  # raised while the volatility rose
        changes = [c for c in steward["changes"] if c["pool"] == pool["name"]]
        ceiling, step = (4_000, 1_000) if pool["name"] == "VOL" else (3_000, 500)
        assert all(abs(c["to"] - c["from"]) <= step and c["to"] <= ceiling for c in changes)
        # at most one change per block: the cooldown (3,600 s) is one block here
        assert len({c["block"] for c in changes}) == len(changes)
        # the chain agrees with the steward's record of what it sent
        for c in changes:
            assert haircut[c["block"]] == c["to"]
    assert report["accounting"]["ok"]


def test_haircut_set_by_governance__positions_open_under_it__series_shows_it(sim):
    _, report = simulate(
        sim, Scenario(blocks=3, start=2), haircuts={"WETH": 2_000},
        population=Population(positions=30),
    )  # fmt: skip
    by_name = {p["name"]: p for p in report["pools"]}
    assert set(by_name["WETH"]["series"]["haircut"]) == {2_000}
    assert set(by_name["WBTC"]["series"]["haircut"]) == {0}
    weth = sim.pools["WETH"]
    for x in sim.planned:
        if x.pool == "WETH":
            limit = weth.params.max_ltv * 8_000 // 10_000
            assert x.debt * 10_000 <= x.collateral * weth.scale * 3_000 * limit  # at $3,000
    assert report["steward"] is None


def test_stop_losses__keeper_after_a_fall__each_pays_the_keeper_at_most_its_fee(sim):
    """The shipped keeper (bulkhead.keeper, due bit 8)."""
    _, report = simulate(
        sim, Scenario(blocks=5, start=2, drop={"*": 0.25}),
        population=Population(positions=45, stop_loss=1.0),
    )  # fmt: skip
    stops = [e for e in report["events"] if e["kind"] == "stop_loss"]
    assert stops
    assert sum(summaries(report)[p]["stop_losses"] for p in POOLS) == len(stops)
    for e in stops:
        # the keeper's collateral is worth the debt plus at most the 1 % fee (plus a cent of
        # rounding), at the price the stop-loss executed at; the owner gets the rest
        assert e["keeper_collateral_usd"] <= e["debt_repaid"] * 1.01 + 0.01
        assert e["owner_collateral_usd"] > 0
    assert report["accounting"]["ok"]
