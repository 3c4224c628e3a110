"""Pool-level risk controls in the stateful fuzzer: governance and the risk steward move the
volatility haircut (the steward within its per-pool rules: ceiling, step, cooldown),
governance sets the position debt cap, the grace period and cuts or restores the debt
ceiling (the kill switch). Pause and unpause (`BulkheadMachine.set_paused`) start the grace
window; the machine's liquidation rules predict "pool: paused" and "pool: grace window".

Every call is predicted (success or the exact reason). After a success the control laws
of `tests/fuzz/laws.py` are checked: a haircut changes no position's health; every other
control and every position is as it was.

`ControlsRules` is mixed into `BulkheadMachine`, which provides the helpers it calls.
"""

from __future__ import annotations

import boa
from hypothesis import strategies as st
from hypothesis.stateful import rule

from bulkhead import risk
from bulkhead.risk import BPS, RiskParams
from tests.fuzz import laws

FUZZED = ("WETH", "WBTC", "VOL")
MAX_HAIRCUT = risk.MAX_HAIRCUT  # [bps]
MAX_GRACE_PERIOD = risk.MAX_GRACE_PERIOD  # [seconds]


class ControlsRules:
    """Haircut (governance and steward), position debt cap, grace period, debt ceiling."""

    # ------------------------------------------------------------ helpers

    def _controls(self, ctx) -> risk.Controls:
        return risk.Controls(*ctx.market.pool.controls())

    def _borrow_ltv(self, ctx) -> int:
        """The pool's borrow limit now [bps]: max LTV less the haircut, rounded down."""
        return risk.borrow_ltv(self._params(ctx).max_ltv, self._controls(ctx).haircut)

    def _liquidations_closed(self, ctx) -> str | None:
        """Why the pool refuses every liquidation now (paused, or in the grace window that
        the last unpause started); None while liquidations are open."""
        if ctx.market.pool.paused():
            return "pool: paused"
        if boa.env.timestamp < self._controls(ctx).grace_end:
            return "pool: grace window"
        return None

    def _liquidation_law(self, kind: str, ctx, closed: str | None, got: str | None) -> None:
        """The named law, from the state before the call; the grace canary."""
        c = self._controls(ctx)
        laws.law_no_liquidation_while_paused_or_in_grace(
            kind, closed == "pool: paused", boa.env.timestamp, c.grace_end, got
        )
        if got == "pool: grace window":
            self._stats()["canary/grace_window"] += 1

    def _healths(self, ctx) -> dict:
        """Every position's health as the pool reports it; empty while the price is invalid
        (`pool.health` reverts then; the machine's own health law still holds)."""
        if self._price(ctx)[1]:
            return {}
        return {pid: ctx.market.pool.health(pid) for pid in ctx.ids}

    def _steward_refusal(self, ctx, caller: str, haircut: int) -> str | None:
        """`PoolFactory.set_haircut`'s refusal of a caller that is not governance."""
        if caller != self.sys.steward:
            return "factory: not owner or steward"
        r = self.sys.factory.steward_rules(ctx.market.pool.address)
        now = self._controls(ctx).haircut
        if r.max_step == 0:
            return "factory: no steward rules"
        if haircut > r.max_haircut and haircut >= now:
            return "factory: above steward limit"
        if abs(haircut - now) > r.max_step:
            return "factory: haircut step too large"
        if boa.env.timestamp < r.last_change + r.cooldown:
            return "factory: steward cooldown"
        return None

    # -------------------------------------------------------------- the haircut

    @rule(
        pool=st.sampled_from(FUZZED),
        who=st.sampled_from(["steward", "steward", "steward", "governance", "stranger"]),
        to=st.sampled_from(
            ["up", "up", "down", "step+1", "ceiling", "ceiling+1", "max", "max+1", "zero", "same"]
        ),
    )
    def set_haircut(self, pool: str, who: str, to: str) -> None:
        """The steward (mostly), governance or a stranger moves a pool's haircut: one step up
        or down, one bps past a step, to the steward's ceiling or past it, to the bound or
        past it, to zero, or to where it is."""
        ctx = self.pools[pool]
        m = ctx.market
        factory = self.sys.factory
        rules = factory.steward_rules(m.pool.address)
        before = self._controls(ctx)
        now = before.haircut
        haircut = {
            "up": now + rules.max_step,
            "down": max(now - rules.max_step, 0),
            "step+1": now + rules.max_step + 1,
            "ceiling": rules.max_haircut,
            "ceiling+1": rules.max_haircut + 1,
            "max": MAX_HAIRCUT,
            "max+1": MAX_HAIRCUT + 1,
            "zero": 0,
            "same": now,
        }[to]
        caller = {"steward": self.sys.steward, "governance": self.admin, "stranger": self.keeper}[
            who
        ]
        expected = None if caller == self.admin else self._steward_refusal(ctx, caller, haircut)
        if expected is None and haircut > MAX_HAIRCUT:
            expected = "risk: haircut out of bounds"
        healths = self._healths(ctx)
        listed = list(m.pool.positions_to_liquidate(1, 5_000))
        positions = {pid: self._pos(ctx, pid) for pid in ctx.ids}
        with self._only(ctx):
            got, _ = self._call(caller, factory.set_haircut, m.pool.address, haircut)
        self._expect("set_haircut", expected, got)
        if got is not None:
            return
        after = self._controls(ctx)
        want = risk.Controls(
            before.position_debt_cap, haircut, before.grace_period, before.grace_end
        )
        if after != want:
            raise laws.LawViolation(f"set_haircut: controls {after}, want {want}")
        if factory.steward_rules(m.pool.address).last_change != boa.env.timestamp:
            raise laws.LawViolation("set_haircut: the change did not restart the cooldown")
        laws.law_haircut_never_changes_health(healths, self._healths(ctx))
        if list(m.pool.positions_to_liquidate(1, 5_000)) != listed:
            raise laws.LawViolation("set_haircut: changed the liquidation list")
        if {pid: self._pos(ctx, pid) for pid in ctx.ids} != positions:
            raise laws.LawViolation("set_haircut: changed a position")
        if caller == self.sys.steward:
            self._stats()["canary/steward_haircut"] += 1

    # --------------------------------------------------------- governance's controls

    @rule(
        pool=st.sampled_from(FUZZED),
        to=st.sampled_from(["config", "under", "under", "ceiling", "ceiling+1", "zero"]),
        who=st.sampled_from(["governance", "governance", "steward"]),
    )
    def set_position_debt_cap(self, pool: str, to: str, who: str) -> None:
        """Governance sets a pool's position debt cap: the config's, half the largest debt
        in the pool (so positions sit above it), the debt ceiling or one wei more, or 0;
        the steward may not."""
        ctx = self.pools[pool]
        m = ctx.market
        p = self._params(ctx)
        rate = m.pool.rate()
        largest = max((risk.debt(self._pos(ctx, i)[1], rate) for i in ctx.ids), default=0)
        cap = {
            "config": m.config.position_debt_cap or p.debt_ceiling,
            "under": largest // 2,
            "ceiling": p.debt_ceiling,
            "ceiling+1": p.debt_ceiling + 1,
            "zero": 0,
        }[to]
        caller = self.admin if who == "governance" else self.sys.steward
        expected = None
        if caller != self.admin:
            expected = "ownable: caller is not the owner"
        elif cap > p.debt_ceiling:
            expected = "risk: position cap above debt ceiling"
        before = self._controls(ctx)
        positions = {pid: self._pos(ctx, pid) for pid in ctx.ids}
        with self._only(ctx):
            got, _ = self._call(caller, self.sys.factory.set_position_debt_cap, m.pool.address, cap)
        self._expect("set_position_debt_cap", expected, got)
        if got is None:
            want = risk.Controls(cap, before.haircut, before.grace_period, before.grace_end)
            if self._controls(ctx) != want or positions != {
                pid: self._pos(ctx, pid) for pid in ctx.ids
            }:
                raise laws.LawViolation(f"set_position_debt_cap: {self._controls(ctx)} != {want}")

    @rule(
        pool=st.sampled_from(FUZZED),
        seconds=st.sampled_from([0, 60, 1_800, MAX_GRACE_PERIOD, MAX_GRACE_PERIOD + 1]),
        who=st.sampled_from(["governance", "governance", "stranger"]),
    )
    def set_grace_period(self, pool: str, seconds: int, who: str) -> None:
        """Governance sets how long liquidations wait after an unpause (at most 4 hours); a
        window already running keeps its end."""
        ctx = self.pools[pool]
        m = ctx.market
        caller = self.admin if who == "governance" else self.keeper
        expected = None
        if caller != self.admin:
            expected = "ownable: caller is not the owner"
        elif seconds > MAX_GRACE_PERIOD:
            expected = "risk: grace period out of bounds"
        before = self._controls(ctx)
        with self._only(ctx):
            got, _ = self._call(caller, self.sys.factory.set_grace_period, m.pool.address, seconds)
        self._expect("set_grace_period", expected, got)
        want = risk.Controls(before.position_debt_cap, before.haircut, seconds, before.grace_end)
        if got is None and self._controls(ctx) != want:
            raise laws.LawViolation(f"set_grace_period: {self._controls(ctx)} != {want}")

    @rule(
        pool=st.sampled_from(FUZZED),
        to=st.sampled_from(["zero", "half", "back", "back"]),
        then=st.sampled_from(["haircut", "grace", None]),
    )
    def set_debt_ceiling(self, pool: str, to: str, then: str | None = None) -> None:
        """Governance cuts a pool's debt ceiling (to 0: the kill switch, or half) or restores
        the config's; caps above the new ceiling stay as they were and are harmless. With
        `then`, governance moves the haircut or the grace period right after (a cap above
        the ceiling must not block them: finding 15-1)."""
        ctx = self.pools[pool]
        m = ctx.market
        original = m.config.params.debt_ceiling
        ceiling = {"zero": 0, "half": original // 2, "back": original}[to]
        params = RiskParams(**{**self._params(ctx).__dict__, "debt_ceiling": ceiling})
        before = self._controls(ctx)
        with self._only(ctx):
            got, _ = self._call(
                self.admin, self.sys.factory.set_risk_params, m.pool.address, params.as_tuple()
            )
        self._expect("set_debt_ceiling", None, got)
        self.params[pool] = params
        if self._controls(ctx) != before:
            raise laws.LawViolation("set_debt_ceiling: changed the controls")
        if then == "haircut":
            self.set_haircut(pool=pool, who="governance", to="up")
        elif then == "grace":
            self.set_grace_period(pool=pool, seconds=60, who="governance")

    # ------------------------------------------------------------- the borrow laws

    def _borrow_laws(self, kind: str, ctx, pid: int, borrowed: bool) -> None:
        """After a successful open, borrow, boost (`borrowed`) or withdraw: the position is
        within the haircut's limit and, when it borrowed, within the position debt cap."""
        coll, norm = self._pos(ctx, pid)
        if norm == 0:
            return
        price, oracle = self._price(ctx)
        if oracle:
            raise laws.LawViolation(f"{kind} went through without a valid price")
        m = ctx.market
        debt = risk.debt(norm, m.pool.rate())
        laws.law_borrow_within_haircut_limit(
            kind, coll, debt, price, self._borrow_ltv(ctx), m.scale
        )
        if borrowed:
            laws.law_borrow_within_position_cap(kind, debt, self._controls(ctx).position_debt_cap)

    def _cap_reason(self, ctx, new_debt: int) -> str | None:
        if new_debt > self._controls(ctx).position_debt_cap:
            return "pool: position debt cap"
        return None

    def _within_borrow_limit(self, ctx, coll: int, debt: int, price: int) -> bool:
        return debt * BPS <= risk.value(coll, price, ctx.market.scale) * self._borrow_ltv(ctx)
