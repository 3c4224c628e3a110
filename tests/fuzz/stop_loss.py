"""Stop-loss rules in the stateful fuzzer: owners (or their operator; strangers are refused)
set a price and a fee on `PositionAutomation`, mostly one that is due at once; keepers close
due positions through `stop_loss`, raced by a second keeper. Every call is predicted
(success or the exact reason); after a success the stop-loss laws of `tests/fuzz/laws.py`
are checked from balances and positions: the keeper paid exactly the whole debt and got at
most debt x (1 + min(rule's fee, pool's bonus)) worth of collateral, the owner got exactly
the rest, supply fell by the debt, the position is empty, the automation holds nothing.

`StopLossRules` is mixed into `BulkheadMachine`, which provides the helpers it calls.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from bulkhead import risk
from tests.fuzz import laws

MAX_PRICE = 10**30  # [wad] the highest price a stop-loss takes (no oracle quotes above it)


class StopLossRules:
    """Setting and carrying out stop-losses; mixed into `BulkheadMachine`."""

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        via=st.sampled_from([0, 0, 0, 1, 2]),
        price=st.sampled_from(["due", "due", "above", "below", "zero", "huge"]),
        fee=st.sampled_from([100, 0, 50, -1, -2]),
    )
    def set_stop_loss(self, pick: int, via: int, price: str, fee: int) -> None:
        """The owner (its operator, or a stranger) sets a stop-loss at the price now (`due`),
        5 % above it (due as well), 10 % under it, 0 (off) or past any oracle quote; fee in
        bps (-1: the pool's bonus, -2: one bps more)."""
        ctx, pid = self._pick(pick)
        m = ctx.market
        owner = m.pool.owner_of(pid)
        who = self._actor(owner, via)
        now = self._price(ctx)[0] or self._feed_price(ctx) or ctx.last_good_answer * 10**10
        value = {
            "due": now,
            "above": now * 105 // 100,
            "below": now * 90 // 100,
            "zero": 0,
            "huge": MAX_PRICE + 1,
        }[price]
        bonus = self._params(ctx).liquidation_bonus
        fee_bps = {-1: bonus, -2: bonus + 1}.get(fee, fee)
        expected = None
        if not self._authorised(owner, who):
            expected = "automation: not owner or operator"
        elif value > MAX_PRICE:
            expected = "automation: price out of bounds"
        elif value > 0 and fee_bps > bonus:
            expected = "automation: fee above pool cap"
        auto = self.sys.automation
        with self._only(None):
            got, _ = self._call(who, auto.set_stop_loss, m.pool.address, pid, value, fee_bps)
        self._expect("set_stop_loss", expected, got)
        if got is None:
            if tuple(auto.stop_loss_rule(m.pool.address, pid)) != (value, fee_bps):
                raise laws.LawViolation(f"stop_loss_rule {pid} != {(value, fee_bps)}")
            self._rules_on(ctx, pid, "stop_loss", value > 0)

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        arm=st.sampled_from([True, True, False]),
        race=st.booleans(),
    )
    def stop_loss(self, pick: int, arm: bool, race: bool) -> None:
        """A keeper carries out a stop-loss; with `race` a second keeper sends the same call
        right after (it finds no rule). With `arm` the owner first sets one that is due."""
        if arm:
            self.set_stop_loss(pick=pick, via=0, price="due", fee=100)
        keys = sorted(self.ruled["stop_loss"])
        if not keys:
            self._count("stop_loss", "no rule")
            return
        name, pid = keys[pick % len(keys)]
        ctx = self.pools[name]
        self._check_due(ctx)
        self._stop_loss(ctx, pid, self.keeper, "stop_loss")
        if race:
            self._stop_loss(ctx, pid, self.rival, "stop_loss.race")

    def _stop_loss(self, ctx, pid: int, keeper: str, name: str) -> None:
        m = ctx.market
        pool = m.pool
        auto = self.sys.automation
        rule_price, rule_fee = auto.stop_loss_rule(pool.address, pid)
        price, oracle = self._price(ctx)
        coll, norm = self._pos(ctx, pid)
        debt = risk.debt(norm, pool.rate())
        expected = None
        if rule_price == 0:
            expected = "automation: no rule"
        elif oracle:
            expected = oracle
        elif price > rule_price:
            expected = "automation: stop-loss not due"
        elif debt == 0:
            expected = "automation: no debt"
        elif not self._acts_for(ctx, pid):
            expected = "pool: not owner or operator"
        self._give(keeper, debt)
        owner = pool.owner_of(pid)
        stable = self.sys.stablecoin
        kept = self._wallet(ctx, keeper)
        wallet = self._wallet(ctx, owner)
        supply = stable.totalSupply()
        with self._only(ctx):
            got, out = self._call(keeper, auto.stop_loss, pool.address, pid)
        self._expect(name, expected, got)
        if got is not None:
            return
        self._debt_op(ctx)
        self._stats()["canary/stop_loss"] += 1
        self._rules_on(ctx, pid, "stop_loss", False)
        p = self._params(ctx)
        got_coll, paid = (a - b for a, b in zip(self._wallet(ctx, keeper), kept))
        if got_coll != out:
            raise laws.LawViolation(f"stop_loss: returned {out}, the keeper got {got_coll}")
        laws.law_stop_loss_keeper_within_fee(
            out, debt, price, m.scale, rule_fee, p.liquidation_bonus
        )
        owner_now = self._wallet(ctx, owner)
        laws.law_stop_loss_settles_exactly(
            debt,
            coll,
            out,
            -paid,
            supply - stable.totalSupply(),
            (owner_now[0] - wallet[0], owner_now[1] - wallet[1]),
            self._pos(ctx, pid),
        )
        if self._wallet(ctx, self.sys.automation.address) != (0, 0):
            raise laws.LawViolation("the automation kept collateral or bhUSD after a stop-loss")
        if tuple(auto.stop_loss_rule(pool.address, pid)) != (0, 0):
            raise laws.LawViolation("stop_loss: the rule was not spent")
