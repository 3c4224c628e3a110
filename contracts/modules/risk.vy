# pragma version 0.4.3
"""
@title Risk parameters: the struct, its bounds, and its packed storage form
@license MIT
@notice Stateless. `PoolFactory` validates with it before it creates a pool and before
        every change; a pool takes parameters from its factory alone (`initialize`,
        `set_risk_params`), so no path skips a bound, and the pool's code stays within
        its size budget.
@dev Packed layout of the two parameter words a pool keeps; this module alone knows it
     (`_pack_*`, `_unpack` and the one-field readers below):
     limit word:  max LTV [bps] (bits 240..255) | paused flag (232..239) |
                  stability fee [wad per second] (192..231) | debt ceiling [wad] (80..191) |
                  min debt [wad] (0..79)
                  (everything borrow, withdraw and repay need, read in one word)
     terms word:  liquidation threshold [bps] (240..255) | liquidation bonus [bps] (224..239) |
                  liquidation fee [bps] (208..223) | liquidation tip [wad] (112..207) |
                  target health [wad] (0..111)
     controls word: grace end [seconds, a timestamp] (160..223) |
                  grace period [seconds] (128..159) | haircut [bps] (112..127) |
                  position debt cap [wad] (0..111)
                  (the pool-level risk controls: `Controls`, below)
     Each field is wider than its bound below, so no valid parameter can spill into another.
"""

# -------------------------------------------------------------- constants

from modules import constants

MIN_THRESHOLD: constant(uint256) = 1_000  # [bps]
MAX_THRESHOLD: constant(uint256) = 9_500  # [bps]
MIN_LTV: constant(uint256) = 500  # [bps]
MIN_BONUS: constant(uint256) = 50  # [bps] there is always a bounty
MAX_BONUS: constant(uint256) = 2_500  # [bps]
MAX_LIQUIDATION_FEE: constant(uint256) = 1_000  # [bps]
MAX_TIP: constant(uint256) = 1_000 * 10**18  # [wad] < 2**96
MIN_TARGET_HEALTH: constant(uint256) = 10**18  # [wad] exclusive
MAX_TARGET_HEALTH: constant(uint256) = 3 * 10**18  # [wad]
MIN_MIN_DEBT: constant(uint256) = 10**18  # [wad]
MAX_MIN_DEBT: constant(uint256) = 10**24  # [wad] < 2**80
# ln(2) per year: a 100 % yearly fee when compounded continuously
MAX_STABILITY_FEE: constant(uint256) = 21_979_553_151  # [wad per second] < 2**40

# the pool-level risk controls (`Controls`)
MAX_HAIRCUT: constant(uint256) = 5_000  # [bps] the borrow limit never falls below half max LTV
MAX_GRACE_PERIOD: constant(uint256) = 4 * 3_600  # [seconds] as Aave v3.1's grace period

_MASK16: constant(uint256) = 2**16 - 1
_MASK32: constant(uint256) = 2**32 - 1
_MASK64: constant(uint256) = 2**64 - 1
_MASK40: constant(uint256) = 2**40 - 1
_MASK80: constant(uint256) = 2**80 - 1
_MASK96: constant(uint256) = 2**96 - 1
_MASK112: constant(uint256) = 2**112 - 1

# ---------------------------------------------------------------- structs


struct RiskParams:
    max_ltv: uint256  # [bps] borrow limit, strictly below the threshold
    liquidation_threshold: uint256  # [bps] health is 1.0 at this loan-to-value
    liquidation_bonus: uint256  # [bps] keeper's bonus on the debt it repays
    liquidation_fee: uint256  # [bps] paid by the keeper on top of the repay, to the reserve
    liquidation_tip: uint256  # [wad] gas compensation for a whole position, pro rata
    target_health: uint256  # [wad] a partial liquidation restores this health
    min_debt: uint256  # [wad] a debt is 0 or at least this
    debt_ceiling: uint256  # [wad] cap on the pool's total debt
    stability_fee: uint256  # [wad per second] continuous fee rate


struct Controls:
    position_debt_cap: uint256  # [wad] most debt one position may borrow up to
    haircut: uint256  # [bps] taken off max LTV for borrowing and withdrawing, never for liquidation
    grace_period: uint256  # [seconds] liquidations wait this long after an unpause
    grace_end: uint256  # [seconds] timestamp before which liquidations wait (0: none yet)


@internal
@pure
def _penalty_factor(_p: RiskParams, _debt: uint256) -> uint256:
    """
    @dev Collateral value a liquidation takes per unit of debt it removes [wad]:
         (1 + fee) x (1 + bonus) + tip / debt.
    """
    return (constants.BPS + _p.liquidation_fee) * (constants.BPS + _p.liquidation_bonus) * 10**10 + _p.liquidation_tip * constants.WAD // _debt


@internal
@pure
def _validate(_p: RiskParams):
    assert _p.liquidation_threshold >= MIN_THRESHOLD and _p.liquidation_threshold <= MAX_THRESHOLD, "risk: threshold out of bounds"
    assert _p.max_ltv >= MIN_LTV, "risk: max ltv out of bounds"
    assert _p.max_ltv < _p.liquidation_threshold, "risk: max ltv not below threshold"
    assert _p.liquidation_bonus >= MIN_BONUS and _p.liquidation_bonus <= MAX_BONUS, "risk: bonus out of bounds"
    assert _p.liquidation_fee <= MAX_LIQUIDATION_FEE, "risk: liquidation fee out of bounds"
    assert _p.liquidation_tip <= MAX_TIP, "risk: tip out of bounds"
    assert _p.target_health > MIN_TARGET_HEALTH and _p.target_health <= MAX_TARGET_HEALTH, "risk: target health out of bounds"
    assert _p.min_debt >= MIN_MIN_DEBT and _p.min_debt <= MAX_MIN_DEBT, "risk: min debt out of bounds"
    assert _p.debt_ceiling <= constants.MAX_DEBT_CEILING, "risk: debt ceiling out of bounds"
    assert _p.stability_fee <= MAX_STABILITY_FEE, "risk: stability fee out of bounds"
    # the worst case is a position at the minimum debt, where the tip weighs most:
    # (1 + fee) x (1 + bonus) + tip / min debt, times the threshold, stays below 1, so
    # every liquidation of a position that still has equity raises its health
    assert self._penalty_factor(_p, _p.min_debt) * _p.liquidation_threshold < constants.BPS * constants.WAD, "risk: penalty too high for threshold"


@internal
@pure
def _validate_controls(_c: Controls):
    # dev: the position cap is checked against the debt ceiling where it is set
    # (`PoolFactory.set_position_debt_cap`), so that lowering the ceiling later never
    # blocks a change of another control
    assert _c.haircut <= MAX_HAIRCUT, "risk: haircut out of bounds"
    assert _c.grace_period <= MAX_GRACE_PERIOD, "risk: grace period out of bounds"


@internal
@pure
def _pack_controls(_c: Controls) -> uint256:
    # dev: the grace end is a timestamp (< 2**64 for billions of years); the other fields
    # are bounded by `_validate_controls` (the cap by the debt ceiling, <= 1e33 < 2**112)
    return _c.grace_end << 160 | _c.grace_period << 128 | _c.haircut << 112 | _c.position_debt_cap


@internal
@pure
def _unpack_controls(_controls: uint256) -> Controls:
    return Controls(
        position_debt_cap=_controls & _MASK112,
        haircut=(_controls >> 112) & _MASK16,
        grace_period=(_controls >> 128) & _MASK32,
        grace_end=(_controls >> 160) & _MASK64,
    )


@internal
@pure
def _pack_limits(_p: RiskParams, _paused: bool) -> uint256:
    paused: uint256 = 0
    if _paused:
        paused = 1
    return (
        _p.max_ltv << 240
        | paused << 232
        | _p.stability_fee << 192
        | _p.debt_ceiling << 80
        | _p.min_debt
    )


@internal
@pure
def _pack_terms(_p: RiskParams) -> uint256:
    return (
        _p.liquidation_threshold << 240
        | _p.liquidation_bonus << 224
        | _p.liquidation_fee << 208
        | _p.liquidation_tip << 112
        | _p.target_health
    )


@internal
@pure
def _unpack(_limits: uint256, _terms: uint256) -> RiskParams:
    return RiskParams(
        max_ltv=_limits >> 240,
        liquidation_threshold=_terms >> 240,
        liquidation_bonus=(_terms >> 224) & _MASK16,
        liquidation_fee=(_terms >> 208) & _MASK16,
        liquidation_tip=(_terms >> 112) & _MASK96,
        target_health=_terms & _MASK112,
        min_debt=_limits & _MASK80,
        debt_ceiling=(_limits >> 80) & _MASK112,
        stability_fee=(_limits >> 192) & _MASK40,
    )


# one field of a packed word, for the paths that need just that field


@internal
@pure
def _max_ltv(_limits: uint256) -> uint256:
    return _limits >> 240


@internal
@pure
def _paused(_limits: uint256) -> bool:
    return (_limits >> 232) & 255 != 0


@internal
@pure
def _stability_fee(_limits: uint256) -> uint256:
    return (_limits >> 192) & _MASK40


@internal
@pure
def _debt_ceiling(_limits: uint256) -> uint256:
    return (_limits >> 80) & _MASK112


@internal
@pure
def _min_debt(_limits: uint256) -> uint256:
    return _limits & _MASK80


@internal
@pure
def _position_debt_cap(_controls: uint256) -> uint256:
    return _controls & _MASK112


@internal
@pure
def _haircut(_controls: uint256) -> uint256:
    return (_controls >> 112) & _MASK16


@internal
@pure
def _grace_end(_controls: uint256) -> uint256:
    return (_controls >> 160) & _MASK64


@internal
@pure
def _threshold(_terms: uint256) -> uint256:
    return _terms >> 240


@internal
@pure
def _bonus(_terms: uint256) -> uint256:
    return (_terms >> 224) & _MASK16


@internal
@pure
def _liquidation_amounts(
    _coll: uint256,
    _debt: uint256,
    _value: uint256,
    _price: uint256,
    _p: RiskParams,
    _max_repay: uint256,
    _scale: uint256,
) -> (uint256, uint256, uint256, uint256):
    """
    @dev (debt repaid, bhUSD paid, collateral out, shortfall). Mirrored in bulkhead/risk.py.
         `_scale` is 10 ** (18 - collateral decimals).
    """
    k: uint256 = self._penalty_factor(_p, _debt)  # [wad] collateral value out per debt repaid
    fee_plus: uint256 = constants.BPS + _p.liquidation_fee
    if _value * constants.WAD <= k * _debt:
        # the collateral cannot fund a partial liquidation with the full bonus: all of it
        # goes for the whole debt, and the keeper pays the debt plus the fee (rounded up),
        # so its bonus and tip shrink to what the equity funds and the reserve only gains
        paid: uint256 = (_debt * fee_plus + constants.BPS - 1) // constants.BPS
        shortfall: uint256 = 0
        if _value < paid:
            # under water after the fee: the keeper pays what the collateral is worth and no
            # more; the reserve takes only the debt the collateral cannot cover (net of the
            # fee it keeps, value - debt): nothing of it pays a bonus
            paid = _value
            shortfall = _debt - _value * constants.BPS // fee_plus
        assert paid <= _max_repay, "pool: max repay too low"
        return _debt, paid, _coll, shortfall

    repaid: uint256 = _debt
    k_threshold: uint256 = k * _p.liquidation_threshold // constants.BPS  # [wad]
    if _p.target_health > k_threshold:
        # (target x debt - value x threshold) / (target - k x threshold), rounded up
        num: uint256 = _p.target_health * _debt - _value * _p.liquidation_threshold * constants.WAD // constants.BPS
        den: uint256 = _p.target_health - k_threshold
        repaid = min((num + den - 1) // den, _debt)
        if _debt - repaid < _p.min_debt:
            repaid = _debt
    # a keeper may pass max_value(uint256) for "no limit"; clamped so the product fits
    cap: uint256 = min(_max_repay, max_value(uint256) // constants.BPS) * constants.BPS // fee_plus
    if cap < repaid:
        assert cap > 0 and _debt - cap >= _p.min_debt, "pool: max repay too low"
        repaid = cap
    paid: uint256 = (repaid * fee_plus + constants.BPS - 1) // constants.BPS
    out: uint256 = repaid * k // constants.WAD * constants.WAD // (_price * _scale)
    return repaid, paid, out, 0
