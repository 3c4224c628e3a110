"""The protocol's laws as a hypothesis `RuleBasedStateMachine` on titanoboa.

Rules are what users, keepers, the oracle, time and governance's pause do to three
isolated pools (18, 8 and 6 collateral decimals) and to the savings vault: positions (the
owner's own deleverage included), single and batched liquidations, the owner rules of
`PositionAutomation` (`automation.py`), vault deposits and redemptions, and fee sweeps. Every rule predicts its own outcome
(success, or the exact revert reason) with the integer mirror in `bulkhead.risk` and the
pool's views, so a call that fails for the wrong reason, or succeeds when it should not,
is a violation. The invariants below run after every step.

Extending: a new feature gets new rules (a method decorated with `@rule`, counted through
`_count`/`_expect`) and, when it changes debt, a call to `_debt_op`. A rule that targets
one pool wraps its work in `self._only(pool)`, which proves the other pools did not change.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import boa
from eth_abi import decode
from eth_utils import keccak
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bulkhead import risk
from bulkhead.risk import BPS, WAD, LiquidationError, RiskParams
from tests.fuzz import laws as law
from tests.fuzz.automation import AutomationRules
from tests.fuzz.controls import ControlsRules
from tests.fuzz.stop_loss import StopLossRules
from tests.fuzz.system import BoaSystem, PoolConfig, create_pool, deploy_system

MAX_UINT = 2**256 - 1
MAX_FEE = 21_979_553_151  # [wad per second] `risk.MAX_STABILITY_FEE`: 100 % a year
MASK128 = 2**128 - 1
FUZZED = ("WETH", "WBTC", "VOL")
STATUS_REASON = {
    1: "oracle: feed call failed",
    2: "oracle: non-positive price",
    3: "oracle: incomplete round",
    4: "oracle: stale price",
    5: "oracle: price out of range",
    6: "oracle: price jump",
}
# MarginPool storage slots (vyper -f layout); checked against the views in `_check_slots`
SLOT_POSITION_COUNT = 2
SLOT_BAD_DEBT = 5
SLOT_TOTAL_COLLATERAL = 6
SLOT_POSITIONS = 7
SLOT_DEBT_TOTALS = 8  # reserve (bits 128..255) | total normalised debt (bits 0..127)
SLOT_RATE = 9
POOL_SLOTS = range(12)
# snekmate erc20 slots: bhUSD keeps ownable_2step's pending owner before them, MockToken not
SLOT_BALANCES = {"Stablecoin": 2, "MockToken": 1}
SLOT_TOTAL_SUPPLY = 4  # bhUSD
# MockAggregator: the latest round's word (reverting flag in bits 248..255) and its answer
SLOT_FEED_LATEST = 5
SLOT_FEED_ANSWER = 6

# Counters that survive hypothesis examples: `STATS[rule/outcome]` and the canaries.
STATS: collections.Counter = collections.Counter()
CANARIES = (
    "owner_deleverage",
    "liquidation",
    "liquidation_partial",
    "liquidation_shortfall",
    "bad_debt",
    "pause",
    "batch_liquidation",
    "auto_deleverage",
    "sweep",
    "self_liquidation",
    "boost",
    "top_up",
    "grace_window",
    "steward_haircut",
    "stop_loss",
)


class Violation(law.LawViolation):
    """An invariant or an outcome prediction failed."""


def revert_reason(err: boa.BoaError) -> str:
    """The `Error(string)` reason of a boa revert; "" for a revert without data."""
    frame = err.stack_trace.last_frame
    data = getattr(getattr(frame, "vm_error", None), "args", [b""])[0]
    if isinstance(data, bytes) and data[:4] == b"\x08\xc3\x79\xa0":
        return decode(["string"], data[4:])[0]
    return ""


def _slot(base: int, key: int) -> int:
    return int.from_bytes(keccak(base.to_bytes(32, "big") + key.to_bytes(32, "big")), "big")


def balance(token: object, holder: str) -> int:
    """An erc20 balance read from storage (a view call costs ~3 ms in py-evm)."""
    base = SLOT_BALANCES[token.contract_name]
    return boa.env.get_storage(token.address, _slot(base, int(str(holder), 16)))


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class Ctx:
    """What the test keeps about one fuzzed pool."""

    name: str
    market: object
    ids: list[int] = field(default_factory=list)
    last_good_answer: int = 0  # [feed units] the last valid answer the test posted


class BulkheadMachine(ControlsRules, StopLossRules, AutomationRules, RuleBasedStateMachine):
    """Users, keepers, oracle, time, pause, pool controls and owner rules on isolated pools;
    the laws."""

    system: BoaSystem | None = None  # deployed once per process, reverted after each run

    # ------------------------------------------------------------ set-up

    def __init__(self) -> None:
        super().__init__()
        assert BulkheadMachine.system is not None, "use the fuzz_system fixture"
        self._anchor = boa.env.anchor()
        self._anchor.__enter__()
        self.sys = BulkheadMachine.system
        self.admin = self.sys.admin
        self.borrowers, self.operator, self.keeper, self.whale, self.rival = self.sys.actors
        self.pools = {n: Ctx(n, self.sys.markets[n]) for n in FUZZED}
        # governance is outside this machine, so the parameters are read once
        self.params = {n: m.params for n, m in self.sys.markets.items()}
        self.fund = self.sys.markets["FUND"]
        self.budget = 0  # [wei] the rounding the accounting identity may have accumulated
        self.rule = "init"
        self.price_or_time_rule = False
        self.liquidation_exhausted_reserve = False
        self.unhealthy: dict[str, set[int]] = {}
        self.bad_debt: dict[str, int] = {}
        self.vault = self.sys.vault
        self.share_price = self._share_price()
        self.netted: dict[str, int] = {}  # bad debt a sweep cancelled with the reserve
        # positions with a boost or top-up rule on, and per top-up (allowance set, moved since)
        self.ruled: dict[str, set[tuple[str, int]]] = {"boost": set(), "top_up": set()}
        self.top_up_allowance: dict[tuple[str, int], list[int]] = {}
        self.ruled["stop_loss"] = set()

    def teardown(self) -> None:
        self._anchor.__exit__(None, None, None)

    @initialize()
    def setup(self) -> None:
        # the whale's position (opened by `deploy`) is one debt-changing operation
        self.budget += 1 + ceil_div(self.fund.pool.rate(), WAD)
        for ctx in self.pools.values():
            ctx.last_good_answer = ctx.market.feed.latestRoundData()[1]
        self._check_slots()
        self._record()

    def _check_slots(self) -> None:
        """The storage reads the invariants rely on agree with the contracts' views."""
        for market in self.sys.markets.values():
            pool = market.pool
            assert self._totals(market)[0] == pool.total_collateral()
            assert risk.debt(self._totals(market)[1], self._rate(market)) == pool.total_debt()
            assert self._rate(market) == pool.rate()
            assert self._reserve(market) == pool.reserve()
            assert boa.env.get_storage(pool.address, SLOT_BAD_DEBT) == pool.bad_debt()
            assert boa.env.get_storage(pool.address, SLOT_POSITION_COUNT) == pool.position_count()
            for pid in range(1, pool.position_count() + 1):
                packed = boa.env.get_storage(pool.address, _slot(SLOT_POSITIONS, pid))
                assert (packed >> 128, packed & MASK128) == (
                    pool.collateral_of(pid),
                    pool.normalised_debt_of(pid),
                )
            assert balance(market.token, pool.address) == market.token.balanceOf(pool.address)
        stable = self.sys.stablecoin
        assert boa.env.get_storage(stable.address, SLOT_TOTAL_SUPPLY) == stable.totalSupply()
        assert balance(stable, self.whale) == stable.balanceOf(self.whale)
        for ctx in self.pools.values():
            assert self._feed_price(ctx) == ctx.market.feed.latestRoundData()[1] * 10**10

    @initialize(
        ltvs=st.lists(st.sampled_from([-2, -1, 7_500, 6_000, 4_000]), min_size=3, max_size=3)
    )
    def seed_positions(self, ltvs: list[int]) -> None:
        """The market does not start empty: one position per pool near or at max LTV, and
        a large safe one whose fees fill the reserve within a campaign (so sweeps sweep)."""
        for i, (pool, ltv) in enumerate(zip(FUZZED, ltvs)):
            self.open(pool=pool, who=i, usd=20_000, jitter=0, ltv=ltv)
            self.laws()
            self.open(pool=pool, who=(i + 1) % 3, usd=1_000_000, jitter=0, ltv=3_000)
            self.laws()

    # ----------------------------------------------------------- helpers

    def _stats(self) -> collections.Counter:
        return STATS

    def _balance(self, token: object, holder: str) -> int:
        return balance(token, holder)

    def _count(self, name: str, outcome: str) -> None:
        STATS[f"{name}/{outcome}"] += 1
        STATS["steps"] += 1
        self.rule = name

    def _call(self, sender: str, fn, *args):
        """(None, result) or (reason, None)."""
        try:
            with boa.env.prank(sender):
                return None, fn(*args)
        except boa.BoaError as err:
            return revert_reason(err), None

    def _expect(self, name: str, expected: str | None, got: str | None) -> None:
        if expected != got:
            raise Violation(f"{name}: expected {expected!r}, got {got!r} (None: success)")
        self._count(name, "ok" if got is None else got)

    def _pick(self, pick: int) -> tuple[Ctx, int]:
        pairs = [(c, i) for c in self.pools.values() for i in c.ids]
        return pairs[pick % len(pairs)]

    def _has_positions(self) -> bool:
        return any(c.ids for c in self.pools.values())

    def _pos(self, ctx: Ctx, pid: int) -> tuple[int, int]:
        packed = boa.env.get_storage(ctx.market.pool.address, _slot(SLOT_POSITIONS, pid))
        return packed >> 128, packed & MASK128

    def _totals(self, market) -> tuple[int, int]:
        """(total collateral, total normalised debt) from storage."""
        pool = market.pool.address
        total_norm = boa.env.get_storage(pool, SLOT_DEBT_TOTALS) & MASK128
        return boa.env.get_storage(pool, SLOT_TOTAL_COLLATERAL), total_norm

    def _reserve(self, market) -> int:
        """The reserve as stored: as of the pool's last accrual."""
        return boa.env.get_storage(market.pool.address, SLOT_DEBT_TOTALS) >> 128

    def _reserve_now(self, market) -> int:
        """The reserve an operation that accrues first starts from: the stored one plus the
        interest since the last accrual (deposit and withdraw do not accrue), read in a
        throw-away fork."""
        with boa.env.anchor():
            market.pool.accrue()
            return self._reserve(market)

    def _params(self, ctx: Ctx) -> RiskParams:
        return self.params[ctx.name]

    def _rate(self, market) -> int:
        """`MarginPool._current_rate` from storage, through the mirror `risk.grow`."""
        packed = boa.env.get_storage(market.pool.address, SLOT_RATE)
        rate, last = packed >> 64, packed & (2**64 - 1)
        now = boa.env.timestamp
        if now == last:
            return rate
        return risk.grow(rate, now - last, self.params[market.name].stability_fee)

    def _price(self, ctx: Ctx) -> tuple[int, str | None]:
        price, status = ctx.market.pool.price_status()
        return price, STATUS_REASON.get(status)

    def _feed_price(self, ctx: Ctx) -> int:
        """The feed's raw answer in [wad], whatever the guard says; 0 when unusable."""
        feed = ctx.market.feed.address
        if boa.env.get_storage(feed, SLOT_FEED_LATEST) >> 248:
            return 0
        answer = boa.env.get_storage(feed, SLOT_FEED_ANSWER)
        if answer >= 2**255:
            answer -= 2**256
        if answer <= 0 or answer * 10**10 > 10**30:
            return 0
        return answer * 10**10

    def _give(self, who: str, amount: int) -> None:
        """Top `who` up to `amount` bhUSD from the whale."""
        have = self.sys.stablecoin.balanceOf(who)
        if have < amount:
            with boa.env.prank(self.whale):
                self.sys.stablecoin.transfer(who, amount - have)

    def _debt_op(self, ctx: Ctx) -> None:
        """A change of debt may round by 1 + ceil(rate) wei (see docs/THREAT_MODEL.md)."""
        self.budget += 1 + ceil_div(ctx.market.pool.rate(), WAD)

    def _snapshot(self, market) -> tuple:
        pool = market.pool.address
        words = tuple(boa.env.get_storage(pool, s) for s in POOL_SLOTS)
        count = words[SLOT_POSITION_COUNT]
        positions = tuple(
            boa.env.get_storage(pool, _slot(SLOT_POSITIONS, i)) for i in range(1, count + 1)
        )
        return words, positions, balance(market.token, pool)

    class _Only:
        def __init__(self, machine: BulkheadMachine, ctx: Ctx | None):
            self.m = machine
            self.others = [c for c in machine.pools.values() if ctx is None or c is not ctx]

        def __enter__(self):
            self.before = [self.m._snapshot(c.market) for c in self.others]

        def __exit__(self, exc_type, *_):
            if exc_type is None:
                after = [self.m._snapshot(c.market) for c in self.others]
                for c, b, a in zip(self.others, self.before, after):
                    if a != b:
                        raise Violation(f"{self.m.rule} changed pool {c.name}")

    def _only(self, ctx: Ctx | None) -> _Only:
        """Prove that the block changes no pool other than `ctx` (None: no pool at all)."""
        return self._Only(self, ctx)

    # ---------------------------------------------------- user actions

    @rule(
        pool=st.sampled_from(FUZZED),
        who=st.integers(0, 2),
        usd=st.sampled_from([2_000, 20_000, 300, 1_000_000, 150, 0, 1, 3_000_000]),
        jitter=st.integers(0, 999),
        ltv=st.sampled_from([-2, 7_500, 5_000, -1, 0, 3_000, -3, 9_000]),
    )
    def open(self, pool: str, who: int, usd: int, jitter: int, ltv: int) -> None:
        """Open with collateral worth `usd` (+ `jitter` per mille) and a debt at `ltv` bps of its
        value (-1/-2/-3: max LTV -1/0/+1 wei)."""
        usd = usd * (1_000 + jitter) // 1_000
        ctx = self.pools[pool]
        m = ctx.market
        owner = self.borrowers[who]
        feed = self._feed_price(ctx) or ctx.last_good_answer * 10**10
        coll = usd * WAD * WAD // (feed * m.scale) if usd else 0
        if usd and coll == 0:
            coll = 1
        price, oracle = self._price(ctx)
        p = self._params(ctx)
        if ltv < 0:
            debt = risk.max_debt(coll, price or feed, self._borrow_ltv(ctx), m.scale) + (ltv + 2)
        else:
            debt = risk.value(coll, feed, m.scale) * ltv // BPS
        debt = max(debt, 0)
        rate = m.pool.rate()
        expected = None
        if coll == 0:
            expected = "pool: zero collateral"
        elif coll >= 2**128 // m.scale:
            expected = "pool: collateral too large"
        elif m.pool.paused():
            expected = "pool: paused"
        elif debt > 0:
            expected = self._borrow_reason(ctx, coll, 0, debt, rate, price, oracle, p)
        if expected is None and coll * m.scale >= 2**128:
            expected = "pool: collateral too large"
        m.token.mint(owner, coll)
        with self._only(ctx):
            got, pid = self._call(owner, m.pool.open, coll, debt)
        self._expect("open", expected, got)
        if got is None:
            ctx.ids.append(pid)
            if debt:
                self._debt_op(ctx)
            self._borrow_laws("open", ctx, pid, borrowed=True)

    def _borrow_reason(self, ctx, coll, norm, amount, rate, price, oracle, p) -> str | None:
        if amount > p.debt_ceiling:
            return "pool: debt ceiling"
        new_norm = norm + ceil_div(amount * WAD, rate)
        new_debt = risk.debt(new_norm, rate)
        if new_debt < p.min_debt:
            return "pool: debt below minimum"
        if self._cap_reason(ctx, new_debt):
            return "pool: position debt cap"
        total_norm = self._totals(ctx.market)[1] + new_norm - norm
        if risk.debt(total_norm, rate) > p.debt_ceiling:
            return "pool: debt ceiling"
        if oracle:
            return oracle
        if not self._within_borrow_limit(ctx, coll, new_debt, price):
            return "pool: exceeds max ltv"
        return None

    @precondition(lambda self: self._has_positions())
    @rule(pick=st.integers(0, 2**16), payer=st.integers(0, 4), frac=st.integers(0, 20_000))
    def deposit(self, pick: int, payer: int, frac: int) -> None:
        """Anyone adds `frac` bps of the position's collateral (at least 1 unit; 0 is refused)."""
        ctx, pid = self._pick(pick)
        m = ctx.market
        who = [*self.borrowers, self.keeper, self.operator][payer]
        coll, _ = self._pos(ctx, pid)
        amount = max(coll * frac // BPS, 1) if frac else 0
        m.token.mint(who, amount)
        expected = None
        if amount == 0:
            expected = "pool: zero amount"
        elif amount >= 2**128 // m.scale or (coll + amount) * m.scale >= 2**128:
            expected = "pool: collateral too large"
        with self._only(ctx):
            got, _ = self._call(who, m.pool.deposit, pid, amount)
        self._expect("deposit", expected, got)

    @precondition(lambda self: self._has_positions())
    @rule(pick=st.integers(0, 2**16), frac=st.integers(0, 10_500), via=st.integers(0, 2))
    def withdraw(self, pick: int, frac: int, via: int) -> None:
        """The owner, its operator or a stranger withdraws `frac` bps of the collateral."""
        ctx, pid = self._pick(pick)
        m = ctx.market
        owner = m.pool.owner_of(pid)
        who = self._actor(owner, via)
        coll, norm = self._pos(ctx, pid)
        amount = coll * frac // BPS if frac <= BPS else coll + 1
        price, oracle = self._price(ctx)
        rate = m.pool.rate()
        expected = None
        if amount == 0:
            expected = "pool: zero amount"
        elif not self._authorised(owner, who):
            expected = "pool: not owner or operator"
        elif amount > coll:
            expected = "pool: insufficient collateral"
        elif norm > 0:
            debt = risk.debt(norm, rate)
            if oracle:
                expected = oracle
            elif not self._within_borrow_limit(ctx, coll - amount, debt, price):
                expected = "pool: exceeds max ltv"
        before = m.token.balanceOf(who)
        with self._only(ctx):
            got, _ = self._call(who, m.pool.withdraw, pid, amount)
        self._expect("withdraw", expected, got)
        if got is None:
            assert m.token.balanceOf(who) == before + amount
            self._borrow_laws("withdraw", ctx, pid, borrowed=False)

    def _actor(self, owner: str, via: int) -> str:
        if via == 0:
            return owner
        if via == 1:
            return self.operator
        return self.keeper  # a stranger to every position

    def _authorised(self, owner: str, who: str) -> bool:
        return who == owner or (who == self.operator and owner == self.borrowers[0])

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        ltv=st.sampled_from([-2, 7_000, -1, -3, 5_000, 9_000, 0]),
        via=st.sampled_from([0, 1, 2]),
    )
    def borrow(self, pick: int, ltv: int, via: int) -> None:
        """Borrow up to `ltv` bps of the collateral value (-1/-2/-3: to max LTV -1/0/+1)."""
        ctx, pid = self._pick(pick)
        m = ctx.market
        owner = m.pool.owner_of(pid)
        who = self._actor(owner, via)
        coll, norm = self._pos(ctx, pid)
        price, oracle = self._price(ctx)
        feed = price or self._feed_price(ctx) or ctx.last_good_answer * 10**10
        p = self._params(ctx)
        rate = m.pool.rate()
        debt = risk.debt(norm, rate)
        if ltv < 0:
            target = risk.max_debt(coll, feed, self._borrow_ltv(ctx), m.scale) + (ltv + 2)
        else:
            target = risk.value(coll, feed, m.scale) * ltv // BPS
        amount = max(target - debt, 0)
        expected = None
        if amount == 0:
            expected = "pool: zero amount"
        elif not self._authorised(owner, who):
            expected = "pool: not owner or operator"
        elif m.pool.paused():
            expected = "pool: paused"
        else:
            expected = self._borrow_reason(ctx, coll, norm, amount, rate, price, oracle, p)
        preview, _ = self._call(who, self.sys.lens.max_borrow, m.pool.address, pid)
        with self._only(ctx):
            got, _ = self._call(who, m.pool.borrow, pid, amount)
        self._expect("borrow", expected, got)
        law.law_preview_never_reverts_where_action_succeeds("max_borrow", preview, got)
        if got is None:
            self._debt_op(ctx)
            self._borrow_laws("borrow", ctx, pid, borrowed=True)

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        payer=st.integers(0, 4),
        frac=st.one_of(st.integers(0, 10_000), st.sampled_from([-1, -2, -3])),
    )
    def repay(self, pick: int, payer: int, frac: int) -> None:
        """Anyone repays `frac` bps of the debt (-1: 1 wei, -2: max uint256, -3: debt - min debt)."""
        ctx, pid = self._pick(pick)
        m = ctx.market
        who = [*self.borrowers, self.keeper, self.operator][payer]
        _, norm = self._pos(ctx, pid)
        rate = m.pool.rate()
        debt = risk.debt(norm, rate)
        p = self._params(ctx)
        amount = {-1: 1, -2: MAX_UINT, -3: max(debt - p.min_debt, 0)}.get(frac, debt * frac // BPS)
        expected = None
        if amount == 0:
            expected = "pool: zero amount"
        elif norm == 0:
            expected = "pool: no debt"
        elif amount < debt:
            removed = amount * WAD // rate
            if removed == 0:
                expected = "pool: repay too small"
            elif risk.debt(norm - removed, rate) < p.min_debt:
                expected = "pool: debt below minimum"
        self._give(who, min(amount, debt))
        supply = self.sys.stablecoin.totalSupply()
        with self._only(ctx):
            got, paid = self._call(who, m.pool.repay, pid, amount)
        self._expect("repay", expected, got)
        if got is None:
            assert paid == min(amount, debt), "repay: paid is not min(amount, debt)"
            assert self.sys.stablecoin.totalSupply() == supply - paid
            self._debt_op(ctx)

    @precondition(lambda self: self._has_positions())
    @rule(pick=st.integers(0, 2**16), via=st.integers(0, 2), first_repay=st.booleans())
    def close(self, pick: int, via: int, first_repay: bool) -> None:
        """Full repay and close: always succeeds for a non-empty position, paused or not,
        with or without a valid price."""
        ctx, pid = self._pick(pick)
        m = ctx.market
        owner = m.pool.owner_of(pid)
        who = self._actor(owner, via)
        coll, norm = self._pos(ctx, pid)
        debt = risk.debt(norm, m.pool.rate())
        if first_repay and norm > 0:
            self._give(self.keeper, debt)
            with self._only(ctx):
                got, _ = self._call(self.keeper, m.pool.repay, pid, MAX_UINT)
            self._expect("close.repay_all", None, got)
            self._debt_op(ctx)
            debt = 0
        expected = None
        if not self._authorised(owner, who):
            expected = "pool: not owner or operator"
        elif coll == 0 and risk.debt(self._pos(ctx, pid)[1], m.pool.rate()) == 0:
            expected = "pool: position is empty"
        self._give(who, debt)
        before = m.token.balanceOf(who)
        with self._only(ctx):
            got, _ = self._call(who, m.pool.close, pid)
        self._expect("close", expected, got)
        if got is None:
            if debt:
                self._debt_op(ctx)
            assert self._pos(ctx, pid) == (0, 0), "close left something behind"
            assert m.token.balanceOf(who) == before + coll, "close did not return the collateral"

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        via=st.sampled_from([0, 0, 1, 2]),
        frac=st.one_of(st.integers(0, 10_000), st.sampled_from([-1, -2, -3, -4])),
        take=st.sampled_from(["most", "most", "over", "zero", "all", "half"]),
    )
    def deleverage(self, pick: int, via: int, frac: int, take: str) -> None:
        """The owner (its operator, or a stranger) repays `frac` bps of the debt (-1: 1 wei,
        -2: max uint256, -3: 1 wei under what leaves the min debt, -4: exactly that) and
        takes collateral out in one step: the most that keeps collateral per debt (`most`),
        one unit more, none, all, or half. No price, pause or max LTV is asked."""
        ctx, pid = self._pick(pick)
        m = ctx.market
        owner = m.pool.owner_of(pid)
        who = self._actor(owner, via)
        coll, norm = self._pos(ctx, pid)
        rate = m.pool.rate()
        debt = risk.debt(norm, rate)
        p = self._params(ctx)
        left = max(debt - p.min_debt, 0)
        repay = {-1: 1, -2: MAX_UINT, -3: left + 1, -4: left}.get(frac, debt * frac // BPS)
        new_norm = 0 if repay >= debt else norm - repay * WAD // rate
        most = coll - ceil_div(coll * new_norm, norm) if norm else coll
        out = {"most": most, "over": most + 1, "zero": 0, "all": coll, "half": coll // 2}[take]
        authorised = self._authorised(owner, who)
        expected = self._deleverage_reason(ctx, authorised, coll, norm, rate, repay, out)
        paid = min(repay, debt)
        self._give(who, paid)
        price, oracle = self._price(ctx)
        supply = self.sys.stablecoin.totalSupply()
        wallet = balance(self.sys.stablecoin, who), balance(m.token, who)
        with self._only(ctx):
            got, _ = self._call(who, m.pool.deleverage, pid, repay, out)
        self._expect("deleverage", expected, got)
        if got is None:
            self._debt_op(ctx)
            STATS["canary/owner_deleverage"] += 1
            self._owner_deleverage_laws(ctx, pid, (coll, norm), price if not oracle else 0)
            if self._pos(ctx, pid) != (coll - out, new_norm):
                raise Violation(f"deleverage: {pid} is {self._pos(ctx, pid)}")
            if self.sys.stablecoin.totalSupply() != supply - paid:
                raise Violation("deleverage: supply did not fall by exactly the debt repaid")
            if (balance(self.sys.stablecoin, who), balance(m.token, who)) != (
                wallet[0] - paid,
                wallet[1] + out,
            ):
                raise Violation(
                    "deleverage: the caller did not pay the repay or get the collateral"
                )

    def _deleverage_reason(
        self, ctx: Ctx, authorised: bool, coll: int, norm: int, rate: int, repay: int, out: int
    ) -> str | None:
        """`MarginPool.deleverage`'s refusal for these inputs, in its order of checks."""
        if repay == 0:
            return "pool: zero amount"
        if not authorised:
            return "pool: not owner or operator"
        if norm == 0:
            return "pool: no debt"
        new_norm = 0
        if repay < risk.debt(norm, rate):
            removed = repay * WAD // rate
            if removed == 0:
                return "pool: repay too small"
            new_norm = norm - removed
            if risk.debt(new_norm, rate) < self._params(ctx).min_debt:
                return "pool: debt below minimum"
        if out > coll:
            return "pool: insufficient collateral"
        if (coll - out) * norm < coll * new_norm:
            return "pool: health would fall"
        return None

    def _owner_deleverage_laws(
        self, ctx: Ctx, pid: int, start: tuple[int, int], price: int
    ) -> None:
        """After a deleverage (the owner's or a protection's): collateral per debt did not
        fall, nor did health at the price (beyond one wei of value and of debt rounding)."""
        coll, norm = start
        new_coll, new_norm = self._pos(ctx, pid)
        law.law_deleverage_keeps_collateral_per_debt(coll, norm, new_coll, new_norm)
        if price:
            m = ctx.market
            rate = m.pool.rate()
            threshold = self._params(ctx).liquidation_threshold
            law.law_deleverage_never_lowers_health(
                coll,
                risk.debt(norm, rate),
                new_coll,
                risk.debt(new_norm, rate),
                price,
                threshold,
                m.scale,
            )

    @precondition(lambda self: self._has_positions())
    @rule(
        pick=st.integers(0, 2**16),
        unhealthy=st.sampled_from([True, True, False]),
        by=st.sampled_from([0, 1, 2]),
        cap=st.sampled_from(["max", "exact", "half", "max", "tiny", "exact", "zero"]),
        min_out=st.sampled_from(["zero", "exact", "zero", "above"]),
    )
    def liquidate(self, pick: int, unhealthy: bool, by: int, cap: str, min_out: str) -> None:
        """A keeper, the owner (self-liquidation) or another borrower liquidates; like a keeper
        bot it mostly targets positions that were unhealthy at the feed's price."""
        targets = [
            (self.pools[n], i) for n, ids in self.unhealthy.items() for i in sorted(ids or ())
        ]
        if unhealthy and targets:
            ctx, pid = targets[pick % len(targets)]
        else:
            ctx, pid = self._pick(pick)
        self._liquidate("liquidate", ctx, pid, by, cap, min_out)

    @rule(
        pool=st.sampled_from(FUZZED),
        by=st.sampled_from([0, 1, 2]),
        cap=st.sampled_from(["max", "exact", "half"]),
    )
    def keeper_sweep(self, pool: str, by: int, cap: str) -> None:
        """A keeper bot: `positions_to_liquidate` must list exactly the positions the mirror
        calls unhealthy at the guard's price (none while it is invalid); it liquidates the first."""
        ctx = self.pools[pool]
        m = ctx.market
        listed = list(m.pool.positions_to_liquidate(1, 5_000))
        price, oracle = self._price(ctx)
        want = []
        if oracle is None:
            rate = self._rate(m)
            threshold = self._params(ctx).liquidation_threshold
            for pid in ctx.ids:
                coll, norm = self._pos(ctx, pid)
                if risk.is_liquidatable(coll, risk.debt(norm, rate), price, threshold, m.scale):
                    want.append(pid)
        if listed != want:
            raise Violation(f"positions_to_liquidate {listed} != mirror {want}")
        if not listed:
            self._count("keeper_sweep", "nothing")
            return
        self._liquidate("keeper_sweep", ctx, listed[0], by, cap, "exact")

    def _liquidate(self, name: str, ctx: Ctx, pid: int, by: int, cap: str, min_out: str) -> None:
        m = ctx.market
        owner = m.pool.owner_of(pid)
        who = [self.keeper, owner, self.borrowers[(self.borrowers.index(owner) + 1) % 3]][by]
        coll, norm = self._pos(ctx, pid)
        price, oracle = self._price(ctx)
        p = self._params(ctx)
        rate = m.pool.rate()
        debt = risk.debt(norm, rate)
        plan = None
        expected = None
        max_repay = MAX_UINT
        want = 0
        closed = self._liquidations_closed(ctx)
        if cap == "zero":
            max_repay, expected = 0, "pool: zero amount"
        elif closed:
            expected = closed
        elif norm == 0:
            expected = "pool: no debt"
        elif oracle:
            expected = oracle
        else:
            try:
                full = risk.liquidation_amounts(coll, debt, price, p, m.scale)
                max_repay = {
                    "max": MAX_UINT,
                    "exact": full.paid,
                    "half": full.paid // 2,
                    "tiny": 1,
                }[cap]
                plan = risk.liquidation_amounts(coll, debt, price, p, m.scale, max_repay)
                want = {"zero": 0, "exact": plan.collateral_out, "above": plan.collateral_out + 1}[
                    min_out
                ]
                if want > plan.collateral_out:
                    expected = "pool: collateral out below minimum"
            except LiquidationError as err:
                expected = err.reason
        # the liquidation accrues first: the reserve it starts from includes the interest
        reserve_before = self._reserve_now(m)
        bad_before = m.pool.bad_debt()
        self._give(who, plan.paid if plan else 0)
        wealth_before = self._wealth(ctx, owner, price) if price else 0
        spent_before = balance(self.sys.stablecoin, who), balance(m.token, who)
        preview = None
        if max_repay and price:
            preview, _ = self._call(
                who, self.sys.lens.preview_liquidate, m.pool.address, pid, max_repay
            )
        with self._only(ctx):
            got, out = self._call(who, m.pool.liquidate, pid, max_repay, want)
        self._expect(name, expected, got)
        self._liquidation_law(name, ctx, closed, got)
        law.law_preview_never_reverts_where_action_succeeds("preview_liquidate", preview, got)
        if got is not None:
            return
        self._debt_op(ctx)
        STATS["canary/liquidation"] += 1
        assert out == plan.collateral_out, f"liquidate: out {out} != mirror {plan.collateral_out}"
        new_coll, new_norm = self._pos(ctx, pid)
        new_debt = ceil_div(new_norm * m.pool.rate(), WAD)
        STATS["canary/liquidation_full" if new_debt == 0 else "canary/liquidation_partial"] += 1
        if new_debt:
            assert new_debt >= p.min_debt, "liquidation left dust debt"
        seen = law.LiquidationSeen(
            price=price,
            terms=self._terms(ctx),
            coll_before=coll,
            debt_before=debt,
            coll_after=new_coll,
            debt_after=new_debt,
            paid=spent_before[0] - balance(self.sys.stablecoin, who),
            out=balance(m.token, who) - spent_before[1],
            reserve_before=reserve_before,
            reserve_after=m.pool.reserve(),
            bad_debt_before=bad_before,
            bad_debt_after=m.pool.bad_debt(),
        )
        self._liquidation_laws(seen)
        if plan.shortfall:
            STATS["canary/liquidation_shortfall"] += 1
            fee = plan.paid - (debt - plan.shortfall)
            available = reserve_before + max(fee, 0)
            if plan.shortfall > available:
                self.liquidation_exhausted_reserve = True
                STATS["canary/bad_debt"] += 1
        if who == owner:
            STATS["canary/self_liquidation"] += 1
            law.law_self_liquidation_never_beats_close(
                wealth_before, self._wealth(ctx, owner, price)
            )

    def _terms(self, ctx: Ctx) -> law.Terms:
        p = self._params(ctx)
        return law.Terms(
            fee=p.liquidation_fee,
            bonus=p.liquidation_bonus,
            tip=p.liquidation_tip,
            threshold=p.liquidation_threshold,
            scale=ctx.market.scale,
        )

    def _liquidation_laws(self, seen: law.LiquidationSeen) -> None:
        law.law_reserve_untouched_while_value_covers_debt_and_fee(seen)
        law.law_liquidation_keeps_health_of_position_with_equity(seen)
        law.law_owner_loss_within_fee_bonus_and_tip(seen)

    def _wealth(self, ctx: Ctx, owner: str, price: int) -> int:
        """What `owner` holds in this pool's terms [wad], with limited liability: bhUSD +
        collateral in the wallet + max(value - debt, 0) of each of his positions."""
        m = ctx.market
        total = balance(self.sys.stablecoin, owner) + law.worth(
            balance(m.token, owner), price, m.scale
        )
        rate = m.pool.rate()
        for pid in ctx.ids:
            if m.pool.owner_of(pid) == owner:
                coll, norm = self._pos(ctx, pid)
                total += law.equity(coll, ceil_div(norm * rate, WAD), price, m.scale)
        return total

    @rule(
        pool=st.sampled_from(FUZZED),
        who=st.integers(0, 2),
        by=st.sampled_from([0, 0, 1, 2]),
        health=st.sampled_from([9_600, 9_800, 9_000]),
    )
    def liquidation_scenario(self, pool: str, who: int, by: int, health: int) -> None:
        """The market move liquidations need, while a pool's liquidations are open: a
        position opened at the borrow limit, a price fall to `health` bps of health, and a
        liquidation at once by a keeper, the owner or another borrower (partial: the
        position keeps equity). Each step is the rule of its name, predicted and checked;
        since pause stops liquidations, random steps alone reach a partial one too rarely."""
        ctx = self.pools[pool]
        if self._liquidations_closed(ctx) or self._price(ctx)[1]:
            self._count("liquidation_scenario", "skipped: liquidations closed or no price")
            return
        count = len(ctx.ids)
        self.open(pool=pool, who=who, usd=20_000, jitter=0, ltv=-2)
        self.laws()
        if len(ctx.ids) == count or self._pos(ctx, ctx.ids[-1])[1] == 0:
            return
        ltv = self._borrow_ltv(ctx)  # health at the limit: threshold / limit
        self.move_price(
            pool=pool, bps=health * ltv // self._params(ctx).liquidation_threshold - BPS
        )
        self.laws()
        self._liquidate("liquidate", ctx, ctx.ids[-1], by, "max", "zero")

    @precondition(lambda self: self._has_positions())
    @rule(pick=st.integers(0, 2**16), by=st.integers(0, 1))
    def liquidate_healthy(self, pick: int, by: int) -> None:
        """A liquidation of a position that the mirror calls healthy always reverts."""
        ctx, pid = self._pick(pick)
        m = ctx.market
        coll, norm = self._pos(ctx, pid)
        price, oracle = self._price(ctx)
        if norm == 0 or oracle:
            self._count("liquidate_healthy", "skipped")
            return
        p = self._params(ctx)
        debt = risk.debt(norm, m.pool.rate())
        if risk.is_liquidatable(coll, debt, price, p.liquidation_threshold, m.scale):
            self._count("liquidate_healthy", "skipped")
            return
        who = [self.keeper, m.pool.owner_of(pid)][by]
        self._give(who, debt * 2)
        closed = self._liquidations_closed(ctx)
        with self._only(ctx):
            got, _ = self._call(who, m.pool.liquidate, pid, MAX_UINT, 0)
        self._expect("liquidate_healthy", closed or "pool: position is healthy", got)
        self._liquidation_law("liquidate_healthy", ctx, closed, got)

    @rule(pool=st.sampled_from(FUZZED), who=st.integers(0, 2))
    def accrue(self, pool: str, who: int) -> None:
        """Anyone accrues; it changes no debt, only moves fees into the reserve."""
        ctx = self.pools[pool]
        with self._only(ctx):
            got, _ = self._call(
                [self.keeper, self.admin, self.borrowers[0]][who], ctx.market.pool.accrue
            )
        self._expect("accrue", None, got)

    @rule(
        pool=st.sampled_from(FUZZED),
        gap=st.sampled_from([3_600, 86_400, 365 * 86_400, 5 * 365 * 86_400]),
        parts=st.sampled_from([2, 7, 24]),
        max_fee=st.booleans(),
    )
    def accrual_split(self, pool: str, gap: int, parts: int, max_fee: bool) -> None:
        """In a throw-away fork: accruing once over `gap` seconds, or `parts` times over it,
        gives the same rate, and both are rate x exp(fee x gap) (at the pool's fee or, with
        `max_fee`, governance's maximum)."""
        m = self.pools[pool].market
        with self._only(None), boa.env.anchor():
            if max_fee:
                p = RiskParams(**{**self.params[pool].__dict__, "stability_fee": MAX_FEE})
                with boa.env.prank(self.admin):
                    self.sys.factory.set_risk_params(m.pool.address, p.as_tuple())
            m.pool.accrue()
            start = m.pool.rate()
            fee = m.pool.risk_params()[8]
            with boa.env.anchor():
                boa.env.time_travel(seconds=gap)
                m.pool.accrue()
                once = m.pool.rate()
            step = gap // parts
            for i in range(parts):
                boa.env.time_travel(seconds=step if i < parts - 1 else gap - step * (parts - 1))
                m.pool.accrue()
            split = m.pool.rate()
        law.law_accrual_independent_of_call_frequency(once, split, start, fee, gap)
        self._count("accrual_split", "max fee" if max_fee else "pool fee")

    # ------------------------------------------------- market and time

    @rule(
        pool=st.sampled_from(FUZZED),
        bps=st.one_of(
            st.sampled_from(
                [-800, -1_200, -2_000, 300, -1_000, -1_800, -400, 1_500, -4_500, 4_000]
            ),
            st.integers(-5_000, 5_000),
        ),
    )
    def move_price(self, pool: str, bps: int) -> None:
        """The feed posts a new answer `bps` away from the last good one (may exceed the jump bound)."""
        ctx = self.pools[pool]
        answer = max(ctx.last_good_answer * (BPS + bps) // BPS, 1)
        self._post(ctx, answer)
        self._count("move_price", "ok")
        self.price_or_time_rule = True

    @rule(pool=st.sampled_from(FUZZED), drop=st.sampled_from([2_000, 4_000, 6_000, 9_000, 9_900]))
    def crash(self, pool: str, drop: int) -> None:
        """The price falls by `drop` bps at once (past the jump bound, the guard holds it for a
        heartbeat, then accepts it)."""
        ctx = self.pools[pool]
        answer = max(ctx.last_good_answer * (BPS - drop) // BPS, 1)
        self._post(ctx, answer)
        self._count("crash", "ok")
        self.price_or_time_rule = True

    def _post(self, ctx: Ctx, answer: int) -> None:
        with self._only(None):
            ctx.market.feed.set_reverting(False)
            ctx.market.feed.set_answer(answer)
        ctx.last_good_answer = answer

    @rule(
        pool=st.sampled_from(FUZZED),
        kind=st.sampled_from(
            ["zero", "negative", "incomplete", "future", "stale", "reverting", "huge"]
        ),
    )
    def break_feed(self, pool: str, kind: str) -> None:
        """The feed goes bad in one of the ways the guard must refuse."""
        ctx = self.pools[pool]
        feed = ctx.market.feed
        now = boa.env.timestamp
        rid = feed.latestRoundData()[0] if not feed.reverting() else 1
        good = ctx.last_good_answer
        with self._only(None):
            feed.set_reverting(False)
            if kind == "zero":
                feed.set_answer(0)
            elif kind == "negative":
                feed.set_answer(-good)
            elif kind == "incomplete":
                feed.set_round_data(rid + 1, good, now, now, rid)
            elif kind == "future":
                feed.set_round_data(rid + 1, good, now, now + 60, rid + 1)
            elif kind == "stale":
                feed.set_round_data(rid + 1, good, now, max(now - 86_400, 1), rid + 1)
            elif kind == "reverting":
                feed.set_reverting(True)
            else:
                feed.set_answer(10**23)  # 1e15 USD in 8 decimals: above MAX_PRICE
        expected = {
            "zero": 2,
            "negative": 2,
            "incomplete": 3,
            "future": 3,
            "stale": 4,
            "reverting": 1,
            "huge": 5,
        }[kind]
        status = ctx.market.pool.price_status()[1]
        if status != expected:
            raise Violation(f"break_feed {kind}: status {status}, expected {expected}")
        self._count("break_feed", kind)
        self.price_or_time_rule = True

    @rule(pool=st.sampled_from(FUZZED), after=st.sampled_from([0, 3_600]))
    def restore_feed(self, pool: str, after: int) -> None:
        """The feed recovers with the last good answer, now or after a heartbeat (by then the
        guard accepts a move past its jump bound)."""
        ctx = self.pools[pool]
        if after:
            boa.env.time_travel(seconds=after)
        self._post(ctx, ctx.last_good_answer)
        self._count("restore_feed", f"after {after}s")
        self.price_or_time_rule = True

    @rule(
        seconds=st.one_of(st.integers(1, 7_200), st.integers(1, 30 * 86_400)),
        heartbeat=st.booleans(),
    )
    def advance_time(self, seconds: int, heartbeat: bool) -> None:
        """Time passes; with `heartbeat` every working feed posts its answer again."""
        rates = {n: c.market.pool.rate() for n, c in self.pools.items()}
        debts = {
            (n, pid): c.market.pool.debt_of(pid) for n, c in self.pools.items() for pid in c.ids
        }
        totals = {n: c.market.pool.total_debt() for n, c in self.pools.items()}
        boa.env.time_travel(seconds=seconds)
        for n, c in self.pools.items():
            if c.market.pool.rate() < rates[n] or c.market.pool.total_debt() < totals[n]:
                raise Violation(f"time alone shrank the rate or total debt of {n}")
        for (n, pid), d in debts.items():
            if self.pools[n].market.pool.debt_of(pid) < d:
                raise Violation(f"time alone shrank the debt of {n}#{pid}")
        if heartbeat:
            for c in self.pools.values():
                if c.market.feed.reverting():
                    continue
                answer = c.market.feed.latestRoundData()[1]
                if 0 < answer <= 10**22:
                    c.market.feed.set_answer(answer)
        self._count("advance_time", "heartbeat" if heartbeat else "silent")
        self.price_or_time_rule = True

    # ------------------------------------------------ batched liquidation

    @rule(
        pool=st.sampled_from(FUZZED),
        noise=st.booleans(),
        budget=st.sampled_from(["max", "exact", "short", "max", "zero"]),
        by=st.sampled_from([0, 0, 1]),
        prefer_due=st.sampled_from([True, True, False]),
    )
    def keeper_batch(self, pool: str, noise: bool, budget: str, by: int, prefer_due: bool) -> None:
        """A keeper passes `positions_to_liquidate` (with noise: id 0, an unknown id, every
        known id and a repeat) to `liquidate_many`, mostly in a pool with unhealthy
        positions at the feed's price; the mirror predicts each position's outcome in
        order, skips included, and the budget's effect."""
        due = sorted(n for n, ids in self.unhealthy.items() if ids)
        if prefer_due and due:
            pool = due[FUZZED.index(pool) % len(due)]
        ctx = self.pools[pool]
        m = ctx.market
        listed = list(m.pool.positions_to_liquidate(1, 5_000))
        ids = listed
        if noise:
            ids = [0, *listed[:1], *ctx.ids, len(ctx.ids) + 10**6, *listed[-1:]]
        ids = ids[:1_000]
        price, oracle = self._price(ctx)
        p = self._params(ctx)
        rate = m.pool.rate()
        threshold = p.liquidation_threshold

        def plan(cap: int) -> tuple[list, dict, int, int]:
            """Liquidations [(id, Liquidation, coll, debt, new coll, new norm)] in order,
            the final (coll, norm) of each, bhUSD paid and collateral out under `cap`."""
            state: dict[int, tuple[int, int]] = {}
            done, paid, out = [], 0, 0
            for pid in ids:
                if pid == 0 or pid > m.pool.position_count():
                    continue
                coll, norm = state.get(pid) or self._pos(ctx, pid)
                debt = risk.debt(norm, rate)
                if norm == 0 or not risk.is_liquidatable(coll, debt, price, threshold, m.scale):
                    continue
                liq = risk.liquidation_amounts(coll, debt, price, p, m.scale)
                if paid + liq.paid > cap:
                    continue
                new_norm = norm - liq.repaid * WAD // rate if liq.repaid < debt else 0
                state[pid] = (coll - liq.collateral_out, new_norm)
                done.append((pid, liq, coll, debt, *state[pid]))
                paid += liq.paid
                out += liq.collateral_out
            return done, state, paid, out

        expected = None
        cap = MAX_UINT
        done: list = []
        final: dict = {}
        paid = out = 0
        if oracle is None:
            done, final, paid, out = plan(MAX_UINT)
            cap = {"max": MAX_UINT, "exact": paid, "short": max(paid - 1, 1), "zero": 0}[budget]
            if budget == "short":
                done, final, paid, out = plan(cap)
        elif budget == "zero":
            cap = 0
        closed = self._liquidations_closed(ctx)
        if cap == 0:
            expected = "pool: zero amount"
        elif closed:
            expected = closed
        elif oracle:
            expected = oracle
        elif not done:
            expected = "pool: nothing to liquidate"
        who = self.keeper if by == 0 else self.borrowers[by]
        self._give(who, paid if expected is None else 0)
        reserve = self._reserve_now(m)  # liquidate_many accrues first
        count = m.pool.position_count()
        start = {pid: self._pos(ctx, pid) for pid in ids if 0 < pid <= count}
        with self._only(ctx):
            got, got_out = self._call(who, m.pool.liquidate_many, ids, cap, 0)
        self._expect("keeper_batch", expected, got)
        self._liquidation_law("keeper_batch", ctx, closed, got)
        if got is not None:
            return
        STATS["canary/batch_liquidation"] += 1
        self._batch_laws(ctx, price, rate, start)
        if got_out != out:
            raise Violation(f"liquidate_many: out {got_out} != mirror {out}")
        for pid, state in final.items():
            if self._pos(ctx, pid) != state:
                raise Violation(f"liquidate_many: {pid} is {self._pos(ctx, pid)}, mirror {state}")
        for pid, liq, coll, debt, new_coll, new_norm in done:
            self._debt_op(ctx)
            STATS["canary/liquidation"] += 1
            new_debt = risk.debt(new_norm, rate)
            if 0 < new_debt < p.min_debt:
                raise Violation("batch liquidation left dust debt")
            if new_debt and risk.health(
                new_coll, new_debt, price, threshold, m.scale
            ) <= risk.health(coll, debt, price, threshold, m.scale):
                raise Violation(f"batch liquidation lowered the health of {pid}")
            if liq.shortfall:
                STATS["canary/liquidation_shortfall"] += 1
                reserve += max(liq.paid - (debt - liq.shortfall), 0)
                if liq.shortfall > reserve:
                    self.liquidation_exhausted_reserve = True
                    STATS["canary/bad_debt"] += 1
                reserve -= min(reserve, liq.shortfall)
            else:
                reserve += liq.paid - liq.repaid

    def _batch_laws(self, ctx: Ctx, price: int, rate: int, start: dict) -> None:
        """The liquidation laws for each position of a batch, from its `Liquidate` event:
        what it paid, what it took, what it drew from the reserve and left as bad debt."""
        m = ctx.market
        events = [e for e in m.pool.get_logs() if type(e).__name__ == "Liquidate"]
        per_id = collections.Counter(e.id for e in events)
        for e in events:
            if per_id[e.id] > 1:
                continue
            coll, norm = start[e.id]
            new_coll, new_norm = self._pos(ctx, e.id)
            seen = law.LiquidationSeen(
                price=price,
                terms=self._terms(ctx),
                coll_before=coll,
                debt_before=ceil_div(norm * rate, WAD),
                coll_after=new_coll,
                debt_after=ceil_div(new_norm * rate, WAD),
                paid=e.paid,
                out=e.collateral_out,
                # in a batch the reserve is shared: each position's draw is its event's
                reserve_before=e.reserve_used,
                reserve_after=0,
                bad_debt_before=0,
                bad_debt_after=e.bad_debt,
            )
            self._liquidation_laws(seen)

    # -------------------------------------------------------- savings vault

    def _share_price(self) -> int:
        """bhUSD for 10**24 shares (rounded down): never falls without a bad-debt cover."""
        return self.vault.convertToAssets(10**24)

    @rule(who=st.integers(0, 2), amount=st.sampled_from([0, 1, 10**18, 5_000 * 10**18]))
    def vault_deposit(self, who: int, amount: int) -> None:
        """A saver deposits bhUSD and gets exactly the previewed shares."""
        saver = self.borrowers[who]
        self._give(saver, amount)
        shares = self.vault.previewDeposit(amount)
        expected = "vault: zero shares" if shares == 0 else None
        with boa.env.prank(saver):
            self.sys.stablecoin.approve(self.vault.address, amount)
        before = self.vault.balanceOf(saver)
        with self._only(None):
            got, minted = self._call(saver, self.vault.deposit, amount, saver)
        self._expect("vault_deposit", expected, got)
        if got is None and (minted != shares or self.vault.balanceOf(saver) != before + shares):
            raise Violation(f"vault deposit minted {minted}, previewed {shares}")

    @rule(who=st.integers(0, 2), frac=st.sampled_from([0, 1, 5_000, 10_000]))
    def vault_redeem(self, who: int, frac: int) -> None:
        """A saver redeems `frac` bps of its shares and gets exactly the previewed bhUSD."""
        saver = self.borrowers[who]
        shares = self.vault.balanceOf(saver) * frac // BPS
        assets = self.vault.previewRedeem(shares)
        expected = "vault: zero assets" if assets == 0 else None
        before = self.sys.stablecoin.balanceOf(saver)
        with self._only(None):
            got, paid = self._call(saver, self.vault.redeem, shares, saver, saver)
        self._expect("vault_redeem", expected, got)
        if got is None and (
            paid != assets or self.sys.stablecoin.balanceOf(saver) != before + paid
        ):
            raise Violation(f"vault redeem paid {paid}, previewed {assets}")

    @rule(who=st.integers(0, 2), shares=st.sampled_from([0, 1, 10**18, 3_000 * 10**18]))
    def vault_mint(self, who: int, shares: int) -> None:
        """A saver mints exact shares and pays exactly the previewed bhUSD (rounded up)."""
        saver = self.borrowers[who]
        assets = self.vault.previewMint(shares)
        self._give(saver, assets)
        with boa.env.prank(saver):
            self.sys.stablecoin.approve(self.vault.address, assets)
        before = self.sys.stablecoin.balanceOf(saver)
        expected = "vault: zero shares" if shares == 0 else None
        with self._only(None):
            got, paid = self._call(saver, self.vault.mint, shares, saver)
        self._expect("vault_mint", expected, got)
        if got is None and (
            paid != assets or before - self.sys.stablecoin.balanceOf(saver) != paid
        ):
            raise Violation(f"vault mint took {paid}, previewed {assets}")

    @rule(who=st.integers(0, 2), frac=st.sampled_from([0, 1, 5_000, 10_000, 10_001]))
    def vault_withdraw(self, who: int, frac: int) -> None:
        """A saver withdraws `frac` bps of what it may (above 100 %: refused) and burns
        exactly the previewed shares (rounded up)."""
        saver = self.borrowers[who]
        most = self.vault.maxWithdraw(saver)
        assets = most * frac // BPS + (1 if frac > BPS else 0)
        shares = self.vault.previewWithdraw(assets)
        expected = None
        if assets > most:
            expected = "vault: withdraw above maximum"
        elif assets == 0:
            expected = "vault: zero assets"
        before = self.vault.balanceOf(saver)
        with self._only(None):
            got, burned = self._call(saver, self.vault.withdraw, assets, saver, saver)
        self._expect("vault_withdraw", expected, got)
        if got is None and (burned != shares or before - self.vault.balanceOf(saver) != shares):
            raise Violation(f"vault withdraw burned {burned}, previewed {shares}")

    @rule(pool=st.sampled_from(FUZZED), frac=st.sampled_from([10_000, 5_000, 1, 0, 20_000]))
    def cover_bad_debt(self, pool: str, frac: int) -> None:
        """Governance pays `frac` bps of a pool's bad debt from the vault: within 10 % of
        the vault's assets, once a day; supply and bad debt fall by the same amount."""
        ctx = self.pools[pool]
        m = ctx.market
        factory = self.sys.factory
        bad = m.pool.bad_debt()
        amount = bad * frac // BPS
        last = factory.last_cover()
        expected = None
        if amount == 0:
            expected = "factory: zero amount"
        elif amount > bad:
            expected = "factory: amount above bad debt"
        elif amount * BPS > self.vault.totalAssets() * factory.MAX_COVER_BPS():
            expected = "factory: cover above cap"
        elif last and boa.env.timestamp < last + factory.COVER_COOLDOWN():
            expected = "factory: cover cooldown"
        supply = self.sys.stablecoin.totalSupply()
        with self._only(ctx):
            got, _ = self._call(self.admin, factory.cover_bad_debt, m.pool.address, amount)
        self._expect("cover_bad_debt", expected, got)
        if got is None:
            self.netted[pool] = amount
            if m.pool.bad_debt() != bad - amount:
                raise Violation("cover_bad_debt: bad debt did not fall by the amount")
            if self.sys.stablecoin.totalSupply() != supply - amount:
                raise Violation("cover_bad_debt: supply did not fall by the amount")

    @rule(
        pool=st.sampled_from(FUZZED),
        who=st.integers(0, 2),
        wait=st.sampled_from([0, 0, 30 * 86_400, 365 * 86_400]),
    )
    def sweep(self, pool: str, who: int, wait: int) -> None:
        """Anyone sweeps a pool, now or after a month or a year of fees: its bad debt is cancelled
        with its reserve first, then the reserve above the target goes to the vault, which
        streams it."""
        ctx = self.pools[pool]
        if wait:
            boa.env.time_travel(seconds=wait)
            self.price_or_time_rule = True
        m = ctx.market
        factory = self.sys.factory
        with boa.env.anchor():  # the reserve after the accrual the sweep does first
            m.pool.accrue()
            reserve = m.pool.reserve()
        bad = m.pool.bad_debt()
        netted = min(reserve, bad)
        target = factory.reserve_target(m.pool.address)
        swept = max(reserve - netted - target, 0)
        vault_before = self.sys.stablecoin.balanceOf(self.vault.address)
        with self._only(ctx):
            got, result = self._call(
                [self.keeper, self.admin, self.borrowers[0]][who], factory.sweep, m.pool.address
            )
        self._expect("sweep", None, got)
        if result != swept or m.pool.bad_debt() != bad - netted:
            raise Violation(f"sweep: swept {result} (mirror {swept}), bad debt {m.pool.bad_debt()}")
        if self.sys.stablecoin.balanceOf(self.vault.address) != vault_before + swept:
            raise Violation("sweep: the vault did not receive what left the reserve")
        if m.pool.reserve() != reserve - netted - swept:
            raise Violation("sweep: reserve")
        self.netted[pool] = netted
        if swept or netted:
            STATS["canary/sweep"] += 1

    # ------------------------------------------------------- governance

    @rule(
        pool=st.sampled_from(FUZZED),
        paused=st.sampled_from([False, True, False]),
        probe=st.sampled_from([True, False, False]),
        cycle=st.sampled_from([False, False, True]),
    )
    def set_paused(self, pool: str, paused: bool, probe: bool = False, cycle: bool = False) -> None:
        """Governance pauses or unpauses new debt and liquidations in one pool through the
        factory (with `cycle`: pauses, then unpauses at once). An unpause of a paused pool
        starts the grace window (grace end = now + the grace period); nothing else moves it.
        With `probe` (always after a cycle), a keeper then tries to liquidate the pool's first
        unhealthy position (or its first position) at once: refused while paused or in the
        grace window, whatever the position's health."""
        ctx = self.pools[pool]
        for state in (True, False) if cycle else (paused,):
            self._set_paused(ctx, state)
        # the first unhealthy position, or any: the pause and the window refuse them all
        targets = sorted(self.unhealthy.get(pool) or ()) or ctx.ids
        if (probe or cycle) and targets:
            self._liquidate("liquidate", ctx, targets[0], 0, "max", "zero")

    def _set_paused(self, ctx: Ctx, paused: bool) -> None:
        before = self._controls(ctx)
        was = ctx.market.pool.paused()
        with self._only(ctx):
            got, _ = self._call(
                self.admin, self.sys.factory.set_paused, ctx.market.pool.address, paused
            )
        self._expect("set_paused", None, got)
        assert ctx.market.pool.paused() == paused
        end = boa.env.timestamp + before.grace_period if was and not paused else before.grace_end
        want = risk.Controls(before.position_debt_cap, before.haircut, before.grace_period, end)
        if self._controls(ctx) != want:
            raise Violation(f"set_paused: controls {self._controls(ctx)}, want {want}")
        if paused:
            STATS["canary/pause"] += 1

    # -------------------------------------------------------- invariants

    @invariant()
    def laws(self) -> None:
        """Every law of the protocol, after every step (the named checks of `laws.py` and
        the fuzzer's own bookkeeping laws)."""
        stable = self.sys.stablecoin
        floor_debts = 0
        bad = 0
        reserves = 0
        for market in self.sys.markets.values():
            pool = market.pool
            count = boa.env.get_storage(pool.address, SLOT_POSITION_COUNT)
            rate = pool.rate()  # the pool's own view, not the mirror's accrual
            total_coll, total_norm = self._totals(market)
            ctx = self.pools.get(market.name)
            sum_coll = sum_norm = 0
            debts = []
            p = self.params[market.name]
            for pid in range(1, count + 1):
                packed = boa.env.get_storage(pool.address, _slot(SLOT_POSITIONS, pid))
                coll, norm = packed >> 128, packed & MASK128
                debt = ceil_div(norm * rate, WAD)
                sum_coll += coll
                sum_norm += norm
                debts.append(debt)
                if norm > 0 and coll == 0:
                    raise Violation(f"{market.name}#{pid} has debt without collateral")
                if 0 < debt < p.min_debt:
                    raise Violation(f"{market.name}#{pid} debt {debt} below min debt")
            if sum_norm != total_norm or sum_coll != total_coll:
                raise Violation(f"{market.name}: totals are not the sum of positions")
            law.law_debts_sum_to_total(market.name, debts, ceil_div(total_norm * rate, WAD))
            if total_coll != balance(market.token, pool.address):
                raise Violation(f"{market.name}: recorded collateral != token balance")
            # the identity holds at the last accrual: interest not yet accrued is in neither side
            stored_rate = boa.env.get_storage(pool.address, SLOT_RATE) >> 64
            floor_debts += total_norm * stored_rate // WAD
            reserve = self._reserve(market)
            b = boa.env.get_storage(pool.address, SLOT_BAD_DEBT)
            reserves += reserve
            bad += b
            if ctx is not None and b != self.bad_debt.get(ctx.name, b):
                if b < self.bad_debt[ctx.name]:
                    if self.rule not in ("sweep", "cover_bad_debt") or (
                        b != self.bad_debt[ctx.name] - self.netted[ctx.name]
                    ):
                        raise Violation(f"{ctx.name}: bad debt shrank in {self.rule}")
                else:
                    if (
                        self.rule not in ("liquidate", "keeper_sweep", "keeper_batch")
                        or not self.liquidation_exhausted_reserve
                    ):
                        raise Violation(f"{ctx.name}: bad debt grew in {self.rule}")
                    # (in a batch, liquidations after the one that exhausted the reserve
                    # refill it with their fees; `keeper_batch` follows the reserve itself)
                    if reserve != 0 and self.rule != "keeper_batch":
                        raise Violation(f"{ctx.name}: bad debt grew while the reserve was not 0")
        # supply + reserves <= floor(debts) + bad debt <= that + the rounding budget
        supply = boa.env.get_storage(stable.address, SLOT_TOTAL_SUPPLY)
        law.law_supply_and_reserves_match_debts_and_bad_debt(
            supply, reserves, floor_debts, bad, self.budget
        )
        self._check_vault()
        self._check_health_law()

    def _check_vault(self) -> None:
        """The vault's share price never falls except when governance covers bad debt
        from it, and the vault never accounts for more bhUSD than it holds."""
        price = self._share_price()
        if price < self.share_price and self.rule != "cover_bad_debt":
            raise Violation(f"{self.rule} lowered the share price {self.share_price} -> {price}")
        self.share_price = price
        if self.vault.tracked_assets() > self.sys.stablecoin.balanceOf(self.vault.address):
            raise Violation("the vault tracks more bhUSD than it holds")

    def _check_health_law(self) -> None:
        """Only a price move or time (fees) makes a position unhealthy, never an action."""
        unhealthy = {c.name: self._unhealthy(c) for c in self.pools.values()}
        for name, now in unhealthy.items():
            before = self.unhealthy.get(name)
            if now is None or before is None or self.price_or_time_rule:
                continue
            if not now <= before:
                raise Violation(f"{self.rule} made {name}#{sorted(now - before)} unhealthy")
        self._record(unhealthy)

    def _unhealthy(self, ctx: Ctx) -> set[int] | None:
        price = self._feed_price(ctx)
        if price == 0:
            return None
        m = ctx.market
        rate = self._rate(m)
        threshold = self._params(ctx).liquidation_threshold
        out = set()
        for pid in ctx.ids:
            coll, norm = self._pos(ctx, pid)
            if risk.is_liquidatable(coll, risk.debt(norm, rate), price, threshold, m.scale):
                out.add(pid)
        return out

    def _record(self, unhealthy: dict | None = None) -> None:
        if unhealthy is None:
            unhealthy = {c.name: self._unhealthy(c) for c in self.pools.values()}
        self.unhealthy = unhealthy
        self.bad_debt = {
            c.name: boa.env.get_storage(c.market.pool.address, SLOT_BAD_DEBT)
            for c in self.pools.values()
        }
        self.price_or_time_rule = False
        self.liquidation_exhausted_reserve = False


def actors() -> tuple[list[str], str, str, str, str]:
    """borrowers, operator (approved by borrower 0 in every pool), keeper, whale and a
    second keeper (the rival) that races the first."""
    borrowers = [boa.env.generate_address(f"borrower{i}") for i in range(3)]
    names = ("operator", "keeper", "whale", "rival")
    return borrowers, *(boa.env.generate_address(n) for n in names)  # type: ignore[return-value]


def deploy() -> BoaSystem:
    system = deploy_system(FUZZED)
    # a pool no rule touches, whose position funds repayers and keepers
    weth = system.markets["WETH"].config
    params = RiskParams(**{**weth.params.__dict__, "debt_ceiling": 10**33, "stability_fee": 0})
    fund = PoolConfig(**{**weth.__dict__, "name": "FUND", "params": params})
    fund = create_pool(system, fund)
    system.actors = actors()
    borrowers, operator, keeper, whale, rival = system.actors
    system.steward = boa.env.generate_address("steward")
    with boa.env.prank(system.admin):
        system.factory.set_steward(system.steward)
    # the whale's position in a pool no rule touches funds every repayer and keeper
    fund.fund(whale, 10**30)
    with boa.env.prank(whale):
        fund.pool.open(10**30, 10**29)
    with boa.env.prank(system.admin):
        for name in FUZZED:  # the lowest target, so that fees reach the vault in a campaign
            system.factory.set_reserve_target(
                system.markets[name].pool.address, system.factory.MIN_RESERVE_TARGET()
            )
    for name in FUZZED:
        market = system.markets[name]
        for who in [*borrowers, keeper, operator, rival]:
            with boa.env.prank(who):
                market.token.approve(market.pool.address, MAX_UINT)
                # boosts take the keepers' collateral, top-ups the owners'
                market.token.approve(system.automation.address, MAX_UINT)
        with boa.env.prank(borrowers[0]):
            market.pool.set_operator(operator, True)
        for who in borrowers:  # every owner lets the automation act on his positions
            with boa.env.prank(who):
                market.pool.set_operator(system.automation.address, True)
    for who in (keeper, rival):  # a protection's deleverage pulls the keeper's bhUSD
        with boa.env.prank(who):
            system.stablecoin.approve(system.automation.address, MAX_UINT)
    return system
