# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Bulkhead position automation: every owner rule in one place
@license MIT
@notice Owner-chosen rules that any keeper may carry out, for a fee the owner caps and
        never above the pool's liquidation bonus:
        - protection (deleverage): when health falls below a trigger, the keeper repays
          debt with its own bhUSD and receives collateral worth the repay plus the fee,
          bringing health up to the target (never above it);
        - boost: when health rises above a trigger, the keeper supplies collateral at the
          oracle price minus the fee and receives newly minted bhUSD, bringing health
          down to the target (never below it, always within max LTV and the debt ceiling);
        - top-up: when health falls below a trigger, the keeper moves collateral from the
          owner's wallet into the position, within an allowance the owner set here, and
          keeps the fee out of it; health rises to the target (never above it);
        - stop-loss: when the oracle price is at or below the owner's price, the keeper
          repays the whole debt and closes the position: it receives collateral worth the
          debt x (1 + fee) at the oracle price, and the rest goes back to the owner.
        Keepers find every due rule through one view, `due(pool, start, limit)`.
@dev The contract acts through the pool's public functions as the owner's operator: it
     needs `pool.set_operator(this, True)` for protections, boosts and stop-losses
     (`deleverage`, `deposit`, `borrow` and `close`) and an ERC-20 allowance on the
     collateral for top-ups.
     Positions cannot change owner, so a rule stays with the owner who set it. The
     contract checks the result on chain, not the keeper, and holds no funds between
     calls. No two rules of one position may undo each other (a boost must not start
     where a protection or a top-up stops), so keepers cannot loop a position for fees.
@custom:kill Owners revoke the operator approval or the token allowance, or clear a rule
             with a zero trigger (a zero price for a stop-loss). The contract has no admin
             and nothing to pause.
"""

from ethereum.ercs import IERC20
from interfaces import IMarginPool
from interfaces import IPoolFactory
from interfaces import IPositionAutomation
from modules import constants
from modules import risk

implements: IPositionAutomation

# -------------------------------------------------------------- constants

# the rules `due` reports for a position, as bits of `Due.rules` (the structs `Rule` and
# `Due` are declared once, in `interfaces/IPositionAutomation.vyi`)
DUE_PROTECTION: public(constant(uint256)) = 1
DUE_BOOST: public(constant(uint256)) = 2
DUE_TOP_UP: public(constant(uint256)) = 4
DUE_STOP_LOSS: public(constant(uint256)) = 8

# ------------------------------------------------------------- immutables

FACTORY: public(immutable(IPoolFactory))
STABLECOIN: public(immutable(IERC20))

# ---------------------------------------------------------------- storage

protection_rule: public(HashMap[address, HashMap[uint256, IPositionAutomation.Rule]])  # pool => id => rule
boost_rule: public(HashMap[address, HashMap[uint256, IPositionAutomation.Rule]])  # pool => id => rule
top_up_rule: public(HashMap[address, HashMap[uint256, IPositionAutomation.Rule]])  # pool => id => rule
stop_loss_rule: public(HashMap[address, HashMap[uint256, IPositionAutomation.StopLoss]])  # pool => id => rule

# ----------------------------------------------------------------- events

event ProtectionSet:
    pool: indexed(address)
    id: indexed(uint256)
    owner: indexed(address)
    trigger_health: uint256  # [wad] deleverage when health is below this; 0 = off
    target_health: uint256  # [wad]
    max_fee: uint256  # [bps]

event BoostSet:
    pool: indexed(address)
    id: indexed(uint256)
    owner: indexed(address)
    trigger_health: uint256  # [wad]
    target_health: uint256  # [wad]
    max_fee: uint256  # [bps]

event TopUpSet:
    pool: indexed(address)
    id: indexed(uint256)
    owner: indexed(address)
    trigger_health: uint256  # [wad]
    target_health: uint256  # [wad]
    max_fee: uint256  # [bps]
    allowance: uint256  # [collateral units]

event StopLossSet:
    pool: indexed(address)
    id: indexed(uint256)
    owner: indexed(address)
    price: uint256  # [wad] close at or below this oracle price; 0 = off
    max_fee: uint256  # [bps]

event StopLoss:
    pool: indexed(address)
    id: indexed(uint256)
    keeper: indexed(address)
    price: uint256  # [wad] the oracle price it ran at
    debt_repaid: uint256  # [wad] bhUSD from the keeper, burned against the whole debt
    keeper_collateral: uint256  # [collateral units] to the keeper
    owner_collateral: uint256  # [collateral units] back to the owner's wallet

event AutoDeleverage:
    pool: indexed(address)
    id: indexed(uint256)
    keeper: indexed(address)
    repaid: uint256  # [wad] bhUSD from the keeper, burned against the debt
    collateral_out: uint256  # [collateral units] to the keeper
    health_before: uint256  # [wad]
    health_after: uint256  # [wad]

event Boost:
    pool: indexed(address)
    id: indexed(uint256)
    keeper: indexed(address)
    borrowed: uint256  # [wad] minted to the keeper
    collateral_in: uint256  # [collateral units] from the keeper
    health_before: uint256  # [wad]
    health_after: uint256  # [wad]

event TopUp:
    pool: indexed(address)
    id: indexed(uint256)
    keeper: indexed(address)
    collateral_in: uint256  # [collateral units] from the owner into the position
    fee: uint256  # [collateral units] from the owner to the keeper
    health_before: uint256  # [wad]
    health_after: uint256  # [wad]


@deploy
def __init__(_factory: address, _stablecoin: address):
    """
    @notice Deploy the automation for every pool of `_factory`.
    @param _factory The pool factory (only its pools are served).
    @param _stablecoin bhUSD.
    """
    FACTORY = IPoolFactory(_factory)
    STABLECOIN = IERC20(_stablecoin)


# ----------------------------------------------------------------- rules


@external
def set_protection(_pool: address, _id: uint256, _trigger_health: uint256, _target_health: uint256, _max_fee_bps: uint256):
    """
    @notice Let any keeper deleverage the position back to `_target_health` when its
            health drops below `_trigger_health`, for at most `_max_fee_bps` of the debt it
            repays. A zero trigger turns the protection off. The owner or the owner's
            operator on the pool; keepers act only while this contract is the owner's
            operator (`pool.set_operator(this, True)`).
    @param _pool The pool.
    @param _id Position id.
    @param _trigger_health Health below which a deleverage is due [wad]; 0 turns it off.
    @param _target_health Health a deleverage restores [wad], above the trigger.
    @param _max_fee_bps Keeper's fee [bps], at most the pool's liquidation bonus.
    """
    owner: address = self._owner(_pool, _id)
    assert msg.sender == owner or staticcall IMarginPool(_pool).operators(owner, msg.sender), "automation: not owner or operator"
    if _trigger_health > 0:
        self._check_raising_rule(_pool, _trigger_health, _target_health, _max_fee_bps)
        b: IPositionAutomation.Rule = self.boost_rule[_pool][_id]
        self._consistent(b.trigger_health, b.target_health, _trigger_health, _target_health)
    self.protection_rule[_pool][_id] = IPositionAutomation.Rule(
        trigger_health=_trigger_health, target_health=_target_health, max_fee=_max_fee_bps, allowance=0
    )
    log ProtectionSet(
        pool=_pool, id=_id, owner=owner, trigger_health=_trigger_health, target_health=_target_health, max_fee=_max_fee_bps
    )


@external
def set_boost(_pool: address, _id: uint256, _trigger_health: uint256, _target_health: uint256, _max_fee_bps: uint256):
    """
    @notice Let keepers borrow more against your position when its health is above the
            trigger, down to the target. Needs `pool.set_operator(this, True)`.
    @param _pool The pool.
    @param _id Position id; the caller must own it.
    @param _trigger_health Health above which a boost is due [wad]; 0 turns it off.
    @param _target_health Health a boost leaves [wad]: below the trigger, within max LTV.
    @param _max_fee_bps Keeper's fee [bps], at most the pool's liquidation bonus.
    """
    self._owned(_pool, _id)
    p: risk.RiskParams = staticcall IMarginPool(_pool).risk_params()
    if _trigger_health > 0:
        # health at max LTV is threshold / max LTV; a target below it would break max LTV
        assert _target_health * p.max_ltv >= p.liquidation_threshold * constants.WAD, "automation: target above max ltv"
        assert _trigger_health > _target_health and _trigger_health <= constants.MAX_RULE_HEALTH, "automation: bad trigger health"
        assert _max_fee_bps <= p.liquidation_bonus, "automation: fee above pool cap"
        # a boost must neither start where a top-up or a protection stops, nor stop where
        # one of them starts: otherwise keepers could loop the position for fees
        t: IPositionAutomation.Rule = self.top_up_rule[_pool][_id]
        self._consistent(_trigger_health, _target_health, t.trigger_health, t.target_health)
        d: IPositionAutomation.Rule = self.protection_rule[_pool][_id]
        self._consistent(_trigger_health, _target_health, d.trigger_health, d.target_health)
    self.boost_rule[_pool][_id] = IPositionAutomation.Rule(
        trigger_health=_trigger_health, target_health=_target_health, max_fee=_max_fee_bps, allowance=0
    )
    log BoostSet(
        pool=_pool, id=_id, owner=msg.sender, trigger_health=_trigger_health, target_health=_target_health, max_fee=_max_fee_bps
    )


@external
def set_top_up(
    _pool: address,
    _id: uint256,
    _trigger_health: uint256,
    _target_health: uint256,
    _max_fee_bps: uint256,
    _allowance: uint256,
):
    """
    @notice Let keepers move collateral from your wallet into your position when its health
            is below the trigger, up to the target, at most `_allowance` in all. Needs an
            ERC-20 allowance for this contract on the collateral token.
    @param _pool The pool.
    @param _id Position id; the caller must own it.
    @param _trigger_health Health below which a top-up is due [wad]; 0 turns it off.
    @param _target_health Health a top-up restores [wad], above the trigger.
    @param _max_fee_bps Keeper's fee out of the moved collateral [bps], at most the pool's bonus.
    @param _allowance Most collateral the keepers may move in total [collateral units].
    """
    self._owned(_pool, _id)
    if _trigger_health > 0:
        self._check_raising_rule(_pool, _trigger_health, _target_health, _max_fee_bps)
        b: IPositionAutomation.Rule = self.boost_rule[_pool][_id]
        self._consistent(b.trigger_health, b.target_health, _trigger_health, _target_health)
    self.top_up_rule[_pool][_id] = IPositionAutomation.Rule(
        trigger_health=_trigger_health,
        target_health=_target_health,
        max_fee=_max_fee_bps,
        allowance=_allowance,
    )
    log TopUpSet(
        pool=_pool,
        id=_id,
        owner=msg.sender,
        trigger_health=_trigger_health,
        target_health=_target_health,
        max_fee=_max_fee_bps,
        allowance=_allowance,
    )


@external
def set_stop_loss(_pool: address, _id: uint256, _price: uint256, _max_fee_bps: uint256):
    """
    @notice Let any keeper close the position when the oracle price is at or below
            `_price`: the keeper repays the whole debt and receives collateral worth the
            debt x (1 + fee); the rest of the collateral goes back to the owner. The owner
            or the owner's operator on the pool; keepers act only while this contract is
            the owner's operator (`pool.set_operator(this, True)`).
    @param _pool The pool.
    @param _id Position id.
    @param _price USD per collateral unit [wad] at or below which the close is due; 0 turns
           the rule off.
    @param _max_fee_bps Keeper's fee on the debt [bps], at most the pool's liquidation bonus.
    """
    owner: address = self._owner(_pool, _id)
    assert msg.sender == owner or staticcall IMarginPool(_pool).operators(owner, msg.sender), "automation: not owner or operator"
    if _price > 0:
        # no oracle quotes above this (`oracle_guard`): a higher price is a typo
        assert _price <= 10**30, "automation: price out of bounds"
        assert _max_fee_bps <= (staticcall IMarginPool(_pool).risk_params()).liquidation_bonus, "automation: fee above pool cap"
    self.stop_loss_rule[_pool][_id] = IPositionAutomation.StopLoss(price=_price, max_fee=_max_fee_bps)
    log StopLossSet(pool=_pool, id=_id, owner=owner, price=_price, max_fee=_max_fee_bps)


@external
def stop_loss(_pool: address, _id: uint256) -> uint256:
    """
    @notice Carry out a due stop-loss: the caller pays the whole debt in bhUSD (this
            contract needs the caller's bhUSD allowance), the position is closed through
            `pool.close`, the caller receives collateral worth the debt x (1 + fee) at the
            oracle price (all of it if it is worth less) and the owner the rest. The rule
            is spent. Works while the pool is paused or in its grace window.
    @param _pool The pool.
    @param _id Position id.
    @return Collateral sent to the caller [collateral units].
    """
    rule: IPositionAutomation.StopLoss = self.stop_loss_rule[_pool][_id]
    assert rule.price > 0, "automation: no rule"
    pool: IMarginPool = IMarginPool(_pool)
    price: uint256 = staticcall pool.price()
    assert price <= rule.price, "automation: stop-loss not due"
    debt: uint256 = staticcall pool.debt_of(_id)
    assert debt > 0, "automation: no debt"
    coll: uint256 = staticcall pool.collateral_of(_id)
    owner: address = staticcall pool.owner_of(_id)
    fee: uint256 = self._fee(pool, rule.max_fee)
    # worth the debt x (1 + fee) at the oracle price, rounded down: never above the fee
    out: uint256 = min(debt * (constants.BPS + fee) // constants.BPS * constants.WAD // (price * (staticcall pool.COLLATERAL_SCALE())), coll)
    self.stop_loss_rule[_pool][_id] = empty(IPositionAutomation.StopLoss)
    assert extcall STABLECOIN.transferFrom(msg.sender, self, debt), "automation: transfer failed"
    # the pool accrues to this block, as `debt_of` did: it burns exactly `debt` from this
    # contract and sends it all the collateral
    extcall pool.close(_id)
    collateral: IERC20 = IERC20(staticcall pool.COLLATERAL())
    if out > 0:
        assert extcall collateral.transfer(msg.sender, out, default_return_value=True), "automation: transfer failed"
    if coll > out:
        assert extcall collateral.transfer(owner, coll - out, default_return_value=True), "automation: transfer failed"
    log StopLoss(
        pool=_pool, id=_id, keeper=msg.sender, price=price, debt_repaid=debt, keeper_collateral=out, owner_collateral=coll - out
    )
    return out


@external
def auto_deleverage(_pool: address, _id: uint256, _repay: uint256) -> uint256:
    """
    @notice Carry out a due protection: the caller pays `_repay` bhUSD (this contract
            needs the caller's bhUSD allowance), which repays the position's debt, and
            receives collateral worth `_repay` x (1 + fee) at the oracle price, through
            `pool.deleverage`. The result is checked: health ends at most 0.01 below the
            owner's target, never above it, and above where it started. Works while the
            pool is paused.
    @param _pool The pool.
    @param _id Position id.
    @param _repay Debt to repay [wad], below the debt.
    @return Collateral sent to the caller [collateral units].
    """
    assert _repay > 0, "automation: zero amount"
    # bounded before any arithmetic: no pool can lend more than this
    assert _repay <= constants.MAX_DEBT_CEILING, "automation: amount too large"
    rule: IPositionAutomation.Rule = self.protection_rule[_pool][_id]
    assert rule.trigger_health > 0, "automation: no rule"
    pool: IMarginPool = IMarginPool(_pool)
    before: uint256 = staticcall pool.health(_id)
    assert before < rule.trigger_health, "automation: protection not due"
    assert _repay < staticcall pool.debt_of(_id), "automation: repay above debt"
    fee: uint256 = self._fee(pool, rule.max_fee)
    out: uint256 = _repay * (constants.BPS + fee) // constants.BPS * constants.WAD // ((staticcall pool.price()) * (staticcall pool.COLLATERAL_SCALE()))
    assert extcall STABLECOIN.transferFrom(msg.sender, self, _repay), "automation: transfer failed"
    # the pool burns the bhUSD from this contract and sends it the collateral
    extcall pool.deleverage(_id, _repay, out)
    if out > 0:
        assert extcall IERC20(staticcall pool.COLLATERAL()).transfer(msg.sender, out, default_return_value=True), "automation: transfer failed"
    after: uint256 = staticcall pool.health(_id)
    assert after <= rule.target_health and after + constants.RULE_TOLERANCE >= rule.target_health and after > before, "automation: result off target"
    log AutoDeleverage(
        pool=_pool, id=_id, keeper=msg.sender, repaid=_repay, collateral_out=out, health_before=before, health_after=after
    )
    return out


@external
def boost(_pool: address, _id: uint256, _borrow: uint256) -> uint256:
    """
    @notice Carry out a due boost: `_borrow` bhUSD is minted against the position and sent
            to the caller, who supplies collateral worth `_borrow` x (1 - fee).
    @param _pool The pool.
    @param _id Position id.
    @param _borrow Debt to add [wad].
    @return Collateral taken from the caller [collateral units].
    """
    assert _borrow > 0, "automation: zero amount"
    # bounded before any arithmetic: no pool can lend more than this
    assert _borrow <= constants.MAX_DEBT_CEILING, "automation: amount too large"
    rule: IPositionAutomation.Rule = self.boost_rule[_pool][_id]
    assert rule.trigger_health > 0, "automation: no rule"
    pool: IMarginPool = IMarginPool(_pool)
    before: uint256 = staticcall pool.health(_id)
    assert before > rule.trigger_health, "automation: boost not due"
    fee: uint256 = self._fee(pool, rule.max_fee)
    den: uint256 = (staticcall pool.price()) * (staticcall pool.COLLATERAL_SCALE())
    # rounded up: the keeper never supplies less than the fee allows
    coll_in: uint256 = (_borrow * (constants.BPS - fee) // constants.BPS * constants.WAD + den - 1) // den
    collateral: IERC20 = IERC20(staticcall pool.COLLATERAL())
    assert extcall collateral.transferFrom(msg.sender, self, coll_in, default_return_value=True), "automation: transfer failed"
    assert extcall collateral.approve(_pool, coll_in, default_return_value=True), "automation: approve failed"
    extcall pool.deposit(_id, coll_in)
    extcall pool.borrow(_id, _borrow)
    assert extcall STABLECOIN.transfer(msg.sender, _borrow), "automation: transfer failed"
    after: uint256 = staticcall pool.health(_id)
    assert after >= rule.target_health and after <= rule.target_health + constants.RULE_TOLERANCE and after < before, "automation: result off target"
    log Boost(
        pool=_pool, id=_id, keeper=msg.sender, borrowed=_borrow, collateral_in=coll_in, health_before=before, health_after=after
    )
    return coll_in


@external
def top_up(_pool: address, _id: uint256, _amount: uint256) -> uint256:
    """
    @notice Carry out a due top-up: `_amount` collateral moves from the owner's wallet;
            the fee goes to the caller and the rest into the position.
    @param _pool The pool.
    @param _id Position id.
    @param _amount Collateral taken from the owner [collateral units], fee included.
    @return The caller's fee [collateral units].
    """
    assert _amount > 0, "automation: zero amount"
    # bounded before any arithmetic: no token supply comes near it
    assert _amount <= constants.MAX_DEBT_CEILING, "automation: amount too large"
    rule: IPositionAutomation.Rule = self.top_up_rule[_pool][_id]
    assert rule.trigger_health > 0, "automation: no rule"
    assert _amount <= rule.allowance, "automation: above allowance"
    pool: IMarginPool = IMarginPool(_pool)
    before: uint256 = staticcall pool.health(_id)
    assert before < rule.trigger_health, "automation: top-up not due"
    self.top_up_rule[_pool][_id].allowance = rule.allowance - _amount
    fee: uint256 = _amount * self._fee(pool, rule.max_fee) // constants.BPS
    collateral: IERC20 = IERC20(staticcall pool.COLLATERAL())
    assert extcall collateral.transferFrom(staticcall pool.owner_of(_id), self, _amount, default_return_value=True), "automation: transfer failed"
    assert extcall collateral.approve(_pool, _amount - fee, default_return_value=True), "automation: approve failed"
    extcall pool.deposit(_id, _amount - fee)
    if fee > 0:
        assert extcall collateral.transfer(msg.sender, fee, default_return_value=True), "automation: transfer failed"
    after: uint256 = staticcall pool.health(_id)
    assert after <= rule.target_health and after + constants.RULE_TOLERANCE >= rule.target_health, "automation: result off target"
    log TopUp(pool=_pool, id=_id, keeper=msg.sender, collateral_in=_amount - fee, fee=fee, health_before=before, health_after=after)
    return fee


@external
@view
def due(_pool: address, _start: uint256, _limit: uint256) -> DynArray[IPositionAutomation.Due, constants.MAX_PAGE]:
    """
    @notice Positions among ids [_start, _start + _limit) with a rule due now, each with
            the set of its due rules (`DUE_PROTECTION`, `DUE_BOOST`, `DUE_TOP_UP`,
            `DUE_STOP_LOSS` bits). A rule counts only when a keeper could carry it out:
            protections, boosts and stop-losses need this contract as the owner's
            operator, top-ups a wallet balance and a token allowance, stop-losses a debt,
            boosts an unpaused pool and a target within the borrow limit (max LTV less
            the haircut). A boost above the position debt cap is listed and refused by
            the pool ("pool: position debt cap"): its size is the keeper's to choose.
            Empty while the pool's price is invalid.
    @param _pool The pool.
    @param _start First id.
    @param _limit Ids to look at, at most 1,000.
    @return Positions with due rules, in increasing id order.
    """
    assert _limit <= constants.MAX_PAGE, "automation: limit above 1000"
    result: DynArray[IPositionAutomation.Due, constants.MAX_PAGE] = []
    pool: IMarginPool = IMarginPool(_pool)
    price: uint256 = 0
    status: uint256 = 0
    ok: bool = False
    response: Bytes[64] = b""
    # an address that is not a pool (or reverts) answers like an invalid price: nothing due
    ok, response = raw_call(_pool, method_id("price_status()"), max_outsize=64, is_static_call=True, revert_on_failure=False)
    if not ok or len(response) != 64:
        return result
    price, status = abi_decode(response, (uint256, uint256))
    if status != 0:
        return result
    # health as the pool computes it: value x threshold / debt
    factor: uint256 = price * (staticcall pool.COLLATERAL_SCALE())
    p: risk.RiskParams = staticcall pool.risk_params()
    threshold: uint256 = p.liquidation_threshold
    # a boost borrows: not while paused, and only to a target within the borrow limit (max
    # LTV less the haircut), whose health is threshold / limit
    can_borrow: bool = not staticcall pool.paused()
    borrow_ltv: uint256 = p.max_ltv * (constants.BPS - (staticcall pool.controls()).haircut) // constants.BPS
    end: uint256 = staticcall pool.position_count() + 1
    start: uint256 = min(_start, end)  # so that `start + _limit` cannot overflow
    last: uint256 = min(start + _limit, end)
    for position_id: uint256 in range(start, last, bound=constants.MAX_PAGE):
        d: IPositionAutomation.Rule = self.protection_rule[_pool][position_id]
        b: IPositionAutomation.Rule = self.boost_rule[_pool][position_id]
        t: IPositionAutomation.Rule = self.top_up_rule[_pool][position_id]
        stop_price: uint256 = self.stop_loss_rule[_pool][position_id].price
        if d.trigger_health == 0 and b.trigger_health == 0 and t.trigger_health == 0 and stop_price == 0:
            continue
        h: uint256 = max_value(uint256)
        debt: uint256 = staticcall pool.debt_of(position_id)
        if debt > 0:
            h = (staticcall pool.collateral_of(position_id)) * factor // constants.WAD * threshold * constants.WAD // constants.BPS // debt
        rules: uint256 = 0
        if d.trigger_health > 0 and h < d.trigger_health:
            rules |= DUE_PROTECTION
        if b.trigger_health > 0 and h > b.trigger_health and can_borrow and b.target_health * borrow_ltv >= threshold * constants.WAD:
            rules |= DUE_BOOST
        if t.trigger_health > 0 and h < t.trigger_health and t.allowance > 0:
            rules |= DUE_TOP_UP
        if stop_price > 0 and price <= stop_price and debt > 0:
            rules |= DUE_STOP_LOSS
        if rules == 0:
            continue
        owner: address = staticcall pool.owner_of(position_id)
        if rules & (DUE_PROTECTION | DUE_BOOST | DUE_STOP_LOSS) != 0 and not staticcall pool.operators(owner, self):
            rules &= DUE_TOP_UP
        if rules & DUE_TOP_UP != 0 and not self._can_fund(pool, owner):
            rules &= ~DUE_TOP_UP
        if rules != 0:
            result.append(IPositionAutomation.Due(id=position_id, rules=rules))
    return result


@external
@view
def protection_of(_pool: address, _id: uint256) -> (uint256, uint256, uint256):
    """
    @notice A position's protection.
    @param _pool The pool.
    @param _id Position id.
    @return trigger health [wad] (0 = off), target health [wad], max fee [bps].
    """
    rule: IPositionAutomation.Rule = self.protection_rule[_pool][_id]
    return rule.trigger_health, rule.target_health, rule.max_fee


# -------------------------------------------------------------- internals


@internal
@view
def _fee(_pool: IMarginPool, _rule_fee: uint256) -> uint256:
    # the pool's cap applies even if governance lowered the bonus after the rule was set
    return min(_rule_fee, (staticcall _pool.risk_params()).liquidation_bonus)


@internal
@view
def _check_raising_rule(_pool: address, _trigger: uint256, _target: uint256, _max_fee: uint256):
    # a rule that raises health (protection, top-up): trigger above 1.0, target above it
    assert _trigger > constants.WAD, "automation: trigger not above 1.0"
    assert _target > _trigger and _target <= constants.MAX_RULE_HEALTH, "automation: bad target health"
    assert _max_fee <= (staticcall IMarginPool(_pool).risk_params()).liquidation_bonus, "automation: fee above pool cap"


@internal
@pure
def _consistent(_boost_trigger: uint256, _boost_target: uint256, _trigger: uint256, _target: uint256):
    # a boost rule and a rule that raises health (top-up, protection) on one position: the
    # boost must start above where the other stops and stop at or above where it starts
    if _boost_trigger > 0 and _trigger > 0:
        assert _boost_trigger > _target and _boost_target >= _trigger, "automation: contradicts another rule"


@internal
@view
def _owner(_pool: address, _id: uint256) -> address:
    assert staticcall FACTORY.is_pool(_pool), "automation: unknown pool"
    owner: address = staticcall IMarginPool(_pool).owner_of(_id)
    assert owner != empty(address), "automation: unknown position"
    return owner


@internal
@view
def _owned(_pool: address, _id: uint256):
    assert self._owner(_pool, _id) == msg.sender, "automation: not owner"


@internal
@view
def _can_fund(_pool: IMarginPool, _owner: address) -> bool:
    # a top-up moves the owner's collateral: it needs a balance and an allowance here
    token: IERC20 = IERC20(staticcall _pool.COLLATERAL())
    return staticcall token.balanceOf(_owner) > 0 and staticcall token.allowance(_owner, self) > 0
