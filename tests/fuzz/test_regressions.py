"""Every failure the invariant fuzzer ever found, replayed as a named test.

Each test replays the shrunk step sequence through `BulkheadMachine` (so every law is checked
after every step, as in the fuzzer) and then asserts the specific outcome the fix restored.
Add a new one for every new failure; never delete one.
"""

from __future__ import annotations

import boa

from bulkhead import risk
from bulkhead.risk import BPS
from tests.fuzz.machine import MAX_UINT, BulkheadMachine


def _machine() -> BulkheadMachine:
    machine = BulkheadMachine()
    machine.setup()
    machine.laws()
    return machine


def test_liquidate__max_uint256_max_repay__liquidates_instead_of_overflowing(fuzz_system) -> None:
    """Found by the fuzzer: `liquidate(id, max_value(uint256), 0)` reverted with empty data
    (checked multiplication in `_liquidation_amounts`). Fixed in modules/risk.vy."""
    m = _machine()
    try:
        m.open(pool="WETH", who=0, usd=20_000, jitter=0, ltv=-2)
        m.laws()
        # a fall to health 0.96 from max LTV (health = threshold / max LTV x price ratio):
        # unhealthy, but with collateral to spare, so the cap path (no shortfall) is taken
        p = m.params["WETH"]
        m.move_price(pool="WETH", bps=9_600 * p.max_ltv // p.liquidation_threshold - BPS)
        m.laws()
        ctx = m.pools["WETH"]
        pid = ctx.ids[0]
        assert pid in m.unhealthy["WETH"]
        debt_before = ctx.market.pool.debt_of(pid)
        m.liquidate(pick=0, unhealthy=True, by=0, cap="max", min_out="exact")
        m.laws()
        assert m.rule == "liquidate"
        # a partial liquidation: the position keeps debt, above the minimum, and is healthier
        assert 0 < ctx.market.pool.debt_of(pid) < debt_before
        assert ctx.market.pool.health(pid) > 10**18
    finally:
        m.teardown()


def test_liquidate__shortfall__fee_reaches_the_reserve_and_identity_holds(fuzz_system) -> None:
    """Found by the fuzzer: with a shortfall the keeper's fee was burned but not credited to
    the reserve (gap of covered x fee in supply + reserves = debts + bad debt). Fixed in
    MarginPool.liquidate (and the mirror `Liquidation.fee`)."""
    m = _machine()
    try:
        m.open(pool="VOL", who=1, usd=20_000, jitter=0, ltv=-2)
        m.laws()
        ctx = m.pools["VOL"]
        pool = ctx.market.pool
        pid = ctx.ids[0]
        # give the pool a reserve larger than any shortfall here, so no bad debt is due
        m.advance_time(seconds=3 * 365 * 86_400, heartbeat=True)
        m.laws()
        m.accrue(pool="VOL", who=0)
        m.laws()
        m.crash(pool="VOL", drop=4_000)  # within the 60 % jump bound: valid at once
        m.laws()
        p = m.params["VOL"]
        coll, norm = m._pos(ctx, pid)
        debt = risk.debt(norm, pool.rate())
        plan = risk.liquidation_amounts(coll, debt, pool.price(), p, ctx.market.scale)
        assert plan.shortfall > 0, "the scenario must take the shortfall branch"
        reserve_before = pool.reserve()
        m.keeper_sweep(pool="VOL", by=0, cap="max")
        m.laws()  # the accounting identity within its rounding budget
        covered = debt - plan.shortfall
        fee = plan.paid - covered
        assert fee == plan.fee > 0
        assert plan.paid == -(-covered * (BPS + p.liquidation_fee) // BPS)
        if reserve_before + fee >= plan.shortfall:
            assert pool.bad_debt() == 0
            assert pool.reserve() == reserve_before + fee - plan.shortfall
        else:
            assert pool.reserve() == 0
            assert pool.bad_debt() == plan.shortfall - reserve_before - fee
    finally:
        m.teardown()


def test_liquidate__shortfall_with_empty_reserve__bad_debt_is_shortfall_less_fee(
    fuzz_system,
) -> None:
    """The same fault seen from the bad-debt side: a fresh pool (reserve 0) records as bad debt
    exactly the shortfall less the fee the keeper paid, never the whole shortfall."""
    m = _machine()
    try:
        m.open(pool="VOL", who=1, usd=20_000, jitter=0, ltv=-2)
        m.laws()
        # to 0.52x: the collateral is worth less than debt x (1 + fee), so there is a
        # shortfall (at 0.6x it would have equity after the fee: no shortfall since issue 12)
        m.crash(pool="VOL", drop=4_800)
        m.laws()
        ctx = m.pools["VOL"]
        pool = ctx.market.pool
        pid = ctx.ids[0]
        coll, norm = m._pos(ctx, pid)
        plan = risk.liquidation_amounts(
            coll, risk.debt(norm, pool.rate()), pool.price(), m.params["VOL"], ctx.market.scale
        )
        reserve_before = pool.reserve()
        assert plan.shortfall > reserve_before + plan.fee
        m.liquidate(pick=0, unhealthy=True, by=0, cap="max", min_out="zero")
        m.laws()
        assert pool.reserve() == 0
        assert pool.bad_debt() == plan.shortfall - reserve_before - plan.fee
        assert pool.debt_of(pid) == 0 and pool.collateral_of(pid) == 0
    finally:
        m.teardown()


def test_liquidate__max_uint256_max_repay_on_shortfall__takes_everything(fuzz_system) -> None:
    """The shortfall branch with max_value(uint256) as cap (the bug's other path) works too."""
    m = _machine()
    try:
        m.open(pool="WBTC", who=2, usd=20_000, jitter=0, ltv=-2)
        m.crash(pool="WBTC", drop=4_000)
        m.laws()
        ctx = m.pools["WBTC"]
        pid = ctx.ids[0]
        m._give(m.keeper, 10**24)
        with boa.env.prank(m.keeper):
            out = ctx.market.pool.liquidate(pid, MAX_UINT, 0)
        assert out > 0 and ctx.market.pool.collateral_of(pid) == 0
    finally:
        m.teardown()


def test_sweep__nets_bad_debt_below_the_reserve__law_accepts_the_reserve_left(fuzz_system) -> None:
    """Found by the `make audit` campaign (a fault of the law, not of the contracts): after
    a sweep cancelled a pool's bad debt with a larger reserve, the law "bad debt grows only
    when the reserve is exhausted" also fired for the shrink, because the reserve was not 0.
    The law now checks the reserve only when bad debt grew."""
    m = _machine()
    try:
        m.seed_positions(ltvs=[-2, -2, -2])
        m.laws()
        ctx = m.pools["VOL"]
        pool = ctx.market.pool
        m.crash(pool="VOL", drop=6_000)  # at the 60 % jump bound: accepted at once
        m.laws()
        while pool.positions_to_liquidate(1, 10):
            m.keeper_sweep(pool="VOL", by=0, cap="max")
            m.laws()
        bad = pool.bad_debt()
        assert bad > 0, "the crash must leave bad debt"
        m.restore_feed(pool="VOL", after=3_600)
        m.laws()
        m.sweep(pool="VOL", who=0, wait=365 * 86_400)  # a year of fees on what is left
        m.laws()
        # the whole bad debt was cancelled and the reserve kept its target
        assert m.netted["VOL"] == bad and pool.bad_debt() == 0
        assert pool.reserve() == m.sys.factory.reserve_target(pool.address)
    finally:
        m.teardown()


def test_keeper_batch__bad_debt_then_fees__reserve_refilled_in_the_same_batch(fuzz_system) -> None:
    """Found by a `make audit` style campaign (a fault of the law, not of the contracts): a
    batch whose first liquidation exhausted the reserve and recorded bad debt, and whose
    later ones paid fees into the reserve again, ended with bad debt grown and a reserve
    above 0, which the per-step law refused. The batch rule now follows the reserve
    through the batch itself."""
    m = _machine()
    try:
        m.seed_positions(ltvs=[-2, -2, -2])
        m.laws()
        ctx = m.pools["VOL"]
        pool = ctx.market.pool
        m.crash(pool="VOL", drop=6_000)
        m.laws()
        due = list(pool.positions_to_liquidate(1, 10))
        assert len(due) == 2, "the small position and the large one are both due"
        m.keeper_batch(pool="VOL", noise=False, budget="max", by=0, prefer_due=True)
        assert m.rule == "keeper_batch" and m.liquidation_exhausted_reserve
        m.laws()
        assert pool.bad_debt() > 0 and pool.reserve() > 0
    finally:
        m.teardown()


def test_set_debt_ceiling__kill_switch_then_grace_and_haircut__both_change(fuzz_system) -> None:
    """Finding 15-1 (found by review; the fuzzer replays it in three steps on the unfixed
    factory): after governance cut a pool's debt ceiling to 0, under its position debt
    cap, `set_grace_period` and `set_haircut` reverted "risk: position cap above debt
    ceiling". Fixed in PoolFactory (the cap is checked against the ceiling only where the
    cap is set)."""
    m = _machine()
    try:
        m.set_debt_ceiling(pool="WBTC", to="zero", then="grace")
        m.laws()
        m.set_debt_ceiling(pool="VOL", to="zero", then="haircut")
        m.laws()
        assert m.rule == "set_haircut"
        for name, (grace, haircut) in {"WBTC": (60, 0), "VOL": (1_800, 1_000)}.items():
            c = m.pools[name].market.pool.controls()
            assert c.position_debt_cap > m.params[name].debt_ceiling == 0
            assert (c.grace_period, c.haircut) == (grace, haircut)
    finally:
        m.teardown()
