"""Laws of issue 15's controls, stated where each bound lies, for `make mutate`: the position
debt cap, the volatility haircut and its steward, the grace window after an unpause (pause
stops liquidations), the stop-loss rule and the lens under them.

Each law is stated from first principles: who may do what, where an edge value falls, who
pays and gets what. Amounts a keeper or an owner would send are the pool's own numbers
(what `debt_of` reads after a borrow in a throw-away fork), never the Python mirror's.
"""

from __future__ import annotations

import boa
import pytest

from bulkhead.risk import BPS, WAD, RiskParams
from tests.audit.conftest import MAX_UINT, World, expect_revert
from tests.fuzz.system import create_pool

NOT_OWNER = "ownable: caller is not the owner"
MAX_HAIRCUT = 5_000  # [bps]
MAX_GRACE_PERIOD = 4 * 3_600  # [seconds]
# WETH's steward rules in bulkhead/configs/local.toml: a ceiling, a step, a cooldown
CEILING, STEP, COOLDOWN = 3_000, 500, 3_600


@pytest.fixture
def steward(world: World) -> str:
    """The risk steward, named by governance (inside each test's anchor)."""
    account = boa.env.generate_address("steward")
    with boa.env.prank(world.admin):
        world.factory.set_steward(account)
    return account


def _gov(world: World, fn, *args):
    with boa.env.prank(world.admin):
        return fn(*args)


def _controls(market) -> tuple:
    return tuple(market.pool.controls())


def _max_ltv_position(world: World) -> int:
    """10 WETH (30,000 USD) borrowed to 1e-12 bhUSD under max LTV (60 %)."""
    m = world.weth
    debt = 10 * m.pool.price() * m.params.max_ltv // BPS - 10**6
    return world.open(m, world.borrower, 10 * WAD, debt)


def _unhealthy(world: World) -> int:
    """A WETH position at max LTV after a 20 % price fall: health 70 / 60 x 0.8 < 1."""
    pid = _max_ltv_position(world)
    world.weth.set_price_wad(world.weth.pool.price() * 8 // 10)
    assert world.weth.pool.health(pid) < WAD
    return pid


def _pause_and_unpause(world: World) -> int:
    """Pause and unpause WETH; the grace end the unpause set."""
    pool = world.weth.pool.address
    _gov(world, world.factory.set_paused, pool, True)
    _gov(world, world.factory.set_paused, pool, False)
    return world.weth.pool.controls()[3]


# ------------------------------------------------------------ pause and the grace window


def test_liquidate__paused__refused_alone_and_in_a_batch(world: World) -> None:
    pid = _unhealthy(world)
    pool = world.weth.pool
    _gov(world, world.factory.set_paused, pool.address, True)
    expect_revert("pool: paused", pool.liquidate, pid, MAX_UINT, 0, sender=world.keeper)
    expect_revert("pool: paused", pool.liquidate_many, [pid], MAX_UINT, 0, sender=world.keeper)
    expect_revert(
        "pool: paused",
        world.system.lens.preview_liquidate,
        pool.address,
        pid,
        MAX_UINT,
        sender=world.keeper,
    )


def test_liquidate__grace_window__refused_until_exactly_the_grace_end(world: World) -> None:
    """The window runs from the unpause for exactly the grace period: one second before its
    end the pool and its preview refuse, at its end both liquidate."""
    pid = _unhealthy(world)
    pool, lens = world.weth.pool, world.system.lens
    start = boa.env.timestamp
    end = _pause_and_unpause(world)
    assert end == start + world.weth.config.grace_period > start
    boa.env.time_travel(seconds=end - 1 - boa.env.timestamp)
    expect_revert("pool: grace window", pool.liquidate, pid, MAX_UINT, 0, sender=world.keeper)
    expect_revert(
        "pool: grace window", pool.liquidate_many, [pid], MAX_UINT, 0, sender=world.keeper
    )
    expect_revert(
        "pool: grace window",
        lens.preview_liquidate,
        pool.address,
        pid,
        MAX_UINT,
        sender=world.keeper,
    )
    boa.env.time_travel(seconds=1)
    assert lens.preview_liquidate(pool.address, pid, MAX_UINT)[2] > 0
    with boa.env.prank(world.keeper):
        assert pool.liquidate(pid, MAX_UINT, 0) > 0


def test_set_paused__unpause_of_an_unpaused_pool__starts_no_window(world: World) -> None:
    """Only an unpause that ends a pause starts a grace window."""
    pid = _unhealthy(world)
    pool = world.weth.pool
    controls = _controls(world.weth)
    _gov(world, world.factory.set_paused, pool.address, False)
    assert _controls(world.weth) == controls
    with boa.env.prank(world.keeper):
        assert pool.liquidate(pid, MAX_UINT, 0) > 0


def test_set_grace_period__during_a_window__keeps_its_end(world: World) -> None:
    pid = _unhealthy(world)
    end = _pause_and_unpause(world)
    _gov(world, world.factory.set_grace_period, world.weth.pool.address, 0)
    assert _controls(world.weth)[2:] == (0, end)
    expect_revert(
        "pool: grace window", world.weth.pool.liquidate, pid, MAX_UINT, 0, sender=world.keeper
    )


# ------------------------------------------------------------------ position debt cap


def test_borrow__exactly_at_the_cap__accepted_one_wei_under_it__refused(world: World) -> None:
    """A borrow may bring the debt up to the cap, not one wei past it: the debt it leads to
    is the pool's own (read after the same borrow in a throw-away fork)."""
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    amount = 1_234 * WAD + 567
    with boa.env.anchor():
        with boa.env.prank(world.borrower):
            pool.borrow(pid, amount)
        debt = pool.debt_of(pid)
    with boa.env.anchor():
        _gov(world, world.factory.set_position_debt_cap, pool.address, debt - 1)
        expect_revert("pool: position debt cap", pool.borrow, pid, amount, sender=world.borrower)
    _gov(world, world.factory.set_position_debt_cap, pool.address, debt)
    with boa.env.prank(world.borrower):
        pool.borrow(pid, amount)
    assert pool.debt_of(pid) == debt


def test_lens_max_borrow__under_a_cap__borrowable_and_within_it(world: World) -> None:
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    cap = pool.debt_of(pid) + 1_000 * WAD
    _gov(world, world.factory.set_position_debt_cap, pool.address, cap)
    amount = world.system.lens.max_borrow(pool.address, pid)
    assert 0 < amount <= 1_000 * WAD
    with boa.env.prank(world.borrower):
        pool.borrow(pid, amount)
    assert pool.debt_of(pid) <= cap


# ------------------------------------------------------------------------ haircut


def test_borrow__past_one_bps_of_haircut__refused_below_it__accepted(world: World) -> None:
    """The borrow limit is max LTV x (1 - haircut), rounded down: with 1 bps of haircut on
    60 % it is 59.99 % (5,999 bps, not 6,000), and the threshold does not move."""
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 0)
    value = 10 * pool.price()  # [wad] 10 WETH
    _gov(world, world.factory.set_haircut, pool.address, 1)
    # halfway between 59.99 % and 60 % of the value: refused
    expect_revert(
        "pool: exceeds max ltv",
        pool.borrow,
        pid,
        value * 59_995 // 100_000,
        sender=world.borrower,
    )
    with boa.env.prank(world.borrower):
        pool.borrow(pid, value * 5_999 // BPS - WAD)
    health = pool.health(pid)
    _gov(world, world.factory.set_haircut, pool.address, MAX_HAIRCUT)
    assert pool.health(pid) == health  # a haircut never moves health


def test_lens_max_borrow__under_a_haircut__borrowable_and_within_the_limit(world: World) -> None:
    pool = world.weth.pool
    pid = world.open(world.weth, world.borrower, 10 * WAD, 1_000 * WAD)
    _gov(world, world.factory.set_haircut, pool.address, 2_500)
    amount = world.system.lens.max_borrow(pool.address, pid)
    with boa.env.prank(world.borrower):
        pool.borrow(pid, amount)
    limit = 10 * pool.price() * (world.weth.params.max_ltv * 7_500 // BPS) // BPS
    assert limit - 3 <= pool.debt_of(pid) <= limit


# ---------------------------------------------------------------- controls' bounds


def test_controls__bounds__each_edge_accepted_one_past_refused(world: World) -> None:
    pool = world.weth.pool.address
    f = world.factory
    ceiling = world.weth.params.debt_ceiling
    for fn, edge, reason in [
        (f.set_position_debt_cap, ceiling, "risk: position cap above debt ceiling"),
        (f.set_haircut, MAX_HAIRCUT, "risk: haircut out of bounds"),
        (f.set_grace_period, MAX_GRACE_PERIOD, "risk: grace period out of bounds"),
    ]:
        _gov(world, fn, pool, edge)
        expect_revert(reason, fn, pool, edge + 1, sender=world.admin)


def test_controls__set__read_back_exactly(world: World) -> None:
    """Each control lives in its own bits: setting one leaves the others as they were."""
    pool = world.weth.pool.address
    cap = 3 * 10**24 + 12_345
    _gov(world, world.factory.set_position_debt_cap, pool, cap)
    _gov(world, world.factory.set_haircut, pool, 4_321)
    _gov(world, world.factory.set_grace_period, pool, 4_097)
    assert _controls(world.weth) == (cap, 4_321, 4_097, 0)


def test_set_controls__anyone_but_the_factory__refused(world: World) -> None:
    for who in (world.admin, world.attacker):
        expect_revert(
            "pool: only factory", world.weth.pool.set_controls, 0, MAX_HAIRCUT, 0, sender=who
        )


# ------------------------------------------------------------------- the steward


def test_set_haircut__stranger__refused(world: World, steward: str) -> None:
    expect_revert(
        "factory: not owner or steward",
        world.factory.set_haircut,
        world.weth.pool.address,
        1,
        sender=world.attacker,
    )


def test_set_haircut__steward_on_a_pool_without_rules__refused(world: World, steward) -> None:
    cfg = world.system.markets["WETH"].config
    from dataclasses import replace

    bare = create_pool(world.system, replace(cfg, name="BARE"))  # no rules
    expect_revert(
        "factory: no steward rules",
        world.factory.set_haircut,
        bare.pool.address,
        1,
        sender=steward,
    )


def _steward_at(world: World, steward: str, haircut: int) -> None:
    """Governance puts the haircut at `haircut`; the cooldown then passes."""
    _gov(world, world.factory.set_haircut, world.weth.pool.address, haircut)
    boa.env.time_travel(seconds=COOLDOWN)


def test_set_haircut__steward_at_its_ceiling__accepted_one_past__refused(
    world: World, steward
) -> None:
    pool = world.weth.pool.address
    _steward_at(world, steward, CEILING - STEP + 1)
    expect_revert(
        "factory: above steward limit", world.factory.set_haircut, pool, CEILING + 1, sender=steward
    )
    with boa.env.prank(steward):
        world.factory.set_haircut(pool, CEILING)
    assert _controls(world.weth)[1] == CEILING


def test_set_haircut__steward_above_its_ceiling__may_lower_it(world: World, steward) -> None:
    """Governance went above the steward's ceiling: the steward may bring it down."""
    pool = world.weth.pool.address
    _steward_at(world, steward, CEILING + 2 * STEP)
    with boa.env.prank(steward):
        world.factory.set_haircut(pool, CEILING + STEP)
    assert _controls(world.weth)[1] == CEILING + STEP


def test_set_haircut__steward_exactly_one_step__accepted_one_more__refused(
    world: World, steward
) -> None:
    pool = world.weth.pool.address
    expect_revert(
        "factory: haircut step too large", world.factory.set_haircut, pool, STEP + 1, sender=steward
    )
    with boa.env.prank(steward):
        world.factory.set_haircut(pool, STEP)
    assert _controls(world.weth)[1] == STEP


def test_set_haircut__steward_cooldown__exactly_the_cooldown(world: World, steward) -> None:
    pool = world.weth.pool.address
    with boa.env.prank(steward):
        world.factory.set_haircut(pool, STEP)
    assert world.factory.steward_rules(pool)[3] == boa.env.timestamp
    boa.env.time_travel(seconds=COOLDOWN - 1)
    expect_revert(
        "factory: steward cooldown", world.factory.set_haircut, pool, 2 * STEP, sender=steward
    )
    boa.env.time_travel(seconds=1)
    with boa.env.prank(steward):
        world.factory.set_haircut(pool, 2 * STEP)
    assert _controls(world.weth)[1] == 2 * STEP


def test_set_haircut__owner_overrule__restarts_the_steward_cooldown(world: World, steward) -> None:
    pool = world.weth.pool.address
    with boa.env.prank(steward):
        world.factory.set_haircut(pool, STEP)
    boa.env.time_travel(seconds=COOLDOWN // 2)
    _gov(world, world.factory.set_haircut, pool, 0)
    boa.env.time_travel(seconds=COOLDOWN // 2)  # the steward's own cooldown is over
    expect_revert(
        "factory: steward cooldown", world.factory.set_haircut, pool, STEP, sender=steward
    )


def test_set_steward_rules__keep_the_last_change(world: World, steward) -> None:
    """New rules do not reset the clock: the steward waits the cooldown after its change."""
    pool = world.weth.pool.address
    with boa.env.prank(steward):
        world.factory.set_haircut(pool, STEP)
    changed = boa.env.timestamp
    _gov(world, world.factory.set_steward_rules, pool, CEILING, STEP, COOLDOWN)
    assert world.factory.steward_rules(pool)[3] == changed
    expect_revert(
        "factory: steward cooldown", world.factory.set_haircut, pool, 2 * STEP, sender=steward
    )


def test_set_steward_rules__edges__accepted_and_one_past__refused(world: World) -> None:
    pool = world.weth.pool.address
    f = world.factory
    _gov(world, f.set_steward_rules, pool, MAX_HAIRCUT, MAX_HAIRCUT, 60)
    assert tuple(f.steward_rules(pool))[:3] == (MAX_HAIRCUT, MAX_HAIRCUT, 60)
    for rules, reason in [
        ((MAX_HAIRCUT + 1, 100, 60), "factory: steward haircut out of bounds"),
        ((1_000, 0, 3_600), "factory: steward step out of bounds"),
        ((1_000, 1_001, 3_600), "factory: steward step out of bounds"),
        ((1_000, 100, 59), "factory: steward cooldown out of bounds"),
        ((1_000, 100, 30 * 86_400 + 1), "factory: steward cooldown out of bounds"),
    ]:
        expect_revert(reason, f.set_steward_rules, pool, *rules, sender=world.admin)
    _gov(world, f.set_steward_rules, pool, 1, 1, 30 * 86_400)


def test_set_steward__only_governance(world: World, steward) -> None:
    expect_revert(NOT_OWNER, world.factory.set_steward, world.attacker, sender=world.attacker)
    expect_revert(NOT_OWNER, world.factory.set_steward, world.attacker, sender=steward)
    assert world.factory.steward() == steward


# ------------------------------------------------------------------------ stop-loss


def _stop_loss(world: World, pid: int, price: int, fee: int = 100) -> None:
    pool, auto = world.weth.pool, world.system.automation
    with boa.env.prank(world.borrower):
        auto.set_stop_loss(pool.address, pid, price, fee)
        pool.set_operator(auto.address, True)
    with boa.env.prank(world.keeper):
        world.stablecoin.approve(auto.address, MAX_UINT)


def _settle(world: World, pid: int) -> tuple[int, int, int, int, int]:
    """Run a due stop-loss: (debt, collateral, price, keeper's collateral, owner's)."""
    pool, auto, token = world.weth.pool, world.system.automation, world.weth.token
    debt, coll, price = pool.debt_of(pid), pool.collateral_of(pid), pool.price()
    keeper = token.balanceOf(world.keeper), world.stablecoin.balanceOf(world.keeper)
    owner = token.balanceOf(world.borrower), world.stablecoin.balanceOf(world.borrower)
    with boa.env.prank(world.keeper):
        out = auto.stop_loss(pool.address, pid)
    assert token.balanceOf(world.keeper) - keeper[0] == out
    assert keeper[1] - world.stablecoin.balanceOf(world.keeper) == debt  # the whole debt
    assert world.stablecoin.balanceOf(world.borrower) == owner[1]
    return debt, coll, price, out, token.balanceOf(world.borrower) - owner[0]


def test_stop_loss__due__keeper_within_its_fee_owner_gets_exactly_the_rest(world: World) -> None:
    """The keeper repays the whole debt and gets collateral worth at most debt x (1 + fee)
    at the oracle price, short of it by less than one unit; the owner gets the rest."""
    pid = world.open(world.weth, world.borrower, 10 * WAD, 12_345 * WAD)
    _stop_loss(world, pid, world.weth.pool.price(), fee=100)
    debt, coll, price, out, owner_got = _settle(world, pid)
    assert out * price * BPS <= debt * (BPS + 100) * WAD
    assert (out + 1) * price * BPS > (debt * (BPS + 100) - BPS) * WAD
    assert owner_got == coll - out > 0
    assert world.weth.pool.collateral_of(pid) == world.weth.pool.debt_of(pid) == 0


def test_stop_loss__bonus_lowered_under_the_rule__fee_capped_by_the_bonus(world: World) -> None:
    pid = world.open(world.weth, world.borrower, 10 * WAD, 12_345 * WAD)
    bonus = world.weth.params.liquidation_bonus
    _stop_loss(world, pid, world.weth.pool.price(), fee=bonus)
    params = RiskParams(**{**world.weth.params.__dict__, "liquidation_bonus": 50})
    _gov(world, world.factory.set_risk_params, world.weth.pool.address, params.as_tuple())
    debt, _coll, price, out, _owner = _settle(world, pid)
    assert out * price * BPS <= debt * (BPS + 50) * WAD


def test_stop_loss__under_water__keeper_gets_all_the_collateral(world: World) -> None:
    pid = _max_ltv_position(world)
    _stop_loss(world, pid, world.weth.pool.price())
    world.weth.set_price_wad(world.weth.pool.price() * 55 // 100)
    _debt, coll, _price, out, owner_got = _settle(world, pid)
    assert (out, owner_got) == (coll, 0)


def test_stop_loss__at_exactly_its_price__due_and_carried_out(world: World) -> None:
    pool, auto = world.weth.pool, world.system.automation
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    _stop_loss(world, pid, pool.price())
    assert [tuple(d) for d in auto.due(pool.address, pid, 1)] == [(pid, 8)]
    _settle(world, pid)


def test_stop_loss__spent__a_second_call_finds_no_rule(world: World) -> None:
    pool, auto = world.weth.pool, world.system.automation
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    _stop_loss(world, pid, pool.price())
    _settle(world, pid)
    assert tuple(auto.stop_loss_rule(pool.address, pid)) == (0, 0)
    expect_revert("automation: no rule", auto.stop_loss, pool.address, pid, sender=world.keeper)
    bare = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    expect_revert("automation: no rule", auto.stop_loss, pool.address, bare, sender=world.keeper)


def test_set_stop_loss__stranger__refused(world: World) -> None:
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    expect_revert(
        "automation: not owner or operator",
        world.system.automation.set_stop_loss,
        world.weth.pool.address,
        pid,
        WAD,
        100,
        sender=world.attacker,
    )


def test_set_stop_loss__edges__accepted_and_one_past__refused(world: World) -> None:
    auto, pool = world.system.automation, world.weth.pool.address
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    bonus = world.weth.params.liquidation_bonus
    with boa.env.prank(world.borrower):
        auto.set_stop_loss(pool, pid, 10**30, bonus)
    assert tuple(auto.stop_loss_rule(pool, pid)) == (10**30, bonus)
    for price, fee, reason in [
        (10**30 + 1, bonus, "automation: price out of bounds"),
        (WAD, bonus + 1, "automation: fee above pool cap"),
    ]:
        expect_revert(reason, auto.set_stop_loss, pool, pid, price, fee, sender=world.borrower)


def test_due__stop_loss_without_operator_or_debt__not_listed(world: World) -> None:
    pool, auto = world.weth.pool, world.system.automation
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    with boa.env.prank(world.borrower):
        auto.set_stop_loss(pool.address, pid, pool.price(), 100)
    assert list(auto.due(pool.address, pid, 1)) == []  # the automation is not its operator
    empty = world.open(world.weth, world.borrower, 10 * WAD, 0)
    with boa.env.prank(world.borrower):
        auto.set_stop_loss(pool.address, empty, pool.price(), 100)
        pool.set_operator(auto.address, True)
    assert [tuple(d) for d in auto.due(pool.address, pid, empty - pid + 1)] == [(pid, 8)]


# ------------------------------------------------------------ due() and the boost


def _boosted(world: World, target: int) -> int:
    """A WETH position at health 4.2 with a boost (trigger 3.0) to `target` [wad], the
    automation its owner's operator."""
    pool, auto = world.weth.pool, world.system.automation
    pid = world.open(world.weth, world.borrower, 10 * WAD, 5_000 * WAD)
    with boa.env.prank(world.borrower):
        auto.set_boost(pool.address, pid, 3 * WAD, target, 100)
        pool.set_operator(auto.address, True)
    return pid


def test_due__boost_while_paused__not_listed(world: World) -> None:
    """A paused pool refuses every borrow, so no boost is due in it."""
    pool, auto = world.weth.pool, world.system.automation
    pid = _boosted(world, 2 * WAD)
    assert [tuple(d) for d in auto.due(pool.address, pid, 1)] == [(pid, 2)]
    _gov(world, world.factory.set_paused, pool.address, True)
    assert list(auto.due(pool.address, pid, 1)) == []


def test_due__boost_target_at_the_haircut_limit__listed_one_wei_under__not(world: World) -> None:
    """A boost is due only when its target health is at or above the health at the borrow
    limit, threshold / (max LTV x (1 - haircut)): with 27.08 % of haircut the limit is
    4,375 bps (6,000 x 7,292 // 10,000) and that health exactly 7,000 / 4,375 = 1.6."""
    pool, auto = world.weth.pool, world.system.automation
    _gov(world, world.factory.set_haircut, pool.address, 2_708)
    at_edge = _boosted(world, 16 * WAD // 10)
    under = _boosted(world, 16 * WAD // 10 - 1)
    due = [tuple(d) for d in auto.due(pool.address, at_edge, under - at_edge + 1)]
    assert due == [(at_edge, 2)]
