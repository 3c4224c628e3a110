"""Owner rules in the stateful fuzzer: `PositionAutomation`'s protection (a deleverage through
`pool.deleverage`, as the owner's operator), boost and top-up, owners granting and revoking
the automation's operator approval, and governance lowering a pool's bonus under them.

Rules are set by their owner (or refused, with the exact reason), armed so that they are due
at once or made due by price moves, carried out by a keeper with the amount a keeper bot
sends (or a wrong one), and raced by a second keeper, whose call is predicted the same way
(it must fail with the exact reason or do what the state allows). After every success the
automation laws of `tests/fuzz/laws.py` are checked from balances and positions: the result
is within the owner's target, the keeper's fee within min(rule's fee, pool's bonus), the
owner's wallet touched only within the allowance.

`AutomationRules` is mixed into `BulkheadMachine`, which provides the helpers it calls.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from bulkhead import risk
from bulkhead.risk import BPS, WAD, RiskParams
from tests.fuzz import laws

MAX_RULE_HEALTH = 10 * WAD  # [wad] highest trigger or target a rule takes
TOLERANCE = laws.PROTECTION_TOLERANCE
NO_DEBT_HEALTH = 2**256 - 1
DUE_PROTECTION, DUE_BOOST, DUE_TOP_UP, DUE_STOP_LOSS = 1, 2, 4, 8  # `due` bits
FUZZED = ("WETH", "WBTC", "VOL")


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


class AutomationRules:
    """Boost, top-up and deleverage rules; mixed into `BulkheadMachine`."""

    # ------------------------------------------------------------ helpers

    def _health_now(self, ctx, pid: int) -> tuple[int, int, int, int] | None:
        """(health, collateral, normalised debt, rate) from storage at the guard's price;
        None while the price is invalid. Health of a position without debt: max uint256."""
        price, oracle = self._price(ctx)
        if oracle:
            return None
        coll, norm = self._pos(ctx, pid)
        rate = ctx.market.pool.rate()
        debt = _ceil(norm * rate, WAD)
        p = self._params(ctx)
        h = laws.health_of(coll, debt, price, p.liquidation_threshold, ctx.market.scale)
        return (NO_DEBT_HEALTH if h is None else h), coll, norm, rate

    def _wallet(self, ctx, who: str) -> tuple[int, int]:
        return self._balance(ctx.market.token, who), self._balance(self.sys.stablecoin, who)

    @staticmethod
    def _consistent(boost: tuple[int, int], low: tuple[int, int]) -> bool:
        """A boost (trigger, target) and a rule that raises health (top-up or deleverage,
        (trigger, target)) on one position: the boost must start above where the other
        stops and stop at or above where it starts, or keepers could loop it for fees."""
        return not (boost[0] and low[0]) or (boost[0] > low[1] and boost[1] >= low[0])

    def _boost_bounds(self, ctx, pid: int) -> tuple[int, int]:
        return tuple(self.sys.automation.boost_rule(ctx.market.pool.address, pid)[:2])

    def _top_up_bounds(self, ctx, pid: int) -> tuple[int, int]:
        return tuple(self.sys.automation.top_up_rule(ctx.market.pool.address, pid)[:2])

    def _protection_bounds(self, ctx, pid: int) -> tuple[int, int]:
        return self._protection(ctx, pid)[:2]

    def _protection(self, ctx, pid: int) -> tuple[int, int, int]:
        """(trigger, target, max fee) of the position's protection."""
        return tuple(self.sys.automation.protection_of(ctx.market.pool.address, pid))

    def _acts_for(self, ctx, pid: int) -> bool:
        """The automation is the position owner's operator on the pool."""
        pool = ctx.market.pool
        return pool.operators(pool.owner_of(pid), self.sys.automation.address)

    # ------------------------------------------------------- setting rules

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        via=st.sampled_from([0, 0, 0, 1]),
        trigger=st.sampled_from([-1, -1, 0, 1_500, 2_500, 11_000]),
        gap=st.sampled_from([200, 500, 0, 50]),
        fee=st.sampled_from([100, 50, 0, 600, 2_000]),
    )
    def set_boost(self, pick: int, via: int, trigger: int, gap: int, fee: int) -> None:
        """The owner (or its operator: refused) sets a boost: trigger, target in per mille
        (-1: due now, 0.05 under the health), fee in bps."""
        ctx, pid = self._pick(pick)
        pool = ctx.market.pool
        owner = pool.owner_of(pid)
        who = owner if via == 0 else self.operator
        p = self._params(ctx)
        floor = _ceil(p.liquidation_threshold * WAD, p.max_ltv)  # health at max LTV
        if trigger < 0:
            now = self._health_now(ctx, pid)
            if now is None:
                self._count("set_boost", "skipped: no price")
                return
            trigger_wad = min(now[0] - WAD // 20, MAX_RULE_HEALTH)
            target_wad = max(trigger_wad - gap * WAD // 1_000, floor + WAD // 100)
        else:
            trigger_wad = trigger * WAD // 1_000
            target_wad = max(trigger_wad - gap * WAD // 1_000, 0)
        if trigger_wad <= 0:
            trigger_wad = target_wad = 0
        expected = None
        if who != owner:
            expected = "automation: not owner"
        elif trigger_wad > 0:
            if target_wad * p.max_ltv < p.liquidation_threshold * WAD:
                expected = "automation: target above max ltv"
            elif not target_wad < trigger_wad <= MAX_RULE_HEALTH:
                expected = "automation: bad trigger health"
            elif fee > p.liquidation_bonus:
                expected = "automation: fee above pool cap"
            elif not (
                self._consistent((trigger_wad, target_wad), self._top_up_bounds(ctx, pid))
                and self._consistent((trigger_wad, target_wad), self._protection_bounds(ctx, pid))
            ):
                expected = "automation: contradicts another rule"
        auto = self.sys.automation
        with self._only(None):
            got, _ = self._call(
                who, auto.set_boost, pool.address, pid, trigger_wad, target_wad, fee
            )
        self._expect("set_boost", expected, got)
        if got is None:
            want = (trigger_wad, target_wad, fee, 0)
            if tuple(auto.boost_rule(pool.address, pid)) != want:
                raise laws.LawViolation(f"boost_rule {pid} != {want}")
            self._rules_on(ctx, pid, "boost", trigger_wad > 0)

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        via=st.sampled_from([0, 0, 0, 1]),
        trigger=st.sampled_from([-1, -1, 0, 1_200, 1_050, 900]),
        gap=st.sampled_from([200, 500, 0, 3]),
        fee=st.sampled_from([100, 50, 0, 600, 2_000]),
        allowance=st.sampled_from(["enough", "enough", "short", "zero"]),
    )
    def set_top_up(
        self, pick: int, via: int, trigger: int, gap: int, fee: int, allowance: str
    ) -> None:
        """The owner sets a top-up: trigger (-1: due now, 0.05 above the health) and target
        in per mille, fee in bps, and an allowance: twice what reaching the target takes
        (`enough`), half of it, or nothing."""
        ctx, pid = self._pick(pick)
        m = ctx.market
        owner = m.pool.owner_of(pid)
        who = owner if via == 0 else self.operator
        p = self._params(ctx)
        now = self._health_now(ctx, pid)
        if trigger < 0:
            if now is None or now[0] == NO_DEBT_HEALTH:
                self._count("set_top_up", "skipped: no price or no debt")
                return
            trigger_wad = max(now[0] + WAD // 20, WAD + 1)
        else:
            trigger_wad = trigger * WAD // 1_000
        target_wad = trigger_wad + gap * WAD // 1_000 if trigger_wad else 0
        need = m.unit  # one whole unit when the amount cannot be computed
        if now is not None and now[0] != NO_DEBT_HEALTH and target_wad:
            price = self._price(ctx)[0]
            debt = _ceil(now[2] * now[3], WAD)
            need = (
                risk.top_up_amount(
                    now[1],
                    debt,
                    price,
                    p.liquidation_threshold,
                    min(fee, p.liquidation_bonus),
                    target_wad,
                    m.scale,
                )
                or m.unit
            )
        amount = {"enough": 2 * need, "short": need // 2, "zero": 0}[allowance]
        expected = None
        if who != owner:
            expected = "automation: not owner"
        elif trigger_wad > 0:
            if trigger_wad <= WAD:
                expected = "automation: trigger not above 1.0"
            elif not trigger_wad < target_wad <= MAX_RULE_HEALTH:
                expected = "automation: bad target health"
            elif fee > p.liquidation_bonus:
                expected = "automation: fee above pool cap"
            elif not self._consistent(self._boost_bounds(ctx, pid), (trigger_wad, target_wad)):
                expected = "automation: contradicts another rule"
        auto = self.sys.automation
        with self._only(None):
            got, _ = self._call(
                who, auto.set_top_up, m.pool.address, pid, trigger_wad, target_wad, fee, amount
            )
        self._expect("set_top_up", expected, got)
        if got is None:
            want = (trigger_wad, target_wad, fee, amount)
            if tuple(auto.top_up_rule(m.pool.address, pid)) != want:
                raise laws.LawViolation(f"top_up_rule {pid} != {want}")
            self.top_up_allowance[(ctx.name, pid)] = [amount, 0]
            self._rules_on(ctx, pid, "top_up", trigger_wad > 0)

    def _rules_on(self, ctx, pid: int, kind: str, on: bool) -> None:
        key = (ctx.name, pid)
        if on:
            self.ruled[kind].add(key)
        else:
            self.ruled[kind].discard(key)

    @rule(
        pool=st.sampled_from(["WETH", "WBTC", "VOL"]), to=st.sampled_from(["min", "half", "back"])
    )
    def set_bonus(self, pool: str, to: str) -> None:
        """Governance lowers a pool's liquidation bonus (to the minimum, or half) or restores
        it, under the rules already set: their keepers' fees stay within the new bonus."""
        ctx = self.pools[pool]
        m = ctx.market
        original = m.config.params.liquidation_bonus
        bonus = {"min": 50, "half": max(original // 2, 50), "back": original}[to]
        params = RiskParams(**{**self._params(ctx).__dict__, "liquidation_bonus": bonus})
        with self._only(ctx):
            got, _ = self._call(
                self.admin, self.sys.factory.set_risk_params, m.pool.address, params.as_tuple()
            )
        self._expect("set_bonus", None, got)
        self.params[pool] = params
        if RiskParams(*m.pool.risk_params()) != params:
            raise laws.LawViolation(f"set_risk_params did not store {params}")

    # ----------------------------------------------------------- boost

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        amount=st.sampled_from(["aim", "aim", "aim", "double", "half", "zero"]),
        race=st.booleans(),
        arm=st.sampled_from([True, True, False]),
    )
    def boost(self, pick: int, amount: str, race: bool, arm: bool) -> None:
        """A keeper carries out a boost with the amount the bot computes (`aim`) or a wrong
        one; with `race` a second keeper sends the same call right after. With `arm` the
        owner first sets a boost that is due at once."""
        if arm:
            self.set_boost(pick=pick, via=0, trigger=-1, gap=200, fee=100)
        keys = sorted(self.ruled["boost"])
        if not keys:
            self._count("boost", "no rule")
            return
        name, pid = keys[pick % len(keys)]
        ctx = self.pools[name]
        self._check_due(ctx)
        borrow = self._boost_amount(ctx, pid, amount)
        self._boost(ctx, pid, borrow, self.keeper, "boost")
        if race:
            self._boost(ctx, pid, borrow, self.rival, "boost.race")

    def _boost_amount(self, ctx, pid: int, amount: str) -> int:
        """What a keeper bot sends (the mirror's `boost_amounts`), or a wrong amount."""
        now = self._health_now(ctx, pid)
        trigger, target, max_fee, _ = self.sys.automation.boost_rule(ctx.market.pool.address, pid)
        aim = 0
        if now is not None and trigger:
            p = self._params(ctx)
            price = self._price(ctx)[0]
            aim = risk.boost_amounts(
                now[1],
                _ceil(now[2] * now[3], WAD),
                price,
                p.liquidation_threshold,
                min(max_fee, p.liquidation_bonus),
                target,
                ctx.market.scale,
            )[0]
        aim = aim or 1_000 * WAD
        return {"aim": aim, "double": 2 * aim, "half": aim // 2, "zero": 0}[amount]

    def _boost(self, ctx, pid: int, borrow: int, keeper: str, name: str) -> None:
        m = ctx.market
        pool = m.pool
        auto = self.sys.automation
        trigger, target, max_fee, _ = auto.boost_rule(pool.address, pid)
        price, oracle = self._price(ctx)
        p = self._params(ctx)
        threshold = p.liquidation_threshold
        rate = pool.rate()
        coll, norm = self._pos(ctx, pid)
        debt = _ceil(norm * rate, WAD)
        before = laws.health_of(coll, debt, price, threshold, m.scale) if price else 0
        before = NO_DEBT_HEALTH if before is None else before
        fee = min(max_fee, p.liquidation_bonus)
        coll_in = 0
        expected = None
        if borrow == 0:
            expected = "automation: zero amount"
        elif trigger == 0:
            expected = "automation: no rule"
        elif oracle:
            expected = oracle
        elif before <= trigger:
            expected = "automation: boost not due"
        else:
            coll_in = _ceil(borrow * (BPS - fee) // BPS * WAD, price * m.scale)
            if coll_in == 0:
                expected = "pool: zero amount"
            elif not self._acts_for(ctx, pid):
                expected = "pool: not owner or operator"
            elif pool.paused():
                expected = "pool: paused"
            else:
                expected = self._borrow_reason(
                    ctx, coll + coll_in, norm, borrow, rate, price, None, p
                )
            if expected is None:
                new_debt = _ceil((norm + _ceil(borrow * WAD, rate)) * rate, WAD)
                after = laws.health_of(coll + coll_in, new_debt, price, threshold, m.scale)
                if not (target <= after <= target + TOLERANCE and after < before):
                    expected = "automation: result off target"
        owner = pool.owner_of(pid)
        m.token.mint(keeper, coll_in)
        wallet = self._wallet(ctx, owner)
        kept = self._wallet(ctx, keeper)
        with self._only(ctx):
            got, _ = self._call(keeper, auto.boost, pool.address, pid, borrow)
        self._expect(name, expected, got)
        if got is not None:
            return
        self._debt_op(ctx)
        self._stats()["canary/boost"] += 1
        new_coll, new_norm = self._pos(ctx, pid)
        after = laws.health_of(
            new_coll, _ceil(new_norm * pool.rate(), WAD), price, threshold, m.scale
        )
        laws.law_rule_lands_within_target("boost", before, after, target)
        self._borrow_laws("boost", ctx, pid, borrowed=True)
        gave, got_bhusd = (a - b for a, b in zip(kept, self._wallet(ctx, keeper)))
        earned = -got_bhusd - laws.worth(gave, price, m.scale)
        laws.law_keeper_fee_within_cap("boost", earned, borrow, max_fee, p.liquidation_bonus)
        laws.law_owner_wallet_untouched("boost", wallet, self._wallet(ctx, owner))

    # ----------------------------------------------------------- top-up

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        amount=st.sampled_from(["aim", "aim", "aim", "allowance", "above", "zero"]),
        race=st.booleans(),
        arm=st.sampled_from([True, True, False]),
    )
    def top_up(self, pick: int, amount: str, race: bool, arm: bool) -> None:
        """A keeper carries out a top-up with the bot's amount (`aim`), the whole allowance
        left, one unit above it, or nothing; with `race` a second keeper follows. With `arm`
        the owner first sets a top-up that is due at once."""
        if arm:
            self.set_top_up(pick=pick, via=0, trigger=-1, gap=200, fee=100, allowance="enough")
        keys = sorted(self.ruled["top_up"])
        if not keys:
            self._count("top_up", "no rule")
            return
        name, pid = keys[pick % len(keys)]
        ctx = self.pools[name]
        self._check_due(ctx)
        moved = self._top_up_amount(ctx, pid, amount)
        self._top_up(ctx, pid, moved, self.keeper, "top_up")
        if race:
            self._top_up(ctx, pid, moved, self.rival, "top_up.race")

    def _top_up_amount(self, ctx, pid: int, amount: str) -> int:
        now = self._health_now(ctx, pid)
        trigger, target, max_fee, left = self.sys.automation.top_up_rule(
            ctx.market.pool.address, pid
        )
        aim = 0
        if now is not None and trigger and now[0] != NO_DEBT_HEALTH:
            p = self._params(ctx)
            aim = risk.top_up_amount(
                now[1],
                _ceil(now[2] * now[3], WAD),
                self._price(ctx)[0],
                p.liquidation_threshold,
                min(max_fee, p.liquidation_bonus),
                target,
                ctx.market.scale,
            )
        aim = aim or max(left // 2, 1)
        return {"aim": aim, "allowance": left, "above": left + 1, "zero": 0}[amount]

    def _top_up(self, ctx, pid: int, amount: int, keeper: str, name: str) -> None:
        m = ctx.market
        pool = m.pool
        auto = self.sys.automation
        trigger, target, max_fee, left = auto.top_up_rule(pool.address, pid)
        price, oracle = self._price(ctx)
        p = self._params(ctx)
        threshold = p.liquidation_threshold
        coll, norm = self._pos(ctx, pid)
        debt = _ceil(norm * pool.rate(), WAD)
        before = laws.health_of(coll, debt, price, threshold, m.scale) if price else 0
        before = NO_DEBT_HEALTH if before is None else before
        expected = None
        if amount == 0:
            expected = "automation: zero amount"
        elif trigger == 0:
            expected = "automation: no rule"
        elif amount > left:
            expected = "automation: above allowance"
        elif oracle:
            expected = oracle
        elif before >= trigger:
            expected = "automation: top-up not due"
        else:
            fee = amount * min(max_fee, p.liquidation_bonus) // BPS
            if amount - fee == 0:
                expected = "pool: zero amount"
            else:
                after = laws.health_of(coll + amount - fee, debt, price, threshold, m.scale)
                if not (after <= target and after + TOLERANCE >= target):
                    expected = "automation: result off target"
        owner = pool.owner_of(pid)
        short = amount - self._balance(m.token, owner)
        if short > 0 and amount <= left:
            m.token.mint(owner, short)
        wallet = self._wallet(ctx, owner)
        kept = self._balance(m.token, keeper)
        with self._only(ctx):
            got, _ = self._call(keeper, auto.top_up, pool.address, pid, amount)
        self._expect(name, expected, got)
        if got is not None:
            return
        self._stats()["canary/top_up"] += 1
        new_coll, new_norm = self._pos(ctx, pid)
        after = laws.health_of(
            new_coll, _ceil(new_norm * pool.rate(), WAD), price, threshold, m.scale
        )
        laws.law_rule_lands_within_target("top_up", before, after, target)
        earned = self._balance(m.token, keeper) - kept
        laws.law_keeper_fee_within_cap("top_up", earned, amount, max_fee, p.liquidation_bonus)
        allowance = self.top_up_allowance[(ctx.name, pid)]
        allowance[1] += amount
        fell = wallet[0] - self._wallet(ctx, owner)[0]
        laws.law_owner_wallet_within_allowance(amount, fell, allowance[1], allowance[0])
        if self._wallet(ctx, owner)[1] != wallet[1]:
            raise laws.LawViolation("owner_wallet_within_allowance: a top-up moved bhUSD")

    # ------------------------------------------------------- the automation's approval

    @rule(
        who=st.integers(0, 2),
        pool=st.sampled_from(FUZZED),
        approved=st.sampled_from([True, True, False]),
    )
    def set_automation_operator(self, who: int, pool: str, approved: bool) -> None:
        """An owner grants or revokes the automation's operator approval in one pool: while
        revoked, the pool refuses the automation's protections and boosts on his positions
        and `due` lists none of them (top-ups move only his tokens and go on)."""
        ctx = self.pools[pool]
        auto = self.sys.automation.address
        with self._only(ctx):
            got, _ = self._call(self.borrowers[who], ctx.market.pool.set_operator, auto, approved)
        self._expect("set_automation_operator", None, got)
        self._check_due(ctx)

    # ------------------------------------------------------------------- due

    def _check_due(self, ctx) -> None:
        """`due` lists exactly the positions with a rule a keeper could carry out now, each
        with the bits of its due rules: a protection or a top-up below its trigger, a boost
        above it (in an unpaused pool, with a target within the borrow limit), a stop-loss
        at or below its price with a debt; protections, boosts and
        stop-losses only while the automation is the owner's operator, top-ups only with an
        allowance left, owner tokens and a token allowance. Nothing while the price is
        invalid."""
        m = ctx.market
        auto = self.sys.automation
        listed = [(d[0], d[1]) for d in auto.due(m.pool.address, 1, 1_000)]
        want = []
        if self._price(ctx)[1] is None:
            for pid in range(1, min(m.pool.position_count(), 1_000) + 1):
                rules = self._due_rules(ctx, pid)
                if rules:
                    want.append((pid, rules))
        if listed != want:
            raise laws.LawViolation(f"due({ctx.name}) {listed} != {want}")

    def _due_rules(self, ctx, pid: int) -> int:
        m = ctx.market
        auto = self.sys.automation
        pool = m.pool.address
        protection, boost, top_up = (
            auto.protection_rule(pool, pid),
            auto.boost_rule(pool, pid),
            auto.top_up_rule(pool, pid),
        )
        stop_price = auto.stop_loss_rule(pool, pid)[0]
        if not (protection[0] or boost[0] or top_up[0] or stop_price):
            return 0
        health = self._health_now(ctx, pid)[0]
        rules = 0
        if stop_price and self._price(ctx)[0] <= stop_price and health != NO_DEBT_HEALTH:
            rules |= DUE_STOP_LOSS
        if protection[0] and health < protection[0]:
            rules |= DUE_PROTECTION
        # a boost borrows: not in a paused pool, and only to a target within the borrow
        # limit (max LTV less the haircut), whose health is threshold / that limit
        threshold = self._params(ctx).liquidation_threshold
        if (
            boost[0]
            and health > boost[0]
            and not m.pool.paused()
            and boost[1] * self._borrow_ltv(ctx) >= threshold * WAD
        ):
            rules |= DUE_BOOST
        if top_up[0] and health < top_up[0] and top_up[3] > 0:
            rules |= DUE_TOP_UP
        owner = m.pool.owner_of(pid)
        if not self._acts_for(ctx, pid):  # protections, boosts and stop-losses act as it
            rules &= DUE_TOP_UP
        funded = self._balance(m.token, owner) > 0 and m.token.allowance(owner, auto.address) > 0
        if not funded:
            rules &= ~DUE_TOP_UP
        return rules

    # ------------------------------------------------------------ protection

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        via=st.sampled_from([0, 0, 1, 2]),
        trigger=st.sampled_from([1_200, 0, 1_400, 1_100, 2_000, 1_000, 1_050]),
        gap=st.sampled_from([150, 300, 300, 0, 1_000, 10_000, 3]),
        fee=st.sampled_from([50, 100, 500, 2_000]),
    )
    def set_protection(self, pick: int, via: int, trigger: int, gap: int, fee: int) -> None:
        """The owner (or its operator, or a stranger) sets a deleverage protection: trigger
        and target health in per mille, fee in bps."""
        ctx, pid = self._pick(pick)
        m = ctx.market
        owner = m.pool.owner_of(pid)
        who = self._actor(owner, via)
        trigger_wad = trigger * WAD // 1_000
        target_wad = (trigger + gap) * WAD // 1_000
        expected = None
        if not self._authorised(owner, who):
            expected = "automation: not owner or operator"
        elif trigger_wad > 0:
            if trigger_wad <= WAD:
                expected = "automation: trigger not above 1.0"
            elif target_wad <= trigger_wad or target_wad > MAX_RULE_HEALTH:
                expected = "automation: bad target health"
            elif fee > self._params(ctx).liquidation_bonus:
                expected = "automation: fee above pool cap"
            elif not self._consistent(self._boost_bounds(ctx, pid), (trigger_wad, target_wad)):
                expected = "automation: contradicts another rule"
        auto = self.sys.automation
        with self._only(None):
            got, _ = self._call(
                who, auto.set_protection, m.pool.address, pid, trigger_wad, target_wad, fee
            )
        self._expect("set_protection", expected, got)
        if got is None and self._protection(ctx, pid) != (trigger_wad, target_wad, fee):
            raise laws.LawViolation(f"protection_of {pid} != {(trigger_wad, target_wad, fee)}")

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        due=st.sampled_from([True, True, False]),
        amount=st.sampled_from(["aim", "aim", "double", "half", "zero", "debt", "search"]),
        arm=st.sampled_from([None, "wide", "wide", "narrow"]),
        race=st.booleans(),
    )
    def auto_deleverage(
        self, pick: int, due: bool, amount: str, arm: str | None, race: bool
    ) -> None:
        """A keeper carries out a protection with the repay the bot would send (`aim`), one
        found by bisection on the definition of health (`search`), or a wrong one; the mirror
        predicts success or the exact reason; with `race` a second keeper sends the same
        call. With `arm`, the owner of a position with debt first sets a protection that is
        due at once: `wide` (trigger 0.05 above its health, target 0.2 above that) or
        `narrow` (trigger 0.001 above, target 0.003 above that: the preview's edge)."""
        if arm:
            self._arm_protection(pick, arm)
        protected = [
            (c, i)
            for c in self.pools.values()
            for i in c.ids
            if self._due(c, i) or (not due and self._protection(c, i)[0] > 0)
        ]
        if due and not protected:
            self._count("auto_deleverage", "none due")
            return
        ctx, pid = protected[pick % len(protected)] if protected else self._pick(pick)
        m = ctx.market
        trigger, target, max_fee = self._protection(ctx, pid)
        coll, norm = self._pos(ctx, pid)
        price, _ = self._price(ctx)
        p = self._params(ctx)
        debt = risk.debt(norm, m.pool.rate())
        fee = min(max_fee, p.liquidation_bonus)
        threshold = p.liquidation_threshold
        before = risk.health(coll, debt, price, threshold, m.scale) if price else 0
        # the keeper's views: `due` lists exactly what a keeper could carry out, and the
        # lens previews exactly what the mirror computes
        self._check_due(ctx)
        lens = self.sys.lens
        mirror = (0, 0, 0)
        if price and trigger and debt and before < trigger:
            mirror = risk.deleverage_amounts(coll, debt, price, threshold, fee, target, m.scale)
        preview_reason, preview = self._call(
            self.keeper, lens.preview_auto_deleverage, m.pool.address, pid
        )
        if preview_reason is None and tuple(preview) != tuple(mirror):
            raise laws.LawViolation(f"preview_auto_deleverage {pid} != mirror {mirror}")
        aim = mirror[0] or debt // 10  # no amount lands on the target: a plausible wrong one
        repay = {
            "aim": aim,
            "double": 2 * aim,
            "half": aim // 2,
            "zero": 0,
            "debt": debt,
            "search": self._search_repay(ctx, pid) or aim,
        }[amount]
        got = self._deleverage(ctx, pid, repay, self.keeper, "auto_deleverage")
        if self._acts_for(ctx, pid):  # the preview cannot know the approval
            laws.law_preview_never_reverts_where_action_succeeds(
                "preview_auto_deleverage", preview_reason, got
            )
        if race:
            self._deleverage(ctx, pid, repay, self.rival, "auto_deleverage.race")

    def _deleverage(self, ctx, pid: int, repay: int, keeper: str, name: str) -> str | None:
        """One `auto_deleverage` call, predicted; on success the automation laws."""
        m = ctx.market
        trigger, target, max_fee = self._protection(ctx, pid)
        coll, norm = self._pos(ctx, pid)
        price, oracle = self._price(ctx)
        p = self._params(ctx)
        rate = m.pool.rate()
        debt = risk.debt(norm, rate)
        fee = min(max_fee, p.liquidation_bonus)
        threshold = p.liquidation_threshold
        before = risk.health(coll, debt, price, threshold, m.scale) if price else 0
        expected = None
        if repay == 0:
            expected = "automation: zero amount"
        elif trigger == 0:
            expected = "automation: no rule"
        elif oracle:
            expected = oracle
        elif before >= trigger:
            expected = "automation: protection not due"
        elif repay >= debt:
            expected = "automation: repay above debt"
        else:
            # the keeper's bhUSD moves to the automation, which calls `pool.deleverage`
            self._give(keeper, repay)
            out = repay * (BPS + fee) // BPS * WAD // (price * m.scale)
            authorised = self._acts_for(ctx, pid)
            expected = self._deleverage_reason(ctx, authorised, coll, norm, rate, repay, out)
            if expected is None:
                new_debt = risk.debt(norm - repay * WAD // rate, rate)
                after = risk.health(coll - out, new_debt, price, threshold, m.scale)
                if not (after <= target and after + TOLERANCE >= target and after > before):
                    expected = "automation: result off target"
        seen = self._deleverage_seen(ctx, pid, repay, keeper)
        with self._only(ctx):
            got, _ = self._call(
                keeper, self.sys.automation.auto_deleverage, m.pool.address, pid, repay
            )
        self._expect(name, expected, got)
        if got is not None:
            return got
        self._debt_op(ctx)
        self._stats()["canary/auto_deleverage"] += 1
        self._deleverage_laws(ctx, pid, seen)
        self._owner_deleverage_laws(ctx, pid, (coll, norm), price)
        return None

    def _arm_protection(self, pick: int, width: str | bool = "wide") -> None:
        with_debt = [(c, i) for c in self.pools.values() for i in c.ids if self._pos(c, i)[1]]
        if not with_debt:
            return
        ctx, pid = with_debt[pick % len(with_debt)]
        price, oracle = self._price(ctx)
        if oracle:
            return
        coll, norm = self._pos(ctx, pid)
        debt = risk.debt(norm, ctx.market.pool.rate())
        threshold = self._params(ctx).liquidation_threshold
        health = risk.health(coll, debt, price, threshold, ctx.market.scale)
        narrow = width == "narrow"  # (any other value, True included: wide)
        above, gap = (WAD // 1_000, 3 * WAD // 1_000) if narrow else (WAD // 20, WAD // 5)
        trigger = max(health + above, WAD + 1)
        if trigger + gap > MAX_RULE_HEALTH:
            return
        owner = ctx.market.pool.owner_of(pid)
        fee = min(100, self._params(ctx).liquidation_bonus)
        consistent = self._consistent(self._boost_bounds(ctx, pid), (trigger, trigger + gap))
        auto = self.sys.automation
        with self._only(None):
            got, _ = self._call(
                owner,
                auto.set_protection,
                ctx.market.pool.address,
                pid,
                trigger,
                trigger + gap,
                fee,
            )
        self._expect(
            "arm_protection", None if consistent else "automation: contradicts another rule", got
        )

    def _due(self, ctx, pid: int) -> bool:
        """The position has a protection whose trigger is above its health now."""
        trigger = self._protection(ctx, pid)[0]
        price, oracle = self._price(ctx)
        if trigger == 0 or oracle:
            return False
        coll, norm = self._pos(ctx, pid)
        debt = risk.debt(norm, ctx.market.pool.rate())
        threshold = self._params(ctx).liquidation_threshold
        return debt > 0 and risk.health(coll, debt, price, threshold, ctx.market.scale) < trigger

    def _search_repay(self, ctx, pid: int) -> int:
        """A repay that lands a due deleverage in [target - 0.01, target], found by bisection
        on the definition of health (no mirror); 0 when none does."""
        trigger, target, max_fee = self._protection(ctx, pid)
        price, oracle = self._price(ctx)
        coll, norm = self._pos(ctx, pid)
        if oracle or not trigger or not norm:
            return 0
        m = ctx.market
        p = self._params(ctx)
        rate = m.pool.rate()
        debt = _ceil(norm * rate, WAD)
        fee = min(max_fee, p.liquidation_bonus)

        def after(repay: int) -> int:
            out = repay * (BPS + fee) // BPS * WAD // (price * m.scale)
            if out > coll:
                return NO_DEBT_HEALTH
            new_debt = _ceil((norm - repay * WAD // rate) * rate, WAD)
            return laws.health_of(coll - out, new_debt, price, p.liquidation_threshold, m.scale)

        lo, hi = 0, debt - 1  # the largest repay whose result is at most the target
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if after(mid) <= target:
                lo = mid
            else:
                hi = mid - 1
        if _ceil((norm - lo * WAD // rate) * rate, WAD) < p.min_debt:
            return 0  # the pool keeps a debt at or above the minimum
        return lo if lo and after(lo) + TOLERANCE >= target else 0

    def _deleverage_laws(self, ctx, pid: int, seen: tuple) -> None:
        """After a successful `auto_deleverage`: target, fee cap and the owner's wallet."""
        before, target, repay, max_fee, price, wallet, kept, keeper = seen
        m = ctx.market
        p = self._params(ctx)
        coll, norm = self._pos(ctx, pid)
        after = laws.health_of(
            coll, _ceil(norm * m.pool.rate(), WAD), price, p.liquidation_threshold, m.scale
        )
        laws.law_rule_lands_within_target("deleverage", before, after, target)
        out = self._balance(m.token, keeper) - kept[0]
        paid = kept[1] - self._balance(self.sys.stablecoin, keeper)
        earned = laws.worth(out, price, m.scale) - paid
        laws.law_keeper_fee_within_cap("deleverage", earned, repay, max_fee, p.liquidation_bonus)
        owner = m.pool.owner_of(pid)
        laws.law_owner_wallet_untouched("deleverage", wallet, self._wallet(ctx, owner))
        if self._wallet(ctx, self.sys.automation.address) != (0, 0):
            raise laws.LawViolation("the automation kept collateral or bhUSD after a deleverage")

    def _deleverage_seen(self, ctx, pid: int, repay: int, keeper: str) -> tuple:
        m = ctx.market
        trigger, target, max_fee = self._protection(ctx, pid)
        price = self._price(ctx)[0]
        now = self._health_now(ctx, pid)
        before = now[0] if now else 0
        owner = m.pool.owner_of(pid)
        kept = self._wallet(ctx, keeper)
        return before, target, repay, max_fee, price, self._wallet(ctx, owner), kept, keeper
