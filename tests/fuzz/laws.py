"""The protocol's economic laws, stated from first principles, one named check per law.

Each check takes what a test observed on chain (balances, positions, the reserve, bad debt,
supply, all at the oracle price) and raises `LawViolation` naming the law. None of them asks
`bulkhead.risk` what the contract should have done: the Python mirror shares the design's
mistakes, the laws do not. The stateful fuzzer (`machine.py`) and the property tests
(`test_laws.py`) call the same checks, as Liquity v2's `Invariants.t.sol` names each law.

Units: values, debts, bhUSD [wad]; collateral [collateral units]; fee and bonus [bps];
health [wad]; price [wad per whole collateral unit].
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal

WAD = 10**18
BPS = 10_000
ROUNDING = 3  # [wei] each value is floored once per holder; a liquidation touches three
PROTECTION_TOLERANCE = 10**16  # [wad] how far from the owner's target a rule may land

EXACT = Context(prec=60)  # a local context: vyper forbids changing the global precision


class LawViolation(AssertionError):
    """A law of the protocol does not hold; the message starts with the law's name."""


def _fail(law: str, message: str) -> None:
    raise LawViolation(f"{law}: {message}")


# ------------------------------------------------------------- definitions


def worth(coll: int, price: int, scale: int) -> int:
    """Collateral at the oracle price [wad], floored (the protocol's definition of value)."""
    return coll * scale * price // WAD


def health_of(coll: int, debt: int, price: int, threshold: int, scale: int) -> int | None:
    """Collateral value x threshold / debt [wad]; None without debt (no health to lose)."""
    if debt == 0:
        return None
    return worth(coll, price, scale) * threshold * WAD // BPS // debt


def equity(coll: int, debt: int, price: int, scale: int) -> int:
    """What a position is worth to its owner with limited liability: max(value - debt, 0)."""
    return max(worth(coll, price, scale) - debt, 0)


@dataclass(frozen=True)
class Terms:
    """A pool's liquidation terms at the moment of a liquidation."""

    fee: int  # [bps] liquidation fee, to the reserve
    bonus: int  # [bps] keeper's bonus
    tip: int  # [wad] gas tip for a whole position
    threshold: int  # [bps] liquidation threshold
    scale: int  # 10 ** (18 - collateral decimals)


@dataclass(frozen=True)
class LiquidationSeen:
    """One liquidation of one position as the chain shows it, before and after."""

    price: int  # [wad] the oracle price it ran at
    terms: Terms
    coll_before: int
    debt_before: int
    coll_after: int
    debt_after: int
    paid: int  # [wad] bhUSD the liquidator spent
    out: int  # collateral the liquidator received
    reserve_before: int
    reserve_after: int
    bad_debt_before: int
    bad_debt_after: int

    @property
    def value_before(self) -> int:
        return worth(self.coll_before, self.price, self.terms.scale)

    @property
    def covers_debt_and_fee(self) -> bool:
        """value >= debt x (1 + fee): the position can pay its debt and the fee itself."""
        return self.value_before * BPS >= self.debt_before * (BPS + self.terms.fee)


# ---------------------------------------------------------- liquidation laws


def law_reserve_untouched_while_value_covers_debt_and_fee(seen: LiquidationSeen) -> None:
    """No liquidation lowers the reserve or adds bad debt while value >= debt x (1 + fee)."""
    if not seen.covers_debt_and_fee:
        return
    if seen.reserve_after < seen.reserve_before or seen.bad_debt_after > seen.bad_debt_before:
        _fail(
            "reserve_untouched_while_value_covers_debt_and_fee",
            f"value {seen.value_before} >= debt {seen.debt_before} x (1 + fee) but the reserve "
            f"went {seen.reserve_before} -> {seen.reserve_after} and bad debt "
            f"{seen.bad_debt_before} -> {seen.bad_debt_after}",
        )


def law_self_liquidation_never_beats_close(wealth_before: int, wealth_after: int) -> None:
    """An owner who liquidates his own position ends with no more than before.

    Wealth is bhUSD + collateral in the wallet at the price + sum of max(value - debt, 0)
    over the owner's positions in the pool: what `close` (or walking away from a position
    under water) would leave him. Within a few wei of flooring.
    """
    if wealth_after > wealth_before + ROUNDING:
        _fail(
            "self_liquidation_never_beats_close",
            f"the owner went from {wealth_before} to {wealth_after} "
            f"(+{wealth_after - wealth_before} wei) by liquidating himself",
        )


def law_liquidation_keeps_health_of_position_with_equity(seen: LiquidationSeen) -> None:
    """A liquidation never lowers the health of a position that had equity (value > debt)."""
    if seen.value_before <= seen.debt_before:
        return
    t = seen.terms
    before = health_of(seen.coll_before, seen.debt_before, seen.price, t.threshold, t.scale)
    after = health_of(seen.coll_after, seen.debt_after, seen.price, t.threshold, t.scale)
    if after is not None and before is not None and after < before:
        _fail(
            "liquidation_keeps_health_of_position_with_equity",
            f"health {before} -> {after} (value {seen.value_before}, debt {seen.debt_before})",
        )


def law_owner_loss_within_fee_bonus_and_tip(seen: LiquidationSeen) -> None:
    """The owner loses at most fee x repaid + bonus x paid + tip x repaid / debt.

    Loss is the fall of the position's worth to a limited-liability owner,
    max(value - debt, 0), where repaid is the fall of the position's debt.
    """
    t = seen.terms
    repaid = seen.debt_before - seen.debt_after
    loss = equity(seen.coll_before, seen.debt_before, seen.price, t.scale) - equity(
        seen.coll_after, seen.debt_after, seen.price, t.scale
    )
    bound = (
        -(-(t.fee * repaid + t.bonus * seen.paid) // BPS)
        + -(-(t.tip * repaid) // seen.debt_before)
        + ROUNDING
    )
    if loss > bound:
        _fail(
            "owner_loss_within_fee_bonus_and_tip",
            f"the owner lost {loss} wei, at most {bound} allowed (repaid {repaid}, "
            f"paid {seen.paid}, value {seen.value_before}, debt {seen.debt_before})",
        )


# -------------------------------------------------------- accounting laws


def law_debts_sum_to_total(name: str, debts: list[int], total_debt: int) -> None:
    """Each position's debt rounds up: total <= sum of debts <= total + number of positions."""
    owing = sum(1 for d in debts if d)
    if not total_debt <= sum(debts) <= total_debt + owing:
        _fail("debts_sum_to_total", f"{name}: sum of debts {sum(debts)} vs total {total_debt}")


def law_supply_and_reserves_match_debts_and_bad_debt(
    supply: int, reserves: int, debts: int, bad_debt: int, rounding: int
) -> None:
    """bhUSD supply + reserves = debts + bad debt, up to `rounding` wei (in the pools' favour:
    each debt change rounds the debt up by at most 1 + ceil(rate) wei)."""
    gap = debts + bad_debt - supply - reserves
    if not 0 <= gap <= rounding:
        _fail(
            "supply_and_reserves_match_debts_and_bad_debt",
            f"supply {supply} + reserves {reserves} vs debts {debts} + bad debt {bad_debt}: "
            f"gap {gap} wei, at most {rounding}",
        )


def exact_growth(rate: int, fee: int, seconds: int) -> Decimal:
    """rate x exp(fee x seconds) [wad], exactly (60 digits)."""
    return EXACT.multiply(Decimal(rate), EXACT.exp(EXACT.divide(Decimal(fee * seconds), WAD)))


def law_accrual_independent_of_call_frequency(
    once: int, split: int, start: int, fee: int, seconds: int
) -> None:
    """Accruing once over a gap or in many calls over it gives the same rate, and both are
    rate x exp(fee x gap): within 1e-9 relative (any gap up to 5 years, any fee up to max)."""
    exact = exact_growth(start, fee, seconds)
    for how, got in (("once", once), ("in parts", split)):
        if abs(Decimal(got) - exact) > EXACT.multiply(exact, Decimal("1e-9")):
            _fail(
                "accrual_independent_of_call_frequency",
                f"accrued {how} over {seconds} s at {fee}/s: {got}, exp gives {exact:.0f} "
                f"(other way: {split if how == 'once' else once})",
            )
    if abs(once - split) > max(once, split) * 10**-9:
        _fail("accrual_independent_of_call_frequency", f"once {once} vs in parts {split}")


def law_preview_never_reverts_where_action_succeeds(
    preview: str, preview_reason: str | None, action_reason: str | None
) -> None:
    """A preview (`preview_liquidate`, `preview_auto_deleverage`, `max_borrow`) answers in
    every state where its action succeeds."""
    if action_reason is None and preview_reason is not None:
        _fail(
            "preview_never_reverts_where_action_succeeds",
            f"{preview} reverted ({preview_reason!r}) where its action succeeds",
        )


# ---------------------------------------------------------- automation laws


def law_rule_lands_within_target(
    kind: str, before: int, after: int, target: int, tolerance: int = PROTECTION_TOLERANCE
) -> None:
    """The result is within the owner's target: boost [target, target + tol] and below where
    it started; top-up [target - tol, target]; deleverage [target - tol, target] and above
    where it started."""
    if kind == "boost":
        ok = target <= after <= target + tolerance and after < before
    elif kind == "top_up":
        ok = target - tolerance <= after <= target
    else:
        ok = target - tolerance <= after <= target and after > before
    if not ok:
        _fail(
            "rule_lands_within_target",
            f"{kind}: health {before} -> {after}, owner's target {target}",
        )


def law_keeper_fee_within_cap(kind: str, fee: int, amount: int, rule_fee: int, bonus: int) -> None:
    """A keeper's fee for carrying out a rule is at most min(rule's max fee, pool's bonus) of
    the amount (boost: bhUSD borrowed; top-up: collateral moved; deleverage: debt repaid),
    1 wei of flooring aside."""
    cap = amount * min(rule_fee, bonus) // BPS + 1
    if fee > cap:
        _fail(
            "keeper_fee_within_cap",
            f"{kind}: the keeper earned {fee} on {amount}; the cap is min({rule_fee}, "
            f"{bonus}) bps = {cap}",
        )


def law_owner_wallet_within_allowance(
    moved: int, wallet_fall: int, total_moved: int, allowance_set: int
) -> None:
    """A top-up takes from the owner's wallet exactly what it moves, and all top-ups since the
    owner set the rule never take more than the allowance he set."""
    if wallet_fall != moved or total_moved > allowance_set:
        _fail(
            "owner_wallet_within_allowance",
            f"the wallet fell by {wallet_fall} for {moved} moved; {total_moved} moved in all "
            f"under an allowance of {allowance_set}",
        )


def law_owner_wallet_untouched(kind: str, before: tuple, after: tuple) -> None:
    """A boost or a deleverage never touches the owner's wallet (collateral and bhUSD)."""
    if before != after:
        _fail("owner_wallet_untouched", f"{kind}: the owner's wallet went {before} -> {after}")


# ---------------------------------------------------------- deleverage laws


def law_deleverage_keeps_collateral_per_debt(
    coll: int, norm: int, new_coll: int, new_norm: int
) -> None:
    """A deleverage never lowers a position's collateral per unit of debt: new collateral /
    new normalised debt >= collateral / normalised debt (a position left without debt has
    none to lower). Health is value x threshold / debt, so at any one price it cannot fall."""
    if new_norm and new_coll * norm < coll * new_norm:
        _fail(
            "deleverage_keeps_collateral_per_debt",
            f"collateral / normalised debt went {coll}/{norm} -> {new_coll}/{new_norm}",
        )


def law_deleverage_never_lowers_health(
    coll: int,
    debt: int,
    new_coll: int,
    new_debt: int,
    price: int,
    threshold: int,
    scale: int,
) -> None:
    """At one price a deleverage leaves health at least where it was, but for rounding: a
    debt rounds up by less than one wei and a value down by less than one, each a relative
    error of 1 / amount, and health itself floors once. So after >= before - before / new
    debt - before / new value - 1 (wei)."""
    before = health_of(coll, debt, price, threshold, scale)
    after = health_of(new_coll, new_debt, price, threshold, scale)
    if before is None or after is None:
        return
    value = worth(new_coll, price, scale)
    slack = -(-before // new_debt) + (-(-before // value) if value else before) + 1
    if after + slack < before:
        _fail(
            "deleverage_never_lowers_health",
            f"health {before} -> {after} (more than {slack} wei of rounding)",
        )


# ------------------------------------------------------- pool-level control laws


def law_haircut_never_changes_health(before: dict, after: dict) -> None:
    """A haircut lowers the borrow limit only: every position's health [wad] is exactly
    what it was (the liquidation threshold does not move), so a haircut never makes a
    position liquidatable. `before` and `after` map position ids to health, read at one
    price and one time."""
    changed = {pid: (h, after.get(pid)) for pid, h in before.items() if after.get(pid) != h}
    if changed:
        _fail("haircut_never_changes_health", f"health (before, after) by position: {changed}")


def law_borrow_within_position_cap(kind: str, debt: int, cap: int) -> None:
    """No borrow (open, borrow, boost) leaves a position's debt above the pool's position
    debt cap [wad]; positions above a lowered cap got there before it was lowered."""
    if debt > cap:
        _fail("borrow_within_position_cap", f"{kind}: debt {debt} above the cap {cap}")


def law_borrow_within_haircut_limit(
    kind: str, coll: int, debt: int, price: int, ltv: int, scale: int
) -> None:
    """After a borrow or a withdrawal the position is within max LTV x (1 - haircut):
    debt x BPS <= value x `ltv`, where `ltv` [bps] is max LTV less the haircut (rounded
    down)."""
    if debt * BPS > worth(coll, price, scale) * ltv:
        _fail(
            "borrow_within_haircut_limit",
            f"{kind}: debt {debt} on collateral worth {worth(coll, price, scale)}, limit {ltv} bps",
        )


def law_no_liquidation_while_paused_or_in_grace(
    kind: str, paused: bool, now: int, grace_end: int, outcome: str | None
) -> None:
    """No liquidation succeeds while its pool is paused or before the grace end [seconds]
    that the last unpause set: owners get that time to repay, deposit or deleverage."""
    if outcome is None and (paused or now < grace_end):
        _fail(
            "no_liquidation_while_paused_or_in_grace",
            f"{kind} succeeded at {now} (paused {paused}, grace until {grace_end})",
        )


# ------------------------------------------------------------------ stop-loss laws


def law_stop_loss_keeper_within_fee(
    out: int, debt: int, price: int, scale: int, rule_fee: int, bonus: int
) -> None:
    """A stop-loss never pays the keeper more than its fee: the collateral it gets is worth
    at most debt x (1 + min(rule's fee, pool's bonus)) at the oracle price."""
    fee = min(rule_fee, bonus)
    if out * scale * price * BPS > debt * (BPS + fee) * WAD:
        _fail(
            "stop_loss_keeper_within_fee",
            f"{out} collateral at {price} for a debt of {debt}: above min({rule_fee}, {bonus}) bps",
        )


def law_stop_loss_settles_exactly(
    debt: int,
    coll: int,
    out: int,
    keeper_paid: int,
    supply_fall: int,
    owner_got: tuple[int, int],
    position_after: tuple[int, int],
) -> None:
    """A stop-loss repays the whole debt from the keeper (exactly the debt, all of it
    burned), leaves the position empty, and gives the owner exactly the collateral the
    keeper did not get, without taking any of his bhUSD. `owner_got` is the change of the
    owner's (collateral, bhUSD)."""
    problems = []
    if keeper_paid != debt or supply_fall != debt:
        problems.append(f"keeper paid {keeper_paid}, supply fell {supply_fall}, debt {debt}")
    if position_after != (0, 0):
        problems.append(f"the position was left with {position_after}")
    if owner_got != (coll - out, 0) or out > coll:
        problems.append(f"the owner got {owner_got} of {coll} collateral, the keeper {out}")
    if problems:
        _fail("stop_loss_settles_exactly", "; ".join(problems))
