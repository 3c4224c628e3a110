# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Bulkhead position automation: auto-boost and auto-top-up
@license MIT
@notice Two owner-chosen rules that any keeper may carry out, for a fee the owner caps:
        - boost: when health rises above a trigger, the keeper supplies collateral at the
          oracle price minus the fee and receives newly minted bhUSD, bringing health
          down to the target (never below it, always within max LTV and the debt ceiling);
        - top-up: when health falls below a trigger, the keeper moves collateral from the
          owner's wallet into the position, within an allowance the owner set here, and
          keeps the fee out of it; health rises to the target (never above it).
@dev The contract acts through the pool's public functions: it needs the owner's operator
     approval on the pool for boosts (`pool.set_operator(this, True)`) and an ERC-20
     allowance for top-ups. Positions cannot change owner, so a rule stays with the owner
     who set it. The contract checks the result on chain, not the keeper, and never holds
     funds between calls.
     Deleverage is on the pool itself (`MarginPool.set_protection`, `auto_deleverage`).
@custom:kill Owners revoke the operator approval or the token allowance, or clear a rule
             with a zero trigger. The contract has no admin and nothing to pause.
"""

from ethereum.ercs import IERC20

# -------------------------------------------------------------- constants

WAD: constant(uint256) = 10**18
BPS: constant(uint256) = 10_000
TOLERANCE: constant(uint256) = 10**16  # [wad] how far from the target a result may land
MAX_HEALTH: constant(uint256) = 10 * 10**18  # [wad] highest trigger or target
MAX_PAGE: constant(uint256) = 1_000
MAX_AMOUNT: constant(uint256) = 10**33  # [wad] the largest debt ceiling a pool can have

_MASK64: constant(uint256) = 2**64 - 1
_MASK16: constant(uint256) = 2**16 - 1

# ------------------------------------------------------------- interfaces


interface IFactory:
    def is_pool(_pool: address) -> bool: view


interface IPool:
    def owner_of(_id: uint256) -> address: view
    def health(_id: uint256) -> uint256: view
    def price() -> uint256: view
    def COLLATERAL() -> address: view
    def COLLATERAL_SCALE() -> uint256: view
    def position_count() -> uint256: view
    def deposit(_id: uint256, _amount: uint256): nonpayable
    def borrow(_id: uint256, _amount: uint256): nonpayable
    def risk_params() -> RiskView: view
    def protection_of(_id: uint256) -> (uint256, uint256, uint256): view


struct RiskView:
    max_ltv: uint256  # [bps]
    liquidation_threshold: uint256  # [bps]
    liquidation_bonus: uint256  # [bps]
    liquidation_fee: uint256  # [bps]
    liquidation_tip: uint256  # [wad]
    target_health: uint256  # [wad]
    min_debt: uint256  # [wad]
    debt_ceiling: uint256  # [wad]
    stability_fee: uint256  # [wad per second]


struct Rule:
    trigger_health: uint256  # [wad] 0 = off
    target_health: uint256  # [wad]
    max_fee: uint256  # [bps]
    allowance: uint256  # [collateral units] top-up only: what the keeper may still move


# ------------------------------------------------------------- immutables

FACTORY: public(immutable(IFactory))
STABLECOIN: public(immutable(IERC20))

# ---------------------------------------------------------------- storage

boost_rule: public(HashMap[address, HashMap[uint256, Rule]])  # pool => id => rule
top_up_rule: public(HashMap[address, HashMap[uint256, Rule]])  # pool => id => rule

# ----------------------------------------------------------------- events

event BoostSet:
    pool: indexed(address)
    id: indexed(uint256)
    owner: indexed(address)
    trigger_health: uint256
    target_health: uint256
    max_fee: uint256

event TopUpSet:
    pool: indexed(address)
    id: indexed(uint256)
    owner: indexed(address)
    trigger_health: uint256
    target_health: uint256
    max_fee: uint256
    allowance: uint256

event Boost:
    pool: indexed(address)
    id: indexed(uint256)
    keeper: indexed(address)
    borrowed: uint256  # [wad] minted to the keeper
    collateral_in: uint256  # [collateral units] from the keeper
    health_before: uint256
    health_after: uint256

event TopUp:
    pool: indexed(address)
    id: indexed(uint256)
    keeper: indexed(address)
    collateral_in: uint256  # [collateral units] from the owner into the position
    fee: uint256  # [collateral units] from the owner to the keeper
    health_before: uint256
    health_after: uint256


@deploy
def __init__(_factory: address, _stablecoin: address):
    """
    @notice Deploy the automation for every pool of `_factory`.
    @param _factory The pool factory (only its pools are served).
    @param _stablecoin bhUSD.
    """
    FACTORY = IFactory(_factory)
    STABLECOIN = IERC20(_stablecoin)


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
    p: RiskView = self._owned(_pool, _id)
    if _trigger_health > 0:
        # health at max LTV is threshold / max LTV; a target below it would break max LTV
        assert _target_health * p.max_ltv >= p.liquidation_threshold * WAD, "automation: target above max ltv"
        assert _trigger_health > _target_health and _trigger_health <= MAX_HEALTH, "automation: bad trigger health"
        assert _max_fee_bps <= p.liquidation_bonus, "automation: fee above pool cap"
        # a boost must neither start where a top-up or a deleverage stops, nor stop where
        # one of them starts: otherwise keepers could loop the position for fees
        t: Rule = self.top_up_rule[_pool][_id]
        self._consistent(_trigger_health, _target_health, t.trigger_health, t.target_health)
        d_trigger: uint256 = 0
        d_target: uint256 = 0
        fee: uint256 = 0
        d_trigger, d_target, fee = staticcall IPool(_pool).protection_of(_id)
        self._consistent(_trigger_health, _target_health, d_trigger, d_target)
    self.boost_rule[_pool][_id] = Rule(
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
    p: RiskView = self._owned(_pool, _id)
    if _trigger_health > 0:
        assert _trigger_health > WAD, "automation: trigger not above 1.0"
        assert _target_health > _trigger_health and _target_health <= MAX_HEALTH, "automation: bad target health"
        assert _max_fee_bps <= p.liquidation_bonus, "automation: fee above pool cap"
        b: Rule = self.boost_rule[_pool][_id]
        self._consistent(b.trigger_health, b.target_health, _trigger_health, _target_health)
    self.top_up_rule[_pool][_id] = Rule(
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
    assert _borrow <= MAX_AMOUNT, "automation: amount too large"
    rule: Rule = self.boost_rule[_pool][_id]
    assert rule.trigger_health > 0, "automation: no rule"
    pool: IPool = IPool(_pool)
    before: uint256 = staticcall pool.health(_id)
    assert before > rule.trigger_health, "automation: boost not due"
    fee: uint256 = self._fee(pool, rule.max_fee)
    den: uint256 = (staticcall pool.price()) * (staticcall pool.COLLATERAL_SCALE())
    # rounded up: the keeper never supplies less than the fee allows
    coll_in: uint256 = (_borrow * (BPS - fee) // BPS * WAD + den - 1) // den
    collateral: IERC20 = IERC20(staticcall pool.COLLATERAL())
    assert extcall collateral.transferFrom(msg.sender, self, coll_in, default_return_value=True), "automation: transfer failed"
    assert extcall collateral.approve(_pool, coll_in, default_return_value=True), "automation: approve failed"
    extcall pool.deposit(_id, coll_in)
    extcall pool.borrow(_id, _borrow)
    assert extcall STABLECOIN.transfer(msg.sender, _borrow), "automation: transfer failed"
    after: uint256 = staticcall pool.health(_id)
    assert after >= rule.target_health and after <= rule.target_health + TOLERANCE and after < before, "automation: result off target"
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
    assert _amount <= MAX_AMOUNT, "automation: amount too large"
    rule: Rule = self.top_up_rule[_pool][_id]
    assert rule.trigger_health > 0, "automation: no rule"
    assert _amount <= rule.allowance, "automation: above allowance"
    pool: IPool = IPool(_pool)
    before: uint256 = staticcall pool.health(_id)
    assert before < rule.trigger_health, "automation: top-up not due"
    self.top_up_rule[_pool][_id].allowance = rule.allowance - _amount
    fee: uint256 = _amount * self._fee(pool, rule.max_fee) // BPS
    collateral: IERC20 = IERC20(staticcall pool.COLLATERAL())
    assert extcall collateral.transferFrom(staticcall pool.owner_of(_id), self, _amount, default_return_value=True), "automation: transfer failed"
    assert extcall collateral.approve(_pool, _amount - fee, default_return_value=True), "automation: approve failed"
    extcall pool.deposit(_id, _amount - fee)
    if fee > 0:
        assert extcall collateral.transfer(msg.sender, fee, default_return_value=True), "automation: transfer failed"
    after: uint256 = staticcall pool.health(_id)
    assert after <= rule.target_health and after + TOLERANCE >= rule.target_health, "automation: result off target"
    log TopUp(pool=_pool, id=_id, keeper=msg.sender, collateral_in=_amount - fee, fee=fee, health_before=before, health_after=after)
    return fee


@external
@view
def due(_pool: address, _start: uint256, _limit: uint256) -> (DynArray[uint256, MAX_PAGE], DynArray[uint256, MAX_PAGE]):
    """
    @notice Positions among ids [_start, _start + _limit) whose boost or top-up is due now.
            Empty while the pool's price is invalid.
    @param _pool The pool.
    @param _start First id.
    @param _limit Ids to look at, at most 1,000.
    @return Ids with a due boost, ids with a due top-up.
    """
    assert _limit <= MAX_PAGE, "automation: limit above 1000"
    boosts: DynArray[uint256, MAX_PAGE] = []
    top_ups: DynArray[uint256, MAX_PAGE] = []
    pool: IPool = IPool(_pool)
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(_pool, method_id("price()"), max_outsize=32, is_static_call=True, revert_on_failure=False)
    if not ok:
        return boosts, top_ups
    end: uint256 = staticcall pool.position_count() + 1
    start: uint256 = min(_start, end)  # so that `start + _limit` cannot overflow
    last: uint256 = min(start + _limit, end)
    for position_id: uint256 in range(start, last, bound=MAX_PAGE):
        b: Rule = self.boost_rule[_pool][position_id]
        t: Rule = self.top_up_rule[_pool][position_id]
        if b.trigger_health == 0 and t.trigger_health == 0:
            continue
        h: uint256 = staticcall pool.health(position_id)
        if b.trigger_health > 0 and h > b.trigger_health:
            boosts.append(position_id)
        if t.trigger_health > 0 and h < t.trigger_health and t.allowance > 0:
            top_ups.append(position_id)
    return boosts, top_ups


@external
@view
def boost_bounds(_pool: address, _id: uint256) -> (uint256, uint256):
    """
    @notice A position's boost trigger and target, for the pool to check a new protection.
    @param _pool The pool.
    @param _id Position id.
    @return trigger health [wad] (0 = off), target health [wad].
    """
    rule: Rule = self.boost_rule[_pool][_id]
    return rule.trigger_health, rule.target_health


@internal
@view
def _fee(_pool: IPool, _rule_fee: uint256) -> uint256:
    # the pool's cap applies even if governance lowered the bonus after the rule was set
    return min(_rule_fee, (staticcall _pool.risk_params()).liquidation_bonus)


@internal
@pure
def _consistent(_boost_trigger: uint256, _boost_target: uint256, _trigger: uint256, _target: uint256):
    # a boost rule and a rule that raises health (top-up, deleverage) on one position: the
    # boost must start above where the other stops and stop at or above where it starts
    if _boost_trigger > 0 and _trigger > 0:
        assert _boost_trigger > _target and _boost_target >= _trigger, "automation: contradicts another rule"


@internal
@view
def _owned(_pool: address, _id: uint256) -> RiskView:
    assert staticcall FACTORY.is_pool(_pool), "automation: unknown pool"
    assert staticcall IPool(_pool).owner_of(_id) == msg.sender, "automation: not owner"
    return staticcall IPool(_pool).risk_params()
