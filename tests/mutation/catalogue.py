"""The mutant catalogue of `make mutate`: one seeded change per entry.

Each mutant replaces one exact snippet of one file under contracts/ (it must occur exactly
once, so a catalogue gone stale fails loudly instead of testing nothing), says what the
change means and of which kind it is, and names the test files most likely to kill it
(they run first; the other fast suites follow). A mutant the team judges equivalent (no
test can tell it from the original) carries the reason; docs/AUDIT.md lists it as well.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = (
    "removed assert",
    "flipped comparison",
    "rounding direction",
    "off-by-one bound",
    "dropped state write",
    "swapped role",
    "arithmetic",
)

# test files, run first for the mutants that name them
CATALOGUE = "tests/audit/test_catalogue.py"
FUZZ = "tests/fuzz/test_invariants.py"
REGRESSIONS = "tests/fuzz/test_regressions.py"
REVIEW = "tests/audit/test_review_findings.py"
LAWS_POOL = "tests/mutation/test_laws_pool.py"
LAWS_AUTOMATION = "tests/mutation/test_laws_automation.py"
LAWS_VAULT = "tests/mutation/test_laws_vault.py"
LAWS_GOVERNANCE = "tests/mutation/test_laws_governance.py"

# the fast (titanoboa) suites, in the order they run after a mutant's own hints
FAST_SUITES = (
    "tests/mutation/test_laws_*.py",
    REVIEW,
    CATALOGUE,
    REGRESSIONS,
    "tests/fuzz/test_laws.py",
    "tests/fuzz/test_*.py",
)


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str  # relative to contracts/
    original: str  # occurs exactly once in the file
    replacement: str
    description: str
    kind: str
    tests: tuple[str, ...] = ()  # run first
    equivalent: str = ""  # why no test can kill it, when the team judges so


POOL = "MarginPool.vy"
FACTORY = "PoolFactory.vy"
LENS = "PoolLens.vy"
AUTOMATION = "PositionAutomation.vy"
VAULT = "SavingsVault.vy"
COIN = "Stablecoin.vy"
RISK = "modules/risk.vy"
ORACLE = "modules/oracle_guard.vy"

MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------ MarginPool
    Mutant(
        "pool-withdraw-all",
        POOL,
        'assert _amount <= _coll, "pool: insufficient collateral"',
        'assert _amount < _coll, "pool: insufficient collateral"',
        "withdrawing (or deleveraging) all of a position's collateral is refused",
        "off-by-one bound",
        (LAWS_POOL + "::test_withdraw__all_collateral_of_a_debt_free_position__pays_it_all_out",),
    ),
    Mutant(
        "pool-borrow-anyone",
        POOL,
        "owner: address = self._authorised_owner(_id)\n    self._not_paused()",
        "owner: address = self._existing_owner(_id)\n    self._not_paused()",
        "anyone may borrow against any position (owner check removed)",
        "swapped role",
        (CATALOGUE + "::test_borrow__other_owners_position__reverts",),
    ),
    Mutant(
        "pool-borrow-round-floor",
        POOL,
        "new_norm: uint256 = _norm + (_amount * constants.WAD + _rate - 1) // _rate",
        "new_norm: uint256 = _norm + _amount * constants.WAD // _rate",
        "borrow rounds the normalised debt added down: a borrower may owe less than minted",
        "rounding direction",
        (LAWS_POOL + "::test_borrow__after_interest__debt_rises_by_at_least_what_was_minted",),
    ),
    Mutant(
        "pool-ltv-edge",
        POOL,
        "assert _debt * constants.BPS <= self._value(_coll, _price) * ltv,",
        "assert _debt * constants.BPS < self._value(_coll, _price) * ltv,",
        "a debt exactly at max LTV is refused",
        "flipped comparison",
        (LAWS_POOL + "::test_borrow__debt_exactly_at_max_ltv__is_accepted",),
    ),
    Mutant(
        "pool-repay-exact-debt",
        POOL,
        "if _amount >= debt:\n        return debt, 0",
        "if _amount > debt:\n        return debt, 0",
        "repaying exactly the debt takes the partial path",
        "flipped comparison",
        (LAWS_POOL + "::test_repay__exactly_the_debt__clears_it",),
    ),
    Mutant(
        "pool-repay-round-up",
        POOL,
        "removed: uint256 = _amount * constants.WAD // _rate",
        "removed: uint256 = (_amount * constants.WAD + _rate - 1) // _rate",
        "a partial repay clears more normalised debt than it pays for",
        "rounding direction",
        (LAWS_POOL + "::test_repay__partial_after_interest__lowers_debt_by_at_most_what_was_paid",),
    ),
    Mutant(
        "pool-close-no-write",
        POOL,
        "self._store(_id, owner, coll, norm, 0, 0, rate)",
        "pass",
        "close pays out without clearing the position",
        "dropped state write",
        (CATALOGUE + "::test_open__one_unit_of_collateral_without_debt__is_accepted",),
    ),
    Mutant(
        "pool-close-anyone",
        POOL,
        "owner: address = self._authorised_owner(_id)\n    coll: uint256 = 0\n",
        "owner: address = self._existing_owner(_id)\n    coll: uint256 = 0\n",
        "anyone may close any position and take its collateral",
        "swapped role",
        (CATALOGUE + "::test_close__other_owners_position__reverts",),
    ),
    Mutant(
        "pool-operator-only",
        POOL,
        "assert msg.sender == owner or self.operators[owner][msg.sender]",
        "assert self.operators[owner][msg.sender]",
        "the owner check is replaced by operator-only",
        "swapped role",
        (CATALOGUE + "::test_withdraw__more_than_collateral__reverts",),
    ),
    Mutant(
        "pool-owner-only",
        POOL,
        "assert msg.sender == owner or self.operators[owner][msg.sender]",
        "assert msg.sender == owner",
        "approved operators are refused",
        "swapped role",
        (
            CATALOGUE + "::test_borrow__revoked_operator__reverts",
            CATALOGUE + "::test_withdraw__reentry_through_collateral_hook__is_refused",
        ),
    ),
    Mutant(
        "pool-only-factory",
        POOL,
        'assert msg.sender == FACTORY, "pool: only factory"',
        "pass",
        "anyone may call the pool's governance functions",
        "removed assert",
        (LAWS_GOVERNANCE + "::test_pool_governance__called_by_anyone_but_the_factory__reverts",),
    ),
    Mutant(
        "pool-liquidate-at-health-one",
        POOL,
        "if value * _p.liquidation_threshold * constants.WAD // constants.BPS >= debt * constants.WAD:",
        "if value * _p.liquidation_threshold * constants.WAD // constants.BPS > debt * constants.WAD:",
        "a position at health exactly 1.0 is liquidated",
        "flipped comparison",
        (LAWS_POOL + "::test_liquidate__health_exactly_one__is_refused_everywhere",),
    ),
    Mutant(
        "pool-scan-at-health-one",
        POOL,
        "if self._value(packed >> 128, price) * threshold * constants.WAD // constants.BPS"
        " < self._debt(norm, rate) * constants.WAD:",
        "if self._value(packed >> 128, price) * threshold * constants.WAD // constants.BPS"
        " <= self._debt(norm, rate) * constants.WAD:",
        "positions_to_liquidate lists a position at health exactly 1.0",
        "flipped comparison",
        (LAWS_POOL + "::test_liquidate__health_exactly_one__is_refused_everywhere",),
    ),
    Mutant(
        "pool-batch-budget",
        POOL,
        "max_value(uint256), _max_repay - total_paid",
        "max_value(uint256), _max_repay",
        "liquidate_many checks each liquidation against the whole budget, not what is left",
        "arithmetic",
        (LAWS_POOL + "::test_liquidate_many__budget_for_one__burns_at_most_the_budget",),
    ),
    Mutant(
        "pool-bad-debt-not-recorded",
        POOL,
        "self.bad_debt += new_bad_debt",
        "pass",
        "a shortfall beyond the reserve is not recorded as bad debt",
        "dropped state write",
        (CATALOGUE + "::test_liquidate__deep_underwater__reserve_then_bad_debt_absorb_shortfall",),
    ),
    Mutant(
        "pool-accrue-reserve",
        POOL,
        "if interest > 0:\n            self._set_reserve((totals >> 128) + interest)",
        "if interest > 0:\n            pass",
        "accrued interest is not credited to the reserve",
        "dropped state write",
        (CATALOGUE + "::test_accrue__by_anyone__moves_fees_to_reserve_without_changing_debt",),
    ),
    Mutant(
        "pool-debt-round-down",
        POOL,
        "return (_norm * _rate + constants.WAD - 1) // constants.WAD",
        "return _norm * _rate // constants.WAD",
        "a position's debt rounds down: it owes less than its share",
        "rounding direction",
        (FUZZ,),
    ),
    Mutant(
        "pool-grow-cubic",
        POOL,
        "for i: uint256 in range(1, 65):",
        "for i: uint256 in range(1, 4):",
        "the stability fee's exp() stops after its cubic term (the review's finding 5)",
        "arithmetic",
        (
            REVIEW + "::test_r5_accrual__one_year_at_the_highest_fee__doubles",
            REVIEW + "::test_r5_accrual__once_after_five_years_or_monthly__same_rate",
        ),
    ),
    Mutant(
        "pool-total-collateral-unbounded",
        POOL,
        'assert total_coll * COLLATERAL_SCALE < MAX_NORMALISED_COLLATERAL, "pool: total collateral too large"',
        "pass",
        "the pool's total collateral may pass 2**128 and wrap in its packed word (finding 2)",
        "removed assert",
        (REVIEW + "::test_r2_total_collateral__would_pass_2_128__reverts_with_reason",),
    ),
    Mutant(
        "pool-deleverage-health-flip",
        POOL,
        'assert new_coll * norm >= coll * new_norm, "pool: health would fall"',
        'assert new_coll * norm <= coll * new_norm, "pool: health would fall"',
        "a deleverage is allowed only when it lowers collateral per debt (health)",
        "flipped comparison",
        (
            LAWS_POOL
            + "::test_deleverage__exactly_in_proportion__accepted_and_one_unit_more_refused",
        ),
    ),
    Mutant(
        "pool-deleverage-health-edge",
        POOL,
        'assert new_coll * norm >= coll * new_norm, "pool: health would fall"',
        'assert new_coll * norm > coll * new_norm, "pool: health would fall"',
        "a deleverage that keeps collateral per debt exactly is refused",
        "off-by-one bound",
        (LAWS_POOL + "::test_deleverage__half_the_debt_for_half_the_collateral__accepted",),
    ),
    Mutant(
        "pool-deleverage-no-health-check",
        POOL,
        'assert new_coll * norm >= coll * new_norm, "pool: health would fall"',
        "pass",
        "a deleverage may take any collateral for any repay (health may fall)",
        "removed assert",
        (
            LAWS_POOL
            + "::test_deleverage__exactly_in_proportion__accepted_and_one_unit_more_refused",
        ),
    ),
    Mutant(
        "pool-deleverage-anyone",
        POOL,
        "self._nonzero(_repay)\n    owner: address = self._authorised_owner(_id)",
        "self._nonzero(_repay)\n    owner: address = self._existing_owner(_id)",
        "anyone may deleverage any position and take its collateral against a repay",
        "swapped role",
        (LAWS_POOL + "::test_deleverage__stranger_or_keeper__refused",),
    ),
    Mutant(
        "pool-deleverage-burns-the-ask",
        POOL,
        "self._burn(paid)\n    if _collateral_out > 0:",
        "self._burn(_repay)\n    if _collateral_out > 0:",
        "a deleverage above the debt burns all that was asked, not the debt it repaid",
        "arithmetic",
        (LAWS_POOL + "::test_deleverage__more_than_the_debt__burns_exactly_the_debt",),
    ),
    Mutant(
        "pool-deleverage-no-accrue",
        POOL,
        "rate: uint256 = self._accrue()\n    coll: uint256 = 0\n    norm: uint256 = 0\n"
        "    coll, norm = self._position_with_debt(_id)\n    paid: uint256 = 0\n"
        "    new_norm: uint256 = 0\n    paid, new_norm = self._repaid(norm, _repay, rate)",
        "rate: uint256 = self._current_rate()\n    coll: uint256 = 0\n    norm: uint256 = 0\n"
        "    coll, norm = self._position_with_debt(_id)\n    paid: uint256 = 0\n"
        "    new_norm: uint256 = 0\n    paid, new_norm = self._repaid(norm, _repay, rate)",
        "a deleverage changes the total normalised debt without accruing first: the reserve "
        "loses the interest on the debt it removes",
        "dropped state write",
        (LAWS_POOL + "::test_deleverage__after_a_year__supply_and_reserve_still_match_the_debt",),
    ),
    Mutant(
        "pool-deleverage-unchecked-collateral",
        POOL,
        "new_coll: uint256 = self._less_collateral(coll, _collateral_out)",
        "new_coll: uint256 = coll - _collateral_out",
        "a deleverage of more collateral than the position holds reverts without a reason",
        "removed assert",
        (LAWS_POOL + "::test_deleverage__more_collateral_than_held__refused_with_reason",),
    ),
    # -------------------------------------------------------------- modules/risk.vy
    Mutant(
        "risk-max-ltv-equals-threshold",
        RISK,
        "assert _p.max_ltv < _p.liquidation_threshold,",
        "assert _p.max_ltv <= _p.liquidation_threshold,",
        "a max LTV may equal the liquidation threshold",
        "flipped comparison",
        (LAWS_GOVERNANCE + "::test_set_risk_params__max_ltv_equal_to_threshold__reverts",),
    ),
    Mutant(
        "risk-min-bonus",
        RISK,
        "assert _p.liquidation_bonus >= MIN_BONUS and",
        "assert _p.liquidation_bonus > MIN_BONUS and",
        "the smallest allowed bonus is refused",
        "off-by-one bound",
        (
            LAWS_GOVERNANCE
            + "::test_set_risk_params__smallest_allowed_bonus__is_accepted_and_read_back",
        ),
    ),
    Mutant(
        "risk-target-health-one",
        RISK,
        "assert _p.target_health > MIN_TARGET_HEALTH and",
        "assert _p.target_health >= MIN_TARGET_HEALTH and",
        "a liquidation target health of exactly 1.0 is accepted",
        "off-by-one bound",
        (LAWS_GOVERNANCE + "::test_set_risk_params__target_health_exactly_one__reverts",),
    ),
    Mutant(
        "risk-penalty-edge",
        RISK,
        "* _p.liquidation_threshold < constants.BPS * constants.WAD,",
        "* _p.liquidation_threshold <= constants.BPS * constants.WAD,",
        "a penalty that leaves health exactly unchanged by a liquidation is accepted",
        "off-by-one bound",
        (LAWS_GOVERNANCE + "::test_set_risk_params__penalty_leaving_health_unchanged__reverts",),
    ),
    Mutant(
        "risk-unpack-fee",
        RISK,
        "liquidation_fee=(_terms >> 208) & _MASK16,",
        "liquidation_fee=(_terms >> 224) & _MASK16,",
        "the liquidation fee is read from the bonus's bits",
        "arithmetic",
        (
            LAWS_GOVERNANCE
            + "::test_set_risk_params__smallest_allowed_bonus__is_accepted_and_read_back",
        ),
    ),
    Mutant(
        "risk-partial-paid-floor",
        RISK,
        "paid: uint256 = (repaid * fee_plus + constants.BPS - 1) // constants.BPS\n    out: uint256",
        "paid: uint256 = repaid * fee_plus // constants.BPS\n    out: uint256",
        "a partial liquidation's payment (debt plus fee) rounds down, against the pool",
        "rounding direction",
        (CATALOGUE + "::test_lens__previews_match_what_the_pool_does", FUZZ),
    ),
    Mutant(
        "risk-max-repay-remainder",
        RISK,
        "assert cap > 0 and _debt - cap >= _p.min_debt,",
        "assert cap > 0,",
        "a capped liquidation may leave dust debt",
        "removed assert",
        (LAWS_POOL + "::test_liquidate__capped_short_of_a_dust_remainder__never_leaves_dust",),
    ),
    Mutant(
        "risk-band-draws-reserve",
        RISK,
        "        paid: uint256 = (_debt * fee_plus + constants.BPS - 1) // constants.BPS\n"
        "        shortfall: uint256 = 0\n"
        "        if _value < paid:",
        "        paid: uint256 = (_value * constants.WAD // k * fee_plus + constants.BPS - 1)"
        " // constants.BPS\n"
        "        shortfall: uint256 = _debt - _value * constants.WAD // k\n"
        "        if False:",
        "the design before finding 1: a position worth less than K x debt is liquidated as if "
        "under water, and the reserve pays the keeper's bonus and tip even with equity left",
        "arithmetic",
        (
            REVIEW + "::test_r1_equity_band__liquidation__takes_nothing_from_the_reserve",
            REVIEW + "::test_r1_equity_band__self_liquidation__never_beats_close",
        ),
    ),
    Mutant(
        "risk-under-water-bonus",
        RISK,
        "            shortfall = _debt - _value * constants.BPS // fee_plus",
        "            paid = _value * constants.WAD // k * fee_plus // constants.BPS\n"
        "            shortfall = _debt - _value * constants.WAD // k",
        "under water the keeper pays less than the collateral's worth: the reserve funds its "
        "bonus, which an owner collects by liquidating himself (finding 1)",
        "arithmetic",
        (
            REVIEW + "::test_r1_under_water__self_liquidation__gains_nothing",
            REVIEW + "::test_r1_under_water__reserve__covers_only_what_the_collateral_cannot",
        ),
    ),
    Mutant(
        "risk-pack-paused-bit",
        RISK,
        "| paused << 232",
        "| paused << 231",
        "the pause flag is packed into the stability fee's top bit: a pause does not stop "
        "borrowing and raises the fee",
        "arithmetic",
        (CATALOGUE + "::test_borrow__paused_pool__reverts_while_withdraw_and_liquidate_work",),
    ),
    Mutant(
        "risk-unpack-ceiling-narrow",
        RISK,
        "debt_ceiling=(_limits >> 80) & _MASK112,",
        "debt_ceiling=(_limits >> 80) & _MASK80,",
        "the debt ceiling is read through the min debt's 80-bit mask: large ceilings wrap",
        "arithmetic",
        (LAWS_GOVERNANCE + "::test_set_risk_params__largest_of_every_field__read_back_exactly",),
    ),
    # ------------------------------------------------------- modules/oracle_guard.vy
    Mutant(
        "oracle-stale-edge",
        ORACLE,
        "if unsafe_sub(block.timestamp, updated_at) > (cfg >> 64) & _MASK32:",
        "if unsafe_sub(block.timestamp, updated_at) >= (cfg >> 64) & _MASK32:",
        "an answer exactly one heartbeat old is stale",
        "off-by-one bound",
        (
            LAWS_GOVERNANCE
            + "::test_price__exactly_one_heartbeat_old__is_valid_and_one_second_later_stale",
        ),
    ),
    Mutant(
        "oracle-jump-edge",
        ORACLE,
        "if moved * constants.BPS > anchor_price * allowed:",
        "if moved * constants.BPS >= anchor_price * allowed:",
        "a move of exactly the jump bound is refused",
        "off-by-one bound",
        (
            LAWS_GOVERNANCE
            + "::test_price__move_of_exactly_the_jump_bound__is_valid_and_beyond_it_refused",
        ),
    ),
    Mutant(
        "oracle-anchor-not-refreshed",
        ORACLE,
        "self._heartbeat():\n        self._anchor = price << 64 | block.timestamp",
        "self._heartbeat():\n        pass",
        "a state change does not move the anchor to the price it used",
        "dropped state write",
        (
            LAWS_GOVERNANCE
            + "::test_price__jump_bound__is_measured_from_the_last_price_a_state_change_used",
        ),
    ),
    Mutant(
        "oracle-zero-price-check",
        ORACLE,
        "if price > MAX_PRICE or price == 0:",
        "if price > MAX_PRICE:",
        "the normalised price is not checked against zero",
        "removed assert",
        (),
        equivalent="raw > 0 (answer > 0 checked above) and 10 ** (18 - decimals) >= 1, "
        "so the product is never 0",
    ),
    Mutant(
        "oracle-heartbeat-min",
        ORACLE,
        "assert _heartbeat >= MIN_HEARTBEAT and",
        "assert _heartbeat > MIN_HEARTBEAT and",
        "the shortest allowed heartbeat is refused",
        "off-by-one bound",
        (LAWS_GOVERNANCE + "::test_set_oracle_params__shortest_allowed_heartbeat__is_accepted",),
    ),
    # ------------------------------------------------------------------ PoolFactory
    Mutant(
        "factory-create-anyone",
        FACTORY,
        "ownable._check_owner()\n    assert _collateral != empty(address)",
        "assert _collateral != empty(address)",
        "anyone may create a pool (and a minter of bhUSD)",
        "swapped role",
        (LAWS_GOVERNANCE + "::test_factory_governance__called_by_a_stranger__reverts",),
    ),
    Mutant(
        "factory-governance-anyone",
        FACTORY,
        'ownable._check_owner()\n    assert self.is_pool[_pool], "factory: unknown pool"',
        'assert self.is_pool[_pool], "factory: unknown pool"',
        "anyone may change a pool's parameters, pause it or reset its anchor",
        "swapped role",
        (LAWS_GOVERNANCE + "::test_factory_governance__called_by_a_stranger__reverts",),
    ),
    Mutant(
        "factory-no-netting",
        FACTORY,
        "netted: uint256 = min(reserve, staticcall pool.bad_debt())",
        "netted: uint256 = 0",
        "a sweep sends the reserve to the vault without first cancelling the pool's bad debt",
        "arithmetic",
        (REGRESSIONS,),
    ),
    Mutant(
        "factory-cover-cooldown-edge",
        FACTORY,
        "block.timestamp >= last + COVER_COOLDOWN",
        "block.timestamp > last + COVER_COOLDOWN",
        "a cover exactly one cooldown after the last is refused",
        "off-by-one bound",
        (CATALOGUE + "::test_cover_bad_debt__cap_cooldown_and_roles__bound_what_governance_takes",),
    ),
    Mutant(
        "factory-reserve-target-min",
        FACTORY,
        "assert _target >= MIN_RESERVE_TARGET and",
        "assert _target > MIN_RESERVE_TARGET and",
        "the smallest allowed reserve target is refused",
        "off-by-one bound",
        (LAWS_GOVERNANCE + "::test_set_reserve_target__smallest_allowed__is_accepted",),
    ),
    Mutant(
        "factory-vault-once",
        FACTORY,
        'assert self.vault == empty(address), "factory: vault already set"',
        "pass",
        "governance may replace the savings vault",
        "removed assert",
        (LAWS_GOVERNANCE + "::test_set_vault__second_time__reverts",),
    ),
    # --------------------------------------------------------------------- PoolLens
    Mutant(
        "lens-deleverage-aim-fixed",
        LENS,
        "    if health >= aim:\n        aim = target - (target - health) // 2\n",
        "",
        "the deleverage preview always aims 0.005 under the target, even when health is "
        "already closer (finding 3: it returned nothing for a due, executable protection)",
        "removed assert",
        (
            REVIEW
            + "::test_r3_preview_auto_deleverage__target_within_0_005_of_trigger__finds_the_amount",
        ),
    ),
    Mutant(
        "lens-preview-at-health-one",
        LENS,
        "assert value * p.liquidation_threshold * constants.WAD // constants.BPS < debt * constants.WAD,",
        "assert value * p.liquidation_threshold * constants.WAD // constants.BPS <= debt * constants.WAD,",
        "preview_liquidate previews a liquidation at health exactly 1.0",
        "flipped comparison",
        (LAWS_POOL + "::test_liquidate__health_exactly_one__is_refused_everywhere",),
    ),
    Mutant(
        "lens-page-limit",
        LENS,
        '    assert _limit <= constants.MAX_PAGE, "lens: limit above 1000"\n',
        "",
        "positions accepts a page above 1,000 ids and reverts without a reason",
        "removed assert",
        (LAWS_GOVERNANCE + "::test_lens_positions__page_above_1000__reverts",),
    ),
    # ----------------------------------------------------------- PositionAutomation
    Mutant(
        "automation-boost-before-trigger",
        AUTOMATION,
        'assert before > rule.trigger_health, "automation: boost not due"',
        'assert before >= rule.trigger_health, "automation: boost not due"',
        "a boost is carried out at the trigger, before it is due",
        "flipped comparison",
        (LAWS_AUTOMATION + "::test_boost__health_exactly_at_trigger__is_not_due",),
    ),
    Mutant(
        "automation-top-up-before-trigger",
        AUTOMATION,
        'assert before < rule.trigger_health, "automation: top-up not due"',
        'assert before <= rule.trigger_health, "automation: top-up not due"',
        "a top-up is carried out at the trigger, before it is due",
        "flipped comparison",
        (LAWS_AUTOMATION + "::test_top_up__health_exactly_at_trigger__is_not_due",),
    ),
    Mutant(
        "automation-due-at-trigger",
        AUTOMATION,
        "if b.trigger_health > 0 and h > b.trigger_health:",
        "if b.trigger_health > 0 and h >= b.trigger_health:",
        "due() lists a boost at its trigger, before it is due",
        "flipped comparison",
        (LAWS_AUTOMATION + "::test_boost__health_exactly_at_trigger__is_not_due",),
    ),
    Mutant(
        "automation-top-up-allowance",
        AUTOMATION,
        'assert _amount <= rule.allowance, "automation: above allowance"',
        "pass",
        "a top-up may move more of the owner's collateral than the allowance",
        "removed assert",
        (LAWS_AUTOMATION + "::test_top_up__owner_wallet__is_touched_only_within_the_allowance",),
    ),
    Mutant(
        "automation-allowance-not-spent",
        AUTOMATION,
        "self.top_up_rule[_pool][_id].allowance = rule.allowance - _amount",
        "pass",
        "a top-up does not spend the allowance",
        "dropped state write",
        (LAWS_AUTOMATION + "::test_top_up__owner_wallet__is_touched_only_within_the_allowance",),
    ),
    Mutant(
        "automation-not-owner",
        AUTOMATION,
        'assert self._owner(_pool, _id) == msg.sender, "automation: not owner"',
        "pass",
        "anyone may set a rule on someone else's position",
        "swapped role",
        (LAWS_AUTOMATION + "::test_set_rules__on_someone_elses_position__revert",),
    ),
    Mutant(
        "automation-unknown-pool",
        AUTOMATION,
        'assert staticcall FACTORY.is_pool(_pool), "automation: unknown pool"',
        "pass",
        "rules may name a contract that is not one of the factory's pools",
        "removed assert",
        (LAWS_AUTOMATION + "::test_set_rules__on_a_contract_that_is_not_a_pool__revert",),
    ),
    Mutant(
        "automation-boost-round-down",
        AUTOMATION,
        "coll_in: uint256 = (_borrow * (constants.BPS - fee) // constants.BPS * constants.WAD"
        " + den - 1) // den",
        "coll_in: uint256 = _borrow * (constants.BPS - fee) // constants.BPS * constants.WAD"
        " // den",
        "a boost's collateral in rounds down: the keeper supplies less than the fee allows",
        "rounding direction",
        (LAWS_AUTOMATION + "::test_boost__keeper_supplies_at_least_the_borrow_less_the_fee",),
    ),
    Mutant(
        "automation-boost-below-target",
        AUTOMATION,
        "assert after >= rule.target_health and after <= rule.target_health + constants.RULE_TOLERANCE",
        "assert after <= rule.target_health + constants.RULE_TOLERANCE",
        "a boost may take health below the owner's target",
        "removed assert",
        (LAWS_AUTOMATION + "::test_boost__past_the_target__reverts",),
    ),
    Mutant(
        "automation-amount-unbounded",
        AUTOMATION,
        '    assert _borrow <= constants.MAX_DEBT_CEILING, "automation: amount too large"\n',
        "",
        "a huge boost overflows without a reason instead of the bound's",
        "removed assert",
        (REVIEW + "::test_overflow__boost_or_top_up_with_a_huge_amount__reverts_with_reason",),
    ),
    Mutant(
        "automation-fee-uncapped",
        AUTOMATION,
        "return min(_rule_fee, (staticcall _pool.risk_params()).liquidation_bonus)",
        "return _rule_fee",
        "a rule pays its own fee, no longer capped by the pool's current bonus",
        "removed assert",
        (
            LAWS_AUTOMATION
            + "::test_auto_deleverage__bonus_lowered_after_the_rule__keeper_gets_at_most_the_new_bonus",
            REVIEW
            + "::test_fee_cap_boost__bonus_lowered_after_the_rule__keeper_paid_at_most_the_bonus",
            REVIEW
            + "::test_fee_cap_top_up__bonus_lowered_after_the_rule__keeper_paid_at_most_the_bonus",
        ),
    ),
    Mutant(
        "automation-contradiction-edge",
        AUTOMATION,
        "assert _boost_trigger > _target and _boost_target >= _trigger,",
        "assert _boost_trigger >= _target and _boost_target >= _trigger,",
        "a boost may start exactly where a top-up or deleverage stops (keepers loop it)",
        "flipped comparison",
        (REVIEW + "::test_contradiction__boost_trigger_at_a_top_up_target__reverts",),
    ),
    Mutant(
        "automation-protection-trigger-one",
        AUTOMATION,
        'assert _trigger > constants.WAD, "automation: trigger not above 1.0"',
        'assert _trigger >= constants.WAD, "automation: trigger not above 1.0"',
        "a protection may trigger at health 1.0, where liquidation already starts",
        "off-by-one bound",
        (LAWS_AUTOMATION + "::test_set_protection__trigger_exactly_one__reverts",),
    ),
    Mutant(
        "automation-protection-anyone",
        AUTOMATION,
        'operators(owner, msg.sender), "automation: not owner or operator"\n'
        "    if _trigger_health > 0:",
        'operators(owner, msg.sender) or True, "automation: not owner or operator"\n'
        "    if _trigger_health > 0:",
        "anyone may set or clear a protection on someone else's position",
        "swapped role",
        (LAWS_AUTOMATION + "::test_set_protection__stranger__reverts",),
    ),
    Mutant(
        "automation-protection-ignores-boost",
        AUTOMATION,
        "self._consistent(b.trigger_health, b.target_health, _trigger_health, _target_health)\n"
        "    self.protection_rule",
        "pass\n    self.protection_rule",
        "a protection may undo the position's boost rule (keepers loop it for fees)",
        "removed assert",
        (REVIEW + "::test_contradiction__protection_after_a_boost__reverts",),
    ),
    Mutant(
        "automation-deleverage-before-trigger",
        AUTOMATION,
        'assert before < rule.trigger_health, "automation: protection not due"',
        'assert before <= rule.trigger_health, "automation: protection not due"',
        "a deleverage is carried out at the trigger, before it is due",
        "flipped comparison",
        (LAWS_AUTOMATION + "::test_auto_deleverage__health_exactly_at_trigger__is_not_due",),
    ),
    Mutant(
        "automation-deleverage-whole-debt",
        AUTOMATION,
        'assert _repay < staticcall pool.debt_of(_id), "automation: repay above debt"',
        'assert _repay <= staticcall pool.debt_of(_id), "automation: repay above debt"',
        "a keeper may offer to repay exactly the whole debt (and take the collateral for it)",
        "off-by-one bound",
        (LAWS_AUTOMATION + "::test_auto_deleverage__repay_of_exactly_the_debt__reverts",),
    ),
    Mutant(
        "automation-deleverage-overshoot",
        AUTOMATION,
        "assert after <= rule.target_health and after + constants.RULE_TOLERANCE >= "
        "rule.target_health and after > before",
        "assert after + constants.RULE_TOLERANCE >= rule.target_health and after > before",
        "a deleverage may overshoot the owner's target",
        "removed assert",
        (LAWS_AUTOMATION + "::test_auto_deleverage__past_the_target__reverts",),
    ),
    Mutant(
        "automation-deleverage-keeps-collateral",
        AUTOMATION,
        "    extcall pool.deleverage(_id, _repay, out)\n    if out > 0:",
        "    extcall pool.deleverage(_id, _repay, out)\n    if False:",
        "the automation keeps the deleverage's collateral instead of paying the keeper",
        "dropped state write",
        (
            LAWS_AUTOMATION
            + "::test_auto_deleverage__keeper_pays_the_repay_and_gets_repay_plus_fee",
        ),
    ),
    Mutant(
        "automation-due-protection-at-trigger",
        AUTOMATION,
        "if d.trigger_health > 0 and h < d.trigger_health:",
        "if d.trigger_health > 0 and h <= d.trigger_health:",
        "due() lists a protection at its trigger, before it is due",
        "flipped comparison",
        (LAWS_AUTOMATION + "::test_auto_deleverage__health_exactly_at_trigger__is_not_due",),
    ),
    Mutant(
        "automation-due-ignores-operator",
        AUTOMATION,
        "            rules &= DUE_TOP_UP\n",
        "            pass\n",
        "due() lists protections and boosts the pool would refuse (the automation is not "
        "the owner's operator): keepers waste gas on them",
        "removed assert",
        (LAWS_AUTOMATION + "::test_due__operator_revoked__protection_not_listed",),
    ),
    Mutant(
        "automation-due-unfunded-top-up",
        AUTOMATION,
        "            rules &= ~DUE_TOP_UP\n",
        "            pass\n",
        "due() lists top-ups the owner's wallet cannot fund",
        "removed assert",
        (LAWS_AUTOMATION + "::test_due__top_up_owner_wallet_empty__not_listed",),
    ),
    Mutant(
        "automation-due-spent-allowance",
        AUTOMATION,
        "if t.trigger_health > 0 and h < t.trigger_health and t.allowance > 0:",
        "if t.trigger_health > 0 and h < t.trigger_health:",
        "due() lists a top-up whose allowance is spent",
        "removed assert",
        (LAWS_AUTOMATION + "::test_due__top_up_allowance_spent__not_listed",),
    ),
    Mutant(
        "automation-due-wrong-bit",
        AUTOMATION,
        "            rules |= DUE_BOOST\n",
        "            rules |= DUE_PROTECTION\n",
        "due() reports a due boost as a protection",
        "arithmetic",
        (LAWS_AUTOMATION + "::test_due__boost_above_trigger__listed_with_its_bit",),
    ),
    Mutant(
        "automation-due-page-limit",
        AUTOMATION,
        '    assert _limit <= constants.MAX_PAGE, "automation: limit above 1000"\n',
        "",
        "due() accepts a page above 1,000 ids",
        "removed assert",
        (LAWS_AUTOMATION + "::test_due__page_above_1000__reverts",),
    ),
    # ------------------------------------------------------------------ SavingsVault
    Mutant(
        "vault-preview-mint-floor",
        VAULT,
        "return self._to_assets(_shares, self._total_assets(), True)",
        "return self._to_assets(_shares, self._total_assets(), False)",
        "previewMint rounds down: it promises fewer assets than mint pulls",
        "rounding direction",
        (LAWS_VAULT + "::test_previews__never_promise_more_than_the_action_gives",),
    ),
    Mutant(
        "vault-preview-withdraw-floor",
        VAULT,
        "return self._to_shares(_assets, self._total_assets(), True)",
        "return self._to_shares(_assets, self._total_assets(), False)",
        "previewWithdraw rounds down: it promises to burn fewer shares than withdraw does",
        "rounding direction",
        (LAWS_VAULT + "::test_previews__never_promise_more_than_the_action_gives",),
    ),
    Mutant(
        "vault-preview-deposit-ceil",
        VAULT,
        '@param _assets bhUSD [wad].\n    @return Shares [wad].\n    """\n'
        "    return self._to_shares(_assets, self._total_assets(), False)",
        '@param _assets bhUSD [wad].\n    @return Shares [wad].\n    """\n'
        "    return self._to_shares(_assets, self._total_assets(), True)",
        "previewDeposit rounds up: it promises more shares than deposit mints",
        "rounding direction",
        (LAWS_VAULT + "::test_previews__never_promise_more_than_the_action_gives",),
    ),
    Mutant(
        "vault-deposit-ceil",
        VAULT,
        "shares: uint256 = self._to_shares(_assets, self._total_assets(), False)",
        "shares: uint256 = self._to_shares(_assets, self._total_assets(), True)",
        "deposit rounds the shares minted up, in the depositor's favour",
        "rounding direction",
        (LAWS_VAULT + "::test_holder_actions__never_lower_the_share_price_or_overdraw_the_vault",),
    ),
    Mutant(
        "vault-withdraw-floor",
        VAULT,
        "shares: uint256 = self._to_shares(_assets, total, True)",
        "shares: uint256 = self._to_shares(_assets, total, False)",
        "withdraw rounds the shares burned down, in the withdrawer's favour",
        "rounding direction",
        (LAWS_VAULT + "::test_holder_actions__never_lower_the_share_price_or_overdraw_the_vault",),
    ),
    Mutant(
        "vault-stream-release-up",
        VAULT,
        "released: uint256 = locked * unsafe_sub(block.timestamp, start) // unsafe_sub(end, start)",
        "released: uint256 = (locked * unsafe_sub(block.timestamp, start) + unsafe_sub(end, start) - 1)"
        " // unsafe_sub(end, start)",
        "the stream releases ahead of its linear schedule (rounded up)",
        "rounding direction",
        (LAWS_VAULT + "::test_stream__one_arrival__is_released_linearly_never_ahead",),
    ),
    Mutant(
        "vault-stream-pace",
        VAULT,
        "duration: uint256 = period\n",
        "duration: uint256 = period // 2\n",
        "a new arrival streams at twice the pace of the stream period",
        "arithmetic",
        (LAWS_VAULT + "::test_stream__one_arrival__is_released_linearly_never_ahead",),
    ),
    Mutant(
        "vault-skim-end-round-up",
        VAULT,
        "duration = locked * remaining * period // (still * period + added * remaining)",
        "duration = math._ceil_div(locked * remaining * period, still * period + added * remaining)",
        "a skim rounds the merged stream's end up: dust skims delay what is streaming",
        "rounding direction",
        (REVIEW + "::test_r4_skim__dust_donations__do_not_delay_the_stream",),
    ),
    Mutant(
        "vault-stream-end-edge",
        VAULT,
        "if locked == 0 or block.timestamp >= end:",
        "if locked == 0 or block.timestamp > end:",
        "at the stream's end the locked amount is computed instead of taken as 0",
        "off-by-one bound",
        (),
        equivalent="at block.timestamp == end the formula releases locked x (end - start) / "
        "(end - start) = locked exactly, so the locked part is 0 either way",
    ),
    Mutant(
        "vault-payout-cap",
        VAULT,
        "return min(self._to_assets(_shares, _total, False), _total)",
        "return self._to_assets(_shares, _total, False)",
        "a redemption may pay more than the vault's total assets",
        "removed assert",
        (
            LAWS_VAULT
            + "::test_redeem__share_price_below_one__last_holder_exits_with_at_most_the_total",
        ),
    ),
    Mutant(
        "vault-exit-untracked",
        VAULT,
        "self._tracked -= _assets\n    erc4626._withdraw",
        "erc4626._withdraw",
        "a withdrawal does not lower the tracked assets",
        "dropped state write",
        (LAWS_VAULT + "::test_holder_actions__never_lower_the_share_price_or_overdraw_the_vault",),
    ),
    Mutant(
        "vault-cover-anyone",
        VAULT,
        'assert msg.sender == FACTORY, "vault: only factory"',
        "pass",
        "anyone may take the vault's assets through cover",
        "swapped role",
        (CATALOGUE + "::test_vault__cover_by_anyone_but_the_factory__reverts",),
    ),
    # -------------------------------------------------------------------- Stablecoin
    Mutant(
        "coin-burn-anyone",
        COIN,
        'assert erc20.is_minter[msg.sender], "bhusd: caller is not a minter"',
        "pass",
        "anyone may burn anyone's bhUSD",
        "swapped role",
        (CATALOGUE + "::test_stablecoin__mint_and_pool_burn_by_non_minter__revert",),
    ),
    Mutant(
        "coin-one-step-transfer",
        COIN,
        "    ownable_2step.transfer_ownership,\n",
        "    ownable.transfer_ownership,\n",
        "bhUSD's ownership moves in one step, to any address, without the new owner accepting",
        "swapped role",
        (LAWS_GOVERNANCE + "::test_stablecoin_transfer_ownership__only_proposes",),
    ),
    Mutant(
        "coin-renounce-exported",
        COIN,
        "    ownable_2step.accept_ownership,\n",
        "    ownable_2step.accept_ownership,\n    ownable_2step.renounce_ownership,\n",
        "bhUSD's owner may renounce ownership: no one could add or remove a minter again",
        "swapped role",
        (LAWS_GOVERNANCE + "::test_stablecoin__renounce_ownership__is_not_exported",),
    ),
    Mutant(
        "coin-deployer-minter",
        COIN,
        "erc20.is_minter[msg.sender] = False\n",
        "pass\n",
        "the deployer keeps the minter role",
        "dropped state write",
        (LAWS_GOVERNANCE + "::test_stablecoin__deployer__is_not_a_minter",),
    ),
)
