"""The protocol's economic laws as hypothesis property tests on titanoboa, one test per law.

Each test builds a state directly (a position, a price that puts it where the law bites, a
rule that is due), lets the protocol act, and checks one law of `tests/fuzz/laws.py` from
balances, positions, the reserve, bad debt and supply at the oracle price. Nothing here asks
`bulkhead.risk` what the contract should do. The stateful fuzzer checks the same laws on
random sequences; these tests aim at the edges (the equity band between debt x (1 + fee)
and the full penalty, positions under water, a protection just under its target, a bonus
lowered under a rule).

`BULKHEAD_FUZZ_PROFILE=ci` (inside `make test`): few derandomized examples per law.
`BULKHEAD_FUZZ_PROFILE=audit` (`make audit`): many random ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import boa
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from bulkhead.risk import RiskParams
from tests.fuzz import laws as law
from tests.fuzz.machine import FUZZED, MAX_FEE, MAX_UINT, balance, revert_reason

WAD = law.WAD
BPS = law.BPS
YEAR = 365 * 86_400

settings.register_profile(
    "laws-ci",
    max_examples=12,
    deadline=None,
    database=None,
    derandomize=True,
    # reported unshrunk in CI (derandomized: the same examples reproduce it); audit shrinks
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
settings.register_profile(
    "laws-audit",
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
LAWS = settings.get_profile(f"laws-{os.environ.get('BULKHEAD_FUZZ_PROFILE', 'ci')}")

pools = st.sampled_from(FUZZED)


class _Quiet:
    """The deployment, printed as one word in a failing example."""

    def __init__(self, system):
        self._system = system

    def __getattr__(self, name):
        return getattr(self._system, name)

    def __repr__(self) -> str:
        return "system"


@pytest.fixture(scope="module")
def system(fuzz_system):
    """The fuzzer's deployment (empty pools, funded actors); every example runs in an
    anchor of it. The laws here are about liquidations and rules at any size: each pool's
    position debt cap is lifted to its debt ceiling (the caps' own laws are in the
    stateful fuzzer and `tests/mutation/test_laws_controls.py`)."""
    with boa.env.prank(fuzz_system.admin):
        for name in FUZZED:
            pool = fuzz_system.markets[name].pool
            fuzz_system.factory.set_position_debt_cap(pool.address, _params_of(pool).debt_ceiling)
    return _Quiet(fuzz_system)


def _params_of(pool) -> RiskParams:
    return RiskParams(*pool.risk_params())


sizes = st.one_of(st.sampled_from([200, 2_000, 1_700_000]), st.integers(150, 3_000_000))


# ------------------------------------------------------------------ helpers


@dataclass
class Actors:
    owner: str
    keeper: str
    rival: str
    whale: str


def _actors(system) -> Actors:
    borrowers, _operator, keeper, whale, rival = system.actors
    return Actors(borrowers[0], keeper, rival, whale)


def _call(sender: str, fn, *args):
    """(None, result) or (revert reason, None)."""
    try:
        with boa.env.prank(sender):
            return None, fn(*args)
    except boa.BoaError as err:
        return revert_reason(err), None


def _params(market) -> RiskParams:
    return RiskParams(*market.pool.risk_params())


def _price(market) -> int:
    price, status = market.pool.price_status()
    assert status == 0, f"oracle status {status}"
    return price


def _set_price(market, price: int) -> int:
    """Post `price` [wad]; past the jump bound the guard holds it for a heartbeat."""
    answer = max(price // 10**10, 1)
    market.feed.set_answer(answer)
    if market.pool.price_status()[1] != 0:
        boa.env.time_travel(seconds=market.config.heartbeat + 1)
        market.feed.set_answer(answer)
    return _price(market)


def _give(system, who: str, amount: int) -> None:
    with boa.env.prank(_actors(system).whale):
        system.stablecoin.transfer(who, amount)


def _open(market, owner: str, usd: int, ltv: int) -> int:
    """A position with collateral worth `usd` dollars (at least what the minimum debt needs)
    and debt at `ltv` bps of it."""
    price = _price(market)
    usd = max(usd, (_params(market).min_debt // WAD + 2) * BPS // max(ltv, 1) + 1)
    coll = usd * WAD * WAD // (price * market.scale)
    debt = law.worth(coll, price, market.scale) * ltv // BPS
    market.token.mint(owner, coll)
    with boa.env.prank(owner):
        return market.pool.open(coll, debt)


def _position(market, pid: int) -> tuple[int, int]:
    """(collateral, debt) from the pool's views."""
    return market.pool.collateral_of(pid), market.pool.debt_of(pid)


def _wealth(system, market, owner: str, price: int) -> int:
    """bhUSD + wallet collateral at the price + max(value - debt, 0) of each position."""
    total = balance(system.stablecoin, owner) + law.worth(
        balance(market.token, owner), price, market.scale
    )
    for pid in range(1, market.pool.position_count() + 1):
        if market.pool.owner_of(pid) == owner:
            total += law.equity(*_position(market, pid), price, market.scale)
    return total


def _terms(market) -> law.Terms:
    p = _params(market)
    return law.Terms(
        p.liquidation_fee,
        p.liquidation_bonus,
        p.liquidation_tip,
        p.liquidation_threshold,
        market.scale,
    )


@dataclass
class Liquidated:
    seen: law.LiquidationSeen
    wealth_before: int
    wealth_after: int


def _liquidation(system, pool: str, usd: int, ratio: float, by_owner: bool) -> Liquidated:
    """Open at max LTV, move the price so that value = `ratio` x debt, and liquidate with no
    cap, by a keeper or by the owner himself."""
    market = system.markets[pool]
    a = _actors(system)
    p = _params(market)
    pid = _open(market, a.owner, usd, p.max_ltv)
    coll, debt = _position(market, pid)
    price = _set_price(
        market, int(_price(market) * ratio * debt / law.worth(coll, _price(market), market.scale))
    )
    coll, debt = _position(market, pid)
    value = law.worth(coll, price, market.scale)
    assume(value * p.liquidation_threshold < debt * BPS)  # unhealthy at the posted price
    who = a.owner if by_owner else a.keeper
    _give(system, who, 2 * debt)
    pool_ = market.pool
    wealth = _wealth(system, market, a.owner, price)
    spent = balance(system.stablecoin, who), balance(market.token, who)
    pool_.accrue()  # the liquidation accrues first: its reserve starts from the accrued one
    reserve, bad = pool_.reserve(), pool_.bad_debt()
    got, _ = _call(who, pool_.liquidate, pid, MAX_UINT, 0)
    assert got is None, f"liquidating an unhealthy position reverted: {got}"
    new_coll, new_debt = _position(market, pid)
    seen = law.LiquidationSeen(
        price=price,
        terms=_terms(market),
        coll_before=coll,
        debt_before=debt,
        coll_after=new_coll,
        debt_after=new_debt,
        paid=spent[0] - balance(system.stablecoin, who),
        out=balance(market.token, who) - spent[1],
        reserve_before=reserve,
        reserve_after=pool_.reserve(),
        bad_debt_before=bad,
        bad_debt_after=pool_.bad_debt(),
    )
    return Liquidated(seen, wealth, _wealth(system, market, a.owner, price))


def _band(pool: str, system, low: str, draw: float) -> float:
    """A value/debt ratio from `low` ("under": 0.3, "fee": 1 + fee, "equity": 1) up to
    just under the liquidation threshold's 1 / threshold."""
    p = _params(system.markets[pool])
    start = {"under": 0.3, "equity": 1.0 + 1e-6, "fee": 1.0 + p.liquidation_fee / BPS}[low]
    end = BPS / p.liquidation_threshold - 1e-4
    return start + (end - start) * draw


unit = st.floats(0, 1, allow_nan=False)


# --------------------------------------------------------- liquidation laws


@LAWS
@given(pool=pools, usd=sizes, draw=unit, by_owner=st.booleans())
def test_liquidation__value_at_least_debt_plus_fee__reserve_and_bad_debt_untouched(
    system, pool, usd, draw, by_owner
) -> None:
    with boa.env.anchor():
        done = _liquidation(system, pool, usd, _band(pool, system, "fee", draw), by_owner)
        assume(done.seen.covers_debt_and_fee)
        law.law_reserve_untouched_while_value_covers_debt_and_fee(done.seen)


@LAWS
@given(pool=pools, usd=sizes, draw=unit)
def test_self_liquidation__any_value__never_beats_close(system, pool, usd, draw) -> None:
    with boa.env.anchor():
        done = _liquidation(system, pool, usd, _band(pool, system, "under", draw), True)
        law.law_self_liquidation_never_beats_close(done.wealth_before, done.wealth_after)


@LAWS
@given(pool=pools, usd=sizes, draw=unit, by_owner=st.booleans())
def test_liquidation__position_with_equity__health_never_falls(
    system, pool, usd, draw, by_owner
) -> None:
    with boa.env.anchor():
        ratio = _band(pool, system, "equity", draw)
        done = _liquidation(system, pool, usd, ratio, by_owner)
        law.law_liquidation_keeps_health_of_position_with_equity(done.seen)


@LAWS
@given(pool=pools, usd=sizes, draw=unit, by_owner=st.booleans())
def test_liquidation__any_value__owner_loss_within_fee_bonus_and_tip(
    system, pool, usd, draw, by_owner
) -> None:
    with boa.env.anchor():
        done = _liquidation(system, pool, usd, _band(pool, system, "under", draw), by_owner)
        law.law_owner_loss_within_fee_bonus_and_tip(done.seen)


# ---------------------------------------------------------- accounting laws


actions = st.lists(
    st.tuples(
        st.sampled_from(["open", "borrow", "repay", "wait", "liquidate", "crash"]),
        st.integers(0, 2**16),
    ),
    min_size=1,
    max_size=12,
)


def _act(system, pool: str, steps: list) -> int:
    """Random opens, borrows, repays, waits, crashes and liquidations in one pool; the
    number of debt changes made (each may round by 1 + ceil(rate) wei)."""
    market = system.markets[pool]
    a = _actors(system)
    ops = 0
    for kind, n in steps:
        ids = list(range(1, market.pool.position_count() + 1))
        pid = ids[n % len(ids)] if ids else 0
        if kind == "open" or not ids:
            _open(market, a.owner, 150 + n * 37, 1_000 + n % (_params(market).max_ltv - 999))
        elif kind == "borrow":
            got, _ = _call(market.pool.owner_of(pid), market.pool.borrow, pid, 1 + n * 10**15)
        elif kind == "repay":
            _give(system, a.keeper, market.pool.debt_of(pid))
            got, _ = _call(a.keeper, market.pool.repay, pid, n * 10**16 + 1)
        elif kind == "wait":
            boa.env.time_travel(seconds=n * 613)
            market.feed.set_answer(market.feed.latestRoundData()[1])
        elif kind == "crash":
            _set_price(market, _price(market) * (BPS - n % 4_000) // BPS)
        else:
            _give(system, a.keeper, 2 * market.pool.debt_of(pid) + 1)
            got, _ = _call(a.keeper, market.pool.liquidate, pid, MAX_UINT, 0)
        ops += 1
    return ops


@LAWS
@given(pool=pools, steps=actions)
def test_debts__random_actions__sum_to_the_pool_total_within_rounding(system, pool, steps) -> None:
    with boa.env.anchor():
        _act(system, pool, steps)
        market = system.markets[pool]
        debts = [market.pool.debt_of(i) for i in range(1, market.pool.position_count() + 1)]
        law.law_debts_sum_to_total(pool, debts, market.pool.total_debt())


@LAWS
@given(pool=pools, steps=actions)
def test_accounting__random_actions__supply_and_reserves_match_debts_and_bad_debt(
    system, pool, steps
) -> None:
    with boa.env.anchor():
        for market in system.markets.values():
            market.pool.accrue()
        gap = _identity_gap(system)
        ops = _act(system, pool, steps)
        for market in system.markets.values():
            market.pool.accrue()  # both sides at the same accrual
        supply = system.stablecoin.totalSupply()
        reserves = sum(m.pool.reserve() for m in system.markets.values())
        debts = sum(m.pool.total_debt() for m in system.markets.values())
        bad = sum(m.pool.bad_debt() for m in system.markets.values())
        # the deployment's own rounding (`gap`) plus 1 + ceil(rate) <= 4 wei per change
        law.law_supply_and_reserves_match_debts_and_bad_debt(
            supply, reserves, debts - gap, bad, 4 * ops + len(system.markets)
        )


def _identity_gap(system) -> int:
    markets = system.markets.values()
    return (
        sum(m.pool.total_debt() + m.pool.bad_debt() - m.pool.reserve() for m in markets)
        - system.stablecoin.totalSupply()
    )


@LAWS
@given(
    pool=pools,
    fee=st.one_of(st.just(MAX_FEE), st.integers(0, MAX_FEE)),
    seconds=st.one_of(st.sampled_from([YEAR, 2 * YEAR, 5 * YEAR]), st.integers(1, 5 * YEAR)),
    parts=st.integers(2, 30),
)
def test_accrual__any_gap_and_split__independent_of_call_frequency(
    system, pool, fee, seconds, parts
) -> None:
    market = system.markets[pool]
    params = RiskParams(**{**_params(market).__dict__, "stability_fee": fee})
    with boa.env.anchor():
        with boa.env.prank(system.admin):
            system.factory.set_risk_params(market.pool.address, params.as_tuple())
        market.pool.accrue()
        start = market.pool.rate()
        with boa.env.anchor():
            boa.env.time_travel(seconds=seconds)
            market.pool.accrue()
            once = market.pool.rate()
        step = seconds // parts
        for i in range(parts):
            boa.env.time_travel(seconds=step if i < parts - 1 else seconds - step * (parts - 1))
            market.pool.accrue()
        law.law_accrual_independent_of_call_frequency(once, market.pool.rate(), start, fee, seconds)


# ---------------------------------------------------------------- previews


def _health(market, pid: int) -> int:
    coll, debt = _position(market, pid)
    p = _params(market)
    return law.health_of(coll, debt, _price(market), p.liquidation_threshold, market.scale)


def _deleverage_repay(system, market, pid: int) -> int:
    """A repay that lands the protection in [target - 0.01, target], by bisection on the
    definition of health; 0 when none does."""
    trigger, target, max_fee = system.automation.protection_of(market.pool.address, pid)
    coll, debt = _position(market, pid)
    norm, rate = market.pool.normalised_debt_of(pid), market.pool.rate()
    p = _params(market)
    price = _price(market)
    fee = min(max_fee, p.liquidation_bonus)

    def after(repay: int) -> int:
        out = repay * (BPS + fee) // BPS * WAD // (price * market.scale)
        if out > coll:
            return 2**256 - 1
        new_debt = -(-(norm - repay * WAD // rate) * rate // WAD)
        return law.health_of(coll - out, new_debt, price, p.liquidation_threshold, market.scale)

    lo, hi = 0, debt - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if after(mid) <= target else (lo, mid - 1)
    left = -(-(norm - lo * WAD // rate) * rate // WAD)
    if left < p.min_debt:  # the pool keeps a debt at or above the minimum
        return 0
    return lo if lo and after(lo) + law.PROTECTION_TOLERANCE >= target else 0


@LAWS
@given(
    pool=pools,
    usd=sizes,
    ltv=st.integers(2_000, 10_000),
    above=st.sampled_from([10**15, 10**16, 5 * 10**16]),
    gap=st.sampled_from([10**15, 3 * 10**15, 4 * 10**15, 2 * 10**17]),
    which=st.sampled_from(["preview_auto_deleverage", "max_borrow"]),
)
def test_previews__due_protection_or_open_position__never_revert_where_the_action_succeeds(
    system, pool, usd, ltv, above, gap, which
) -> None:
    """`preview_auto_deleverage` for a protection due just under its trigger (target - trigger
    from 0.001 to 0.2), `max_borrow` for an open position: where the action succeeds (with a
    repay found by bisection, or the previewed borrow), the preview answers. The liquidation
    preview is checked in the liquidation tests' states by the next test."""
    market = system.markets[pool]
    a = _actors(system)
    lens = system.lens
    with boa.env.anchor():
        p = _params(market)
        pid = _open(market, a.owner, usd, p.max_ltv * ltv // BPS)
        if which == "max_borrow":
            preview, amount = _call(a.owner, lens.max_borrow, market.pool.address, pid)
            action, _ = _call(a.owner, market.pool.borrow, pid, amount or 10**18)
        else:
            health = _health(market, pid)
            assume(health is not None)
            trigger = max(health + above, WAD + 1)
            auto = system.automation
            with boa.env.prank(a.owner):
                auto.set_protection(
                    market.pool.address, pid, trigger, trigger + gap, min(100, p.liquidation_bonus)
                )
            repay = _deleverage_repay(system, market, pid)
            assume(repay > 0)
            preview, _ = _call(a.keeper, lens.preview_auto_deleverage, market.pool.address, pid)
            _give(system, a.keeper, repay)
            action, _ = _call(a.keeper, auto.auto_deleverage, market.pool.address, pid, repay)
        law.law_preview_never_reverts_where_action_succeeds(which, preview, action)


@LAWS
@given(pool=pools, usd=sizes, draw=unit, cap=st.sampled_from([MAX_UINT, 10**18, 10**22]))
def test_previews__unhealthy_position__preview_liquidate_answers_where_liquidate_succeeds(
    system, pool, usd, draw, cap
) -> None:
    market = system.markets[pool]
    a = _actors(system)
    with boa.env.anchor():
        p = _params(market)
        pid = _open(market, a.owner, usd, p.max_ltv)
        coll, debt = _position(market, pid)
        ratio = _band(pool, system, "under", draw)
        _set_price(
            market,
            int(_price(market) * ratio * debt / law.worth(coll, _price(market), market.scale)),
        )
        preview, _ = _call(a.keeper, system.lens.preview_liquidate, market.pool.address, pid, cap)
        _give(system, a.keeper, 2 * debt)
        action, _ = _call(a.keeper, market.pool.liquidate, pid, cap, 0)
        law.law_preview_never_reverts_where_action_succeeds("preview_liquidate", preview, action)


# ---------------------------------------------------------- automation laws


@dataclass
class Carried:
    kind: str
    before: int
    after: int
    target: int
    fee: int  # what the keeper earned [wad for boost and deleverage, collateral for top-up]
    amount: int  # borrowed, moved or repaid
    rule_fee: int
    bonus: int
    wallet_before: tuple
    wallet_after: tuple
    allowance: int
    race: str | None  # the second keeper's revert reason (None: it did something)


def _wallet(system, market, who: str) -> tuple[int, int]:
    return balance(market.token, who), balance(system.stablecoin, who)


def _rule(system, kind: str, pool: str, ltv: int, usd: int, fee: int, lower_bonus: bool):
    """Open a position, set a `kind` rule due at once (fee `fee` bps), then maybe let
    governance lower the bonus to its minimum under it; returns the market and the id."""
    market = system.markets[pool]
    a = _actors(system)
    p = _params(market)
    pid = _open(market, a.owner, usd, ltv)
    health = _health(market, pid)
    auto = system.automation
    fee = min(fee, p.liquidation_bonus)
    with boa.env.prank(a.owner):
        if kind == "boost":
            floor = -(-p.liquidation_threshold * WAD // p.max_ltv)
            trigger = health - WAD // 20
            assume(trigger - WAD // 5 > floor)
            auto.set_boost(market.pool.address, pid, trigger, trigger - WAD // 5, fee)
        elif kind == "top_up":
            trigger = max(health + WAD // 20, WAD + 1)
            market.token.mint(a.owner, 10 * market.pool.collateral_of(pid))
            allowance = 10 * market.pool.collateral_of(pid)
            auto.set_top_up(market.pool.address, pid, trigger, trigger + WAD // 5, fee, allowance)
        else:
            trigger = max(health + WAD // 20, WAD + 1)
            auto.set_protection(market.pool.address, pid, trigger, trigger + WAD // 5, fee)
    if lower_bonus:
        low = RiskParams(**{**p.__dict__, "liquidation_bonus": 50})
        with boa.env.prank(system.admin):
            system.factory.set_risk_params(market.pool.address, low.as_tuple())
    return market, pid


def _amount(system, kind: str, market, pid: int) -> int:
    """The amount that lands the rule in the middle of its window (as keepers aim), by
    bisection on the definition of health at the fee min(rule's fee, pool's bonus); 0 when
    none does. The middle leaves room for a contract that takes a different fee, so that
    the fee law, not the target check, is what judges it."""
    if kind == "deleverage":
        return _deleverage_repay(system, market, pid)
    auto = system.automation
    rule = (auto.boost_rule if kind == "boost" else auto.top_up_rule)(market.pool.address, pid)
    target = rule[1]
    p = _params(market)
    price = _price(market)
    coll, debt = _position(market, pid)
    norm, rate = market.pool.normalised_debt_of(pid), market.pool.rate()
    fee = min(rule[2], p.liquidation_bonus)
    threshold, scale = p.liquidation_threshold, market.scale

    def after(amount: int) -> int:
        if kind == "boost":
            coll_in = -(-(amount * (BPS - fee) // BPS * WAD) // (price * scale))
            new_debt = -(-(norm + -(-amount * WAD // rate)) * rate // WAD)
            return law.health_of(coll + coll_in, new_debt, price, threshold, scale)
        return law.health_of(coll + amount - amount * fee // BPS, debt, price, threshold, scale)

    tol = law.PROTECTION_TOLERANCE
    lo, hi = 0, 100 * (debt if kind == "boost" else coll) + 10**30
    if kind == "boost":  # health falls with the borrow: the largest one still at the target
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if after(mid) >= target + tol // 2 else (lo, mid - 1)
        return lo if lo and after(lo) <= target + tol else 0
    while lo < hi:  # health rises with the top-up: the largest one still at the target
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if after(mid) <= target - tol // 2 else (lo, mid - 1)
    return lo if lo and after(lo) + tol >= target else 0


def _carry_out(system, kind: str, market, pid: int) -> Carried:
    a = _actors(system)
    auto = system.automation
    amount = _amount(system, kind, market, pid)
    assume(amount > 0)
    price = _price(market)
    p = _params(market)
    before = _health(market, pid)
    if kind == "boost":
        rule = auto.boost_rule(market.pool.address, pid)
        fn = auto.boost
        market.token.mint(a.keeper, 10 * market.pool.collateral_of(pid) + 1)
    elif kind == "top_up":
        rule = auto.top_up_rule(market.pool.address, pid)
        fn = auto.top_up
    else:
        rule = auto.protection_rule(market.pool.address, pid)
        fn = auto.auto_deleverage
        _give(system, a.keeper, amount)
        _give(system, a.rival, amount)
    wallet = _wallet(system, market, a.owner)
    kept = _wallet(system, market, a.keeper)
    got, _ = _call(a.keeper, fn, market.pool.address, pid, amount)
    assert got is None, f"{kind} with a landing amount reverted: {got}"
    now = _wallet(system, market, a.keeper)
    if kind == "boost":
        earned = (now[1] - kept[1]) - law.worth(kept[0] - now[0], price, market.scale)
    elif kind == "top_up":
        earned = now[0] - kept[0]
    else:
        earned = law.worth(now[0] - kept[0], price, market.scale) - (kept[1] - now[1])
    after = _health(market, pid)
    wallet_after = _wallet(system, market, a.owner)
    if kind != "deleverage":
        market.token.mint(a.rival, 10 * market.pool.collateral_of(pid) + 1)
    race, _ = _call(a.rival, fn, market.pool.address, pid, amount)
    return Carried(
        kind,
        before,
        after,
        rule[1],
        earned,
        amount,
        rule[2],
        p.liquidation_bonus,
        wallet,
        wallet_after,
        rule[3],
        race,
    )


kinds = st.sampled_from(["boost", "top_up", "deleverage"])
rule_fees = st.sampled_from([0, 50, 100, 500, 1_000])


@LAWS
@given(kind=kinds, pool=pools, usd=sizes, ltv=st.integers(1_000, 5_500), fee=rule_fees)
def test_rules__carried_out__land_within_the_owners_target_and_a_racing_keeper_fails(
    system, kind, pool, usd, ltv, fee
) -> None:
    with boa.env.anchor():
        market, pid = _rule(system, kind, pool, ltv, usd, fee, False)
        done = _carry_out(system, kind, market, pid)
        law.law_rule_lands_within_target(kind, done.before, done.after, done.target)
        # the racing keeper finds the rule no longer due (or lands within the target too)
        not_due = {
            "boost": "automation: boost not due",
            "top_up": "automation: top-up not due",
            "deleverage": "automation: protection not due",
        }[kind]
        assert done.race in (
            not_due,
            "automation: above allowance",
            "automation: result off target",
        ), done.race


@LAWS
@given(
    kind=kinds,
    pool=pools,
    usd=sizes,
    ltv=st.integers(1_000, 5_500),
    fee=rule_fees,
    lower_bonus=st.booleans(),
)
def test_rules__carried_out__keeper_fee_within_rule_fee_and_pool_bonus(
    system, kind, pool, usd, ltv, fee, lower_bonus
) -> None:
    """Also after governance lowered the pool's bonus under a rule set at the old one."""
    with boa.env.anchor():
        market, pid = _rule(system, kind, pool, ltv, usd, max(fee, 100), lower_bonus)
        done = _carry_out(system, kind, market, pid)
        law.law_keeper_fee_within_cap(kind, done.fee, done.amount, done.rule_fee, done.bonus)


@LAWS
@given(kind=kinds, pool=pools, usd=sizes, ltv=st.integers(1_000, 5_500), fee=rule_fees)
def test_rules__carried_out__owner_wallet_touched_only_within_the_allowance(
    system, kind, pool, usd, ltv, fee
) -> None:
    with boa.env.anchor():
        market, pid = _rule(system, kind, pool, ltv, usd, fee, False)
        allowance = system.automation.top_up_rule(market.pool.address, pid)[3]
        done = _carry_out(system, kind, market, pid)
        if kind == "top_up":
            fell = done.wallet_before[0] - done.wallet_after[0]
            law.law_owner_wallet_within_allowance(done.amount, fell, done.amount, allowance)
            assert done.wallet_before[1] == done.wallet_after[1]
        else:
            law.law_owner_wallet_untouched(kind, done.wallet_before, done.wallet_after)
