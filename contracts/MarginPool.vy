# pragma version 0.4.3
# pragma nonreentrancy on
# pragma optimize codesize
"""
@title Bulkhead margin pool
@license MIT
@notice One isolated pool per collateral token. Each position has its own collateral,
        its own debt in bhUSD and so its own liquidation price. The pool mints bhUSD
        against collateral, accrues a per-second stability fee into its own reserve,
        liquidates unhealthy positions for a bounty, and records its own bad debt when
        its reserve cannot absorb a loss. Nothing in one pool reaches another.
@dev Deployed by `PoolFactory` from a blueprint. Storage is packed: a position is one
     word (collateral | normalised debt), the rate accumulator with its timestamp is one
     word, the reserve with the total normalised debt is one word, and the risk
     parameters are two words (`modules/risk.vy`), one of which holds everything a
     borrow needs. Debt = normalised debt x rate, rounded up; everything rounds toward
     the pool. Only an operation that changes the total normalised debt writes the
     accrual: the reserve's interest depends on nothing else, so deposit and withdraw
     read the current rate without storing it. The pool carries no owner rules: they
     live in `PositionAutomation`, which acts through `deleverage` and the other
     position actions as the owner's operator.
@custom:kill Governance pauses the pool through the factory (no new debt) and/or sets the
             debt ceiling to 0. Repay, deposit, close and liquidate stay open; withdraw
             stays open within max LTV.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from interfaces import IMarginPool
from interfaces import IStablecoin
from modules import constants
from modules import risk
from modules import oracle_guard

initializes: oracle_guard

implements: IMarginPool

# -------------------------------------------------------------- constants

MAX_NORMALISED_COLLATERAL: constant(uint256) = 2**128  # [wad] collateral x scale bound
MAX_RESERVE: constant(uint256) = 2**128  # [wad] the reserve's field in its packed word

_MASK64: constant(uint256) = 2**64 - 1
_MASK128: constant(uint256) = 2**128 - 1

# ------------------------------------------------------------- immutables

FACTORY: public(immutable(address))
STABLECOIN: public(immutable(IStablecoin))
COLLATERAL: public(immutable(IERC20))
COLLATERAL_SCALE: public(immutable(uint256))  # 10 ** (18 - collateral decimals)

# ---------------------------------------------------------------- storage

position_count: public(uint256)  # ids run from 1 to position_count
owner_of: public(HashMap[uint256, address])
# owner => operator => approved for every position of the owner
operators: public(HashMap[address, HashMap[address, bool]])
bad_debt: public(uint256)  # [wad] loss the reserve could not cover
total_collateral: public(uint256)  # [collateral units] held for positions

# collateral [collateral units] (bits 128..255) | normalised debt [wad] (bits 0..127)
_positions: HashMap[uint256, uint256]
# reserve [wad] (bits 128..255): this pool's first-loss buffer | total normalised debt
# [wad] (0..127): they change together, so every accrual writes one word
_debt_totals: uint256
# rate accumulator [wad] (bits 64..255) | last accrual [seconds] (bits 0..63)
_rate: uint256
_limits: uint256  # max LTV, pause, stability fee, debt ceiling, min debt: modules/risk.vy
_terms: uint256  # threshold, bonus, fee, tip, target health: modules/risk.vy
_controls: uint256  # position debt cap, haircut, grace period and end: modules/risk.vy

# ----------------------------------------------------------------- events

event Open:
    id: indexed(uint256)
    owner: indexed(address)

event Deposit:
    id: indexed(uint256)
    payer: indexed(address)
    amount: uint256  # [collateral units]

event Withdraw:
    id: indexed(uint256)
    receiver: indexed(address)
    amount: uint256  # [collateral units]

event Borrow:
    id: indexed(uint256)
    receiver: indexed(address)
    amount: uint256  # [wad]

event Repay:
    id: indexed(uint256)
    payer: indexed(address)
    amount: uint256  # [wad]

event Close:
    id: indexed(uint256)
    caller: indexed(address)
    debt_repaid: uint256  # [wad]
    collateral_returned: uint256  # [collateral units]

event Liquidate:
    id: indexed(uint256)
    liquidator: indexed(address)
    debt_repaid: uint256  # [wad] debt removed from the position
    paid: uint256  # [wad] bhUSD the liquidator burned, fee included
    collateral_out: uint256  # [collateral units] to the liquidator
    reserve_used: uint256  # [wad] shortfall taken from the reserve
    bad_debt: uint256  # [wad] shortfall the reserve could not cover

event PositionUpdated:
    id: indexed(uint256)
    owner: indexed(address)
    collateral: uint256  # [collateral units]
    normalised_debt: uint256  # [wad]
    debt: uint256  # [wad] at this block

event OperatorSet:
    owner: indexed(address)
    operator: indexed(address)
    approved: bool

event Accrue:
    rate: uint256  # [wad]
    interest: uint256  # [wad] credited to the reserve

event RiskParamsSet:
    max_ltv: uint256
    liquidation_threshold: uint256
    liquidation_bonus: uint256
    liquidation_fee: uint256
    liquidation_tip: uint256
    target_health: uint256
    min_debt: uint256
    debt_ceiling: uint256
    stability_fee: uint256

event ControlsSet:
    position_debt_cap: uint256  # [wad]
    haircut: uint256  # [bps]
    grace_period: uint256  # [seconds]
    grace_end: uint256  # [seconds] liquidations wait until this timestamp

event Paused:
    paused: bool

event Deleverage:
    id: indexed(uint256)
    caller: indexed(address)
    repaid: uint256  # [wad] bhUSD burned from the caller
    collateral_out: uint256  # [collateral units] to the caller

event ReserveMinted:
    receiver: indexed(address)
    amount: uint256  # [wad] taken from the reserve and minted as bhUSD

event BadDebtCovered:
    payer: indexed(address)
    amount: uint256  # [wad] bhUSD burned from the payer, taken off the bad debt


@deploy
def __init__(_stablecoin: address, _collateral: address, _feed: address):
    """
    @notice Create a pool; called by the factory through `create_from_blueprint`, which
            then calls `initialize` in the same transaction.
    @param _stablecoin bhUSD.
    @param _collateral The collateral token (at most 18 decimals).
    @param _feed A Chainlink-compatible price feed for the collateral in USD.
    """
    decimals: uint256 = convert(staticcall IERC20Detailed(_collateral).decimals(), uint256)
    assert decimals <= 18, "pool: collateral decimals above 18"
    FACTORY = msg.sender
    STABLECOIN = IStablecoin(_stablecoin)
    COLLATERAL = IERC20(_collateral)
    COLLATERAL_SCALE = 10 ** (18 - decimals)
    oracle_guard.__init__(_feed)
    self._rate = constants.WAD << 64 | block.timestamp


@external
def initialize(_params: risk.RiskParams, _heartbeat: uint256, _max_jump_bps: uint256):
    """
    @notice Set the first parameters; factory only, once. Kept out of the constructor so
            that the blueprint stays under the code size limit.
    @param _params Risk parameters, validated by the factory.
    @param _heartbeat Oracle heartbeat [seconds].
    @param _max_jump_bps Largest accepted move from the anchor price [bps].
    """
    self._only_factory()
    assert self._terms == 0, "pool: already initialized"
    oracle_guard._set_params(_heartbeat, _max_jump_bps)
    oracle_guard._try_anchor()
    self._set_params(_params, False)
    # no controls yet: the debt ceiling is the position cap, no haircut, no grace period
    self._controls = _params.debt_ceiling


# ------------------------------------------------------ position actions


@external
def open(_collateral: uint256, _debt: uint256) -> uint256:
    """
    @notice Open a position with `_collateral` and borrow `_debt` bhUSD against it.
    @param _collateral Collateral to pull from the caller [collateral units].
    @param _debt bhUSD to mint to the caller [wad]; 0 opens without debt.
    @return The new position id, owned by the caller.
    """
    assert _collateral > 0, "pool: zero collateral"
    self._bounded(_collateral)
    self._not_paused()
    position_id: uint256 = self.position_count + 1
    self.position_count = position_id
    self.owner_of[position_id] = msg.sender
    log Open(id=position_id, owner=msg.sender)
    rate: uint256 = 0
    norm: uint256 = 0
    if _debt > 0:
        rate = self._accrue()
        norm = self._checked_borrow(_collateral, 0, _debt, rate)
    else:
        rate = self._current_rate()
    self._store(position_id, msg.sender, 0, 0, _collateral, norm, rate)
    self._pull_collateral(msg.sender, _collateral)
    log Deposit(id=position_id, payer=msg.sender, amount=_collateral)
    if _debt > 0:
        self._mint(msg.sender, _debt)
        log Borrow(id=position_id, receiver=msg.sender, amount=_debt)
    return position_id


@external
def deposit(_id: uint256, _amount: uint256):
    """
    @notice Add collateral to a position. Anyone may deposit; works while paused or
            while the oracle is invalid.
    @param _id Position id.
    @param _amount Collateral to pull from the caller [collateral units].
    """
    self._nonzero(_amount)
    self._bounded(_amount)  # so that coll + _amount < 2**129 cannot overflow
    owner: address = self._existing_owner(_id)
    coll: uint256 = 0
    norm: uint256 = 0
    coll, norm = self._position(_id)
    # the total normalised debt does not change: the current rate, nothing accrued
    self._store(_id, owner, coll, norm, coll + _amount, norm, self._current_rate())
    self._pull_collateral(msg.sender, _amount)
    log Deposit(id=_id, payer=msg.sender, amount=_amount)


@external
def withdraw(_id: uint256, _amount: uint256):
    """
    @notice Take collateral out of a position; owner or operator only. With debt, needs
            a valid price and must stay within max LTV.
    @param _id Position id.
    @param _amount Collateral to send to the caller [collateral units].
    """
    self._nonzero(_amount)
    owner: address = self._authorised_owner(_id)
    rate: uint256 = self._current_rate()  # no debt changes: nothing to accrue
    coll: uint256 = 0
    norm: uint256 = 0
    coll, norm = self._position(_id)
    new_coll: uint256 = self._less_collateral(coll, _amount)
    if norm > 0:
        self._check_ltv(new_coll, self._debt(norm, rate), oracle_guard._price())
    self._store(_id, owner, coll, norm, new_coll, norm, rate)
    self._push_collateral(msg.sender, _amount)
    log Withdraw(id=_id, receiver=msg.sender, amount=_amount)


@external
def borrow(_id: uint256, _amount: uint256):
    """
    @notice Mint `_amount` bhUSD against a position; owner or operator only. Needs a
            valid price, an unpaused pool, and must stay within max LTV, the minimum
            debt and the debt ceiling.
    @param _id Position id.
    @param _amount bhUSD to mint to the caller [wad].
    """
    self._nonzero(_amount)
    owner: address = self._authorised_owner(_id)
    self._not_paused()
    rate: uint256 = self._accrue()
    coll: uint256 = 0
    norm: uint256 = 0
    coll, norm = self._position(_id)
    new_norm: uint256 = self._checked_borrow(coll, norm, _amount, rate)
    self._store(_id, owner, coll, norm, coll, new_norm, rate)
    self._mint(msg.sender, _amount)
    log Borrow(id=_id, receiver=msg.sender, amount=_amount)


@external
def repay(_id: uint256, _amount: uint256) -> uint256:
    """
    @notice Repay debt of a position with the caller's bhUSD. Anyone may repay; works
            while paused or while the oracle is invalid. More than the debt repays it all.
    @param _id Position id.
    @param _amount bhUSD to repay at most [wad].
    @return The bhUSD burned [wad].
    """
    self._nonzero(_amount)
    owner: address = self._existing_owner(_id)
    rate: uint256 = self._accrue()
    coll: uint256 = 0
    norm: uint256 = 0
    coll, norm = self._position_with_debt(_id)
    paid: uint256 = 0
    new_norm: uint256 = 0
    paid, new_norm = self._repaid(norm, _amount, rate)
    self._store(_id, owner, coll, norm, coll, new_norm, rate)
    self._burn(paid)
    log Repay(id=_id, payer=msg.sender, amount=paid)
    return paid


@external
def close(_id: uint256):
    """
    @notice Repay all debt from the caller's bhUSD and send all collateral to the caller;
            owner or operator only. Works while paused or while the oracle is invalid.
    @param _id Position id.
    """
    owner: address = self._authorised_owner(_id)
    coll: uint256 = 0
    norm: uint256 = 0
    coll, norm = self._position(_id)
    assert coll > 0 or norm > 0, "pool: position is empty"
    debt: uint256 = 0
    rate: uint256 = 0
    if norm > 0:
        rate = self._accrue()
        debt = self._debt(norm, rate)
    else:
        rate = self._current_rate()
    self._store(_id, owner, coll, norm, 0, 0, rate)
    if debt > 0:
        self._burn(debt)
    if coll > 0:
        self._push_collateral(msg.sender, coll)
    log Close(id=_id, caller=msg.sender, debt_repaid=debt, collateral_returned=coll)


@external
def liquidate(_id: uint256, _max_repay: uint256, _min_collateral_out: uint256) -> uint256:
    """
    @notice Liquidate an unhealthy position: the caller burns bhUSD (the debt it repays
            plus the liquidation fee) and receives collateral worth the repaid debt times
            (1 + fee) x (1 + bonus), plus its share of the gas tip. A partial liquidation
            brings health back to the target; the whole debt goes when the rest would fall
            under the minimum debt or when the collateral cannot fund a partial one. Then
            the caller gets all the collateral and pays the debt plus the fee: its bonus
            shrinks to what the equity funds and the reserve is not touched. Only when the
            collateral is worth less than the debt plus the fee does the caller pay just
            the collateral's worth, and the rest goes to the reserve, then to bad debt.
    @param _id Position id.
    @param _max_repay Most bhUSD the caller will burn, fee included [wad].
    @param _min_collateral_out Least collateral the caller accepts [collateral units].
    @return Collateral sent to the caller [collateral units].
    """
    self._nonzero(_max_repay)
    owner: address = self._existing_owner(_id)
    self._liquidations_open()
    rate: uint256 = self._accrue()
    coll: uint256 = 0
    norm: uint256 = 0
    coll, norm = self._position_with_debt(_id)
    done: bool = False
    paid: uint256 = 0
    out: uint256 = 0
    done, paid, out = self._liquidate(
        _id, owner, coll, norm, rate, oracle_guard._price(), self._params(), _max_repay, max_value(uint256)
    )
    assert done, "pool: position is healthy"
    self._settle_liquidation(paid, out, _min_collateral_out)
    return out


@external
def liquidate_many(
    _ids: DynArray[uint256, constants.MAX_PAGE], _max_repay: uint256, _min_collateral_out: uint256
) -> uint256:
    """
    @notice Liquidate every unhealthy position in `_ids` in one transaction, with one
            accrual, one price read, one burn and one collateral transfer; each position
            is liquidated exactly as `liquidate` would. Unknown ids, positions without
            debt or healthy (another keeper was first) and positions whose liquidation
            would take the total paid above `_max_repay` are skipped, not reverted.
            The output of `positions_to_liquidate` can be passed as it is.
    @param _ids Position ids, at most 1,000.
    @param _max_repay Most bhUSD the caller will burn in total, fees included [wad].
    @param _min_collateral_out Least collateral the caller accepts in total [collateral units].
    @return Collateral sent to the caller [collateral units].
    """
    self._nonzero(_max_repay)
    self._liquidations_open()
    rate: uint256 = self._accrue()
    price: uint256 = oracle_guard._price()
    p: risk.RiskParams = self._params()
    count: uint256 = 0
    total_paid: uint256 = 0
    total_out: uint256 = 0
    for position_id: uint256 in _ids:
        owner: address = self.owner_of[position_id]
        coll: uint256 = 0
        norm: uint256 = 0
        coll, norm = self._position(position_id)
        if owner == empty(address) or norm == 0:
            continue
        done: bool = False
        paid: uint256 = 0
        out: uint256 = 0
        # the whole liquidation or none: what would exceed the budget is skipped
        done, paid, out = self._liquidate(
            position_id, owner, coll, norm, rate, price, p, max_value(uint256), _max_repay - total_paid
        )
        if done:
            count += 1
            total_paid += paid
            total_out += out
    assert count > 0, "pool: nothing to liquidate"
    self._settle_liquidation(total_paid, total_out, _min_collateral_out)
    return total_out


@external
def set_operator(_operator: address, _approved: bool):
    """
    @notice Let `_operator` withdraw, borrow and close for every position of the caller.
    @param _operator The operator.
    @param _approved True to approve, False to revoke.
    """
    assert _operator != empty(address), "pool: zero operator"
    assert _operator != msg.sender, "pool: operator is caller"
    self.operators[msg.sender][_operator] = _approved
    log OperatorSet(owner=msg.sender, operator=_operator, approved=_approved)


@external
def accrue() -> uint256:
    """
    @notice Accrue the stability fee into the reserve and refresh the price anchor when
            the price is valid. Anyone may call it.
    @return The rate accumulator [wad].
    """
    rate: uint256 = self._accrue()
    price: uint256 = 0
    status: uint256 = 0
    price, status = oracle_guard._peek()
    if status == oracle_guard.OK:
        oracle_guard._price()
    return rate


@external
def deleverage(_id: uint256, _repay: uint256, _collateral_out: uint256):
    """
    @notice Repay `_repay` of a position's debt from the caller's bhUSD and send
            `_collateral_out` of its collateral to the caller, in one step; owner or
            operator only. Allowed whenever the position's health does not go down, that
            is when its collateral per unit of debt does not fall, so it needs no price:
            it works above max LTV, while paused and while the oracle is invalid. The
            general primitive for shrinking a position (an owner's rules in
            `PositionAutomation` act through it).
    @param _id Position id.
    @param _repay Debt to repay [wad]; more than the debt repays it all.
    @param _collateral_out Collateral to send to the caller [collateral units].
    """
    self._nonzero(_repay)
    owner: address = self._authorised_owner(_id)
    rate: uint256 = self._accrue()
    coll: uint256 = 0
    norm: uint256 = 0
    coll, norm = self._position_with_debt(_id)
    paid: uint256 = 0
    new_norm: uint256 = 0
    paid, new_norm = self._repaid(norm, _repay, rate)
    new_coll: uint256 = self._less_collateral(coll, _collateral_out)
    # health is value x threshold / debt, so it does not fall while collateral per
    # normalised debt does not: new_coll / new_norm >= coll / norm, cross-multiplied
    # (both products are below 2**256: each factor is below 2**128)
    assert new_coll * norm >= coll * new_norm, "pool: health would fall"
    self._store(_id, owner, coll, norm, new_coll, new_norm, rate)
    self._burn(paid)
    if _collateral_out > 0:
        self._push_collateral(msg.sender, _collateral_out)
    log Deleverage(id=_id, caller=msg.sender, repaid=paid, collateral_out=_collateral_out)


# ------------------------------------------------------------ governance


@external
def set_risk_params(_params: risk.RiskParams):
    """
    @notice Replace the risk parameters; factory only. Accrues at the old fee first.
    @param _params New parameters, validated by the factory against the bounds in
           `modules/risk.vy`.
    """
    self._only_factory()
    self._accrue()
    self._set_params(_params, self._paused())


@external
def set_oracle_params(_heartbeat: uint256, _max_jump_bps: uint256):
    """
    @notice Replace the oracle heartbeat and jump bound; factory only.
    @param _heartbeat Oracle heartbeat [seconds].
    @param _max_jump_bps Jump bound [bps].
    """
    self._only_factory()
    oracle_guard._set_params(_heartbeat, _max_jump_bps)


@external
def reset_price_anchor():
    """
    @notice Accept the feed's current valid answer as the anchor after a move beyond the
            jump bound; factory only.
    """
    self._only_factory()
    oracle_guard._reset_anchor()


@external
def set_paused(_paused: bool):
    """
    @notice Pause or unpause new debt and liquidations; factory only. An unpause starts
            the grace window: liquidations wait `grace_period` more seconds, so that
            owners can repay, deposit or deleverage what became unsafe meanwhile.
    @param _paused True stops open, borrow, liquidate and liquidate_many.
    """
    self._only_factory()
    if self._paused() and not _paused:
        c: risk.Controls = risk._unpack_controls(self._controls)
        c.grace_end = block.timestamp + c.grace_period
        self._set_controls(c)
    self._set_params(self._params(), _paused)
    log Paused(paused=_paused)


@external
def set_controls(_position_debt_cap: uint256, _haircut: uint256, _grace_period: uint256):
    """
    @notice Replace the pool's risk controls; factory only (it checks the bounds). A grace
            window already running keeps its end.
    @param _position_debt_cap Most debt a position may borrow up to [wad].
    @param _haircut Taken off max LTV for borrowing and withdrawing [bps].
    @param _grace_period How long liquidations wait after an unpause [seconds].
    """
    self._only_factory()
    self._set_controls(
        risk.Controls(
            position_debt_cap=_position_debt_cap,
            haircut=_haircut,
            grace_period=_grace_period,
            grace_end=risk._grace_end(self._controls),
        )
    )


@external
def mint_reserve(_to: address, _amount: uint256):
    """
    @notice Mint `_amount` of the reserve as bhUSD to `_to`; factory only (the fee sweep
            and the netting of bad debt). Supply rises by what the reserve falls.
    @param _to Receiver of the bhUSD.
    @param _amount [wad], at most the reserve.
    """
    self._only_factory()
    # dev: the factory never asks for more than the reserve; checked arithmetic backs it
    self._set_reserve(self._reserve() - _amount)
    self._mint(_to, _amount)
    log ReserveMinted(receiver=_to, amount=_amount)


@external
def cover_bad_debt(_amount: uint256):
    """
    @notice Burn `_amount` bhUSD of the factory and take it off the bad debt; factory only.
            Supply falls by what the bad debt falls.
    @param _amount [wad], at most the bad debt.
    """
    self._only_factory()
    # dev: the factory checks the amount against the bad debt first ("factory: amount
    # above bad debt"); checked arithmetic backs it
    self.bad_debt -= _amount
    self._burn(_amount)
    log BadDebtCovered(payer=msg.sender, amount=_amount)


# ------------------------------------------------------------------ views


@external
@view
def health(_id: uint256) -> uint256:
    """
    @notice Collateral value x liquidation threshold / debt; reverts on an invalid price.
    @param _id Position id.
    @return Health [wad]; max_value(uint256) when the debt is 0.
    """
    price: uint256 = self._view_price()
    coll: uint256 = 0
    norm: uint256 = 0
    coll, norm = self._position(_id)
    return self._health(coll, self._debt(norm, self._current_rate()), price, self._threshold())


@external
@view
def liquidation_price(_id: uint256) -> uint256:
    """
    @notice The price at which the position's health is exactly 1.0; needs no oracle.
    @param _id Position id.
    @return Price [wad]; 0 when the debt is 0, max_value(uint256) with debt but no collateral.
    """
    coll: uint256 = 0
    norm: uint256 = 0
    coll, norm = self._position(_id)
    debt: uint256 = self._debt(norm, self._current_rate())
    if debt == 0:
        return 0
    if coll == 0:
        return max_value(uint256)
    # rounded up: at this price the position is at health 1.0 or just below it
    den: uint256 = coll * COLLATERAL_SCALE * self._threshold()
    return (debt * constants.BPS * constants.WAD + den - 1) // den


@external
@view
def debt_of(_id: uint256) -> uint256:
    """
    @notice Debt of a position including the stability fee accrued until now.
    @param _id Position id.
    @return Debt [wad].
    """
    return self._debt(self._positions[_id] & _MASK128, self._current_rate())


@external
@view
def collateral_of(_id: uint256) -> uint256:
    """
    @notice Collateral of a position.
    @param _id Position id.
    @return Collateral [collateral units].
    """
    return self._positions[_id] >> 128


@external
@view
def normalised_debt_of(_id: uint256) -> uint256:
    """
    @notice Debt of a position divided by the rate accumulator.
    @param _id Position id.
    @return Normalised debt [wad].
    """
    return self._positions[_id] & _MASK128


@external
@view
def positions_to_liquidate(_start: uint256, _limit: uint256) -> DynArray[uint256, constants.MAX_PAGE]:
    """
    @notice Ids in [_start, _start + _limit) whose health is below 1.0, at most 1,000.
            Empty while the price is invalid (nothing can be liquidated then).
    @param _start First id to look at (ids start at 1).
    @param _limit Number of ids to look at, at most 5,000.
    @return Liquidatable ids in increasing order.
    """
    assert _limit <= constants.MAX_SCAN, "pool: limit above 5000"
    result: DynArray[uint256, constants.MAX_PAGE] = []
    price: uint256 = 0
    status: uint256 = 0
    price, status = oracle_guard._peek()
    if status != oracle_guard.OK:
        return result
    rate: uint256 = self._current_rate()
    threshold: uint256 = self._threshold()
    end: uint256 = self.position_count + 1
    start: uint256 = min(_start, end)  # so that `start + _limit` cannot overflow
    last: uint256 = min(start + _limit, end)
    for position_id: uint256 in range(start, last, bound=constants.MAX_SCAN):
        packed: uint256 = self._positions[position_id]
        norm: uint256 = packed & _MASK128
        if norm == 0:
            continue
        # health below 1.0, without the division: value x threshold < debt
        if self._value(packed >> 128, price) * threshold * constants.WAD // constants.BPS < self._debt(norm, rate) * constants.WAD:
            result.append(position_id)
            if len(result) == constants.MAX_PAGE:
                break
    return result


@external
@view
def price() -> uint256:
    """
    @notice The oracle price the pool would use now; reverts with the reason if invalid.
    @return Price [wad] of one whole collateral token in USD.
    """
    return self._view_price()


@external
@view
def price_status() -> (uint256, uint256):
    """
    @notice The oracle price and its status without reverting.
    @return Price [wad] (0 when invalid) and status: 0 ok, 1 feed call failed,
            2 non-positive, 3 incomplete round, 4 stale, 5 out of range, 6 jump.
    """
    return oracle_guard._peek()


@external
@view
def oracle_params() -> (address, uint256, uint256):
    """
    @notice The feed, heartbeat [seconds] and jump bound [bps].
    @return feed, heartbeat, max jump.
    """
    return oracle_guard._feed(), oracle_guard._heartbeat(), oracle_guard._max_jump()


@external
@view
def risk_params() -> risk.RiskParams:
    """
    @notice The current risk parameters.
    @return The parameters, units as in `modules/risk.vy`.
    """
    return self._params()


@external
@view
def paused() -> bool:
    """
    @notice Whether new debt and liquidations are paused.
    @return True while paused.
    """
    return self._paused()


@external
@view
def controls() -> risk.Controls:
    """
    @notice The pool-level risk controls. Liquidations wait while paused and until
            `grace_end`; the borrow limit is max LTV x (1 - haircut).
    @return Position debt cap [wad], haircut [bps], grace period [seconds], grace end
            [seconds, a timestamp].
    """
    return risk._unpack_controls(self._controls)


@external
@view
def rate() -> uint256:
    """
    @notice The rate accumulator as of now.
    @return Rate [wad].
    """
    return self._current_rate()


@external
@view
def total_debt() -> uint256:
    """
    @notice Total debt of the pool as of now, stability fee included.
    @return Debt [wad].
    """
    return self._debt(self._debt_totals & _MASK128, self._current_rate())


@external
@view
def reserve() -> uint256:
    """
    @notice The pool's first-loss buffer, fed by the stability fee and liquidation fees,
            as of the last accrual (`accrue` brings it up to date).
    @return Reserve [wad].
    """
    return self._reserve()


# -------------------------------------------------------------- internals


@internal
@pure
def _nonzero(_amount: uint256):
    assert _amount > 0, "pool: zero amount"


@internal
@view
def _only_factory():
    # one copy of the check and its reason, to keep the pool under the size limit
    assert msg.sender == FACTORY, "pool: only factory"


@internal
@view
def _existing_owner(_id: uint256) -> address:
    owner: address = self.owner_of[_id]
    assert owner != empty(address), "pool: unknown position"
    return owner


@internal
@view
def _authorised_owner(_id: uint256) -> address:
    owner: address = self._existing_owner(_id)
    assert msg.sender == owner or self.operators[owner][msg.sender], "pool: not owner or operator"
    return owner


# one copy of each check that several actions make, to keep the pool under the size budget


@internal
@view
def _bounded(_amount: uint256):
    # bounded before any arithmetic, so that absurd amounts get a reason, not an overflow
    assert _amount < MAX_NORMALISED_COLLATERAL // COLLATERAL_SCALE, "pool: collateral too large"


@internal
@view
def _not_paused():
    assert not self._paused(), "pool: paused"


@internal
@view
def _position_with_debt(_id: uint256) -> (uint256, uint256):
    coll: uint256 = 0
    norm: uint256 = 0
    coll, norm = self._position(_id)
    assert norm > 0, "pool: no debt"
    return coll, norm


@internal
@pure
def _less_collateral(_coll: uint256, _amount: uint256) -> uint256:
    assert _amount <= _coll, "pool: insufficient collateral"
    return unsafe_sub(_coll, _amount)  # checked just above


@internal
@view
def _check_min_debt(_debt: uint256):
    assert _debt >= risk._min_debt(self._limits), "pool: debt below minimum"


@internal
@view
def _repaid(_norm: uint256, _amount: uint256, _rate: uint256) -> (uint256, uint256):
    """
    @dev (bhUSD paid, new normalised debt) for a repay of at most `_amount`: all of the
         debt when `_amount` covers it, otherwise the normalised debt removed rounds down
         (a partial repay never clears more) and the rest must stay above the minimum.
    """
    debt: uint256 = self._debt(_norm, _rate)
    if _amount >= debt:
        return debt, 0
    removed: uint256 = _amount * constants.WAD // _rate
    assert removed > 0, "pool: repay too small"
    new_norm: uint256 = _norm - removed
    self._check_min_debt(self._debt(new_norm, _rate))
    return _amount, new_norm


@internal
def _mint(_to: address, _amount: uint256):
    extcall STABLECOIN.mint(_to, _amount)


@internal
def _burn(_amount: uint256):
    # only ever the caller's own bhUSD: the repayer, the liquidator or the factory
    extcall STABLECOIN.pool_burn(msg.sender, _amount)


@internal
@view
def _position(_id: uint256) -> (uint256, uint256):
    packed: uint256 = self._positions[_id]
    return packed >> 128, packed & _MASK128


@internal
@view
def _params() -> risk.RiskParams:
    return risk._unpack(self._limits, self._terms)


@internal
@view
def _threshold() -> uint256:
    return risk._threshold(self._terms)


@internal
@view
def _paused() -> bool:
    return risk._paused(self._limits)


@internal
@view
def _reserve() -> uint256:
    return self._debt_totals >> 128


@internal
def _set_reserve(_reserve: uint256):
    # a reserve this large needs more unswept fees than any debt ceiling could produce
    # in decades at the highest fee; refused rather than wrapped into the debt field
    assert _reserve < MAX_RESERVE, "pool: reserve too large"
    self._debt_totals = _reserve << 128 | (self._debt_totals & _MASK128)


@internal
def _set_controls(_c: risk.Controls):
    self._controls = risk._pack_controls(_c)
    log ControlsSet(
        position_debt_cap=_c.position_debt_cap, haircut=_c.haircut, grace_period=_c.grace_period, grace_end=_c.grace_end
    )


@internal
@view
def _liquidations_open():
    self._not_paused()
    assert block.timestamp >= risk._grace_end(self._controls), "pool: grace window"


@internal
def _set_params(_p: risk.RiskParams, _paused: bool):
    self._limits = risk._pack_limits(_p, _paused)
    self._terms = risk._pack_terms(_p)
    log RiskParamsSet(
        max_ltv=_p.max_ltv,
        liquidation_threshold=_p.liquidation_threshold,
        liquidation_bonus=_p.liquidation_bonus,
        liquidation_fee=_p.liquidation_fee,
        liquidation_tip=_p.liquidation_tip,
        target_health=_p.target_health,
        min_debt=_p.min_debt,
        debt_ceiling=_p.debt_ceiling,
        stability_fee=_p.stability_fee,
    )


@internal
@view
def _view_price() -> uint256:
    price: uint256 = 0
    status: uint256 = 0
    price, status = oracle_guard._peek()
    oracle_guard._raise(status)
    return price


@internal
@pure
def _debt(_norm: uint256, _rate: uint256) -> uint256:
    # rounded up: a position always owes at least its share
    return (_norm * _rate + constants.WAD - 1) // constants.WAD


@internal
@view
def _value(_coll: uint256, _price: uint256) -> uint256:
    # [wad] collateral x scale < 2**128 and price <= 1e30, so the product fits
    return _coll * COLLATERAL_SCALE * _price // constants.WAD


@internal
@view
def _health(_coll: uint256, _debt: uint256, _price: uint256, _threshold: uint256) -> uint256:
    if _debt == 0:
        return max_value(uint256)
    return self._value(_coll, _price) * _threshold * constants.WAD // constants.BPS // _debt


@internal
@pure
def _grow(_rate: uint256, _elapsed: uint256, _fee: uint256) -> uint256:
    """
    @dev rate x exp(fee x elapsed), rounded down: exp(x) as its Taylor series, summed until
         a term rounds to zero, so that accruing every block or once after years gives the
         same rate within a few wei per accrual. fee <= MAX_STABILITY_FEE and x <= 3.5 wad
         for five idle years at the highest fee, where 34 terms suffice; 64 allow 20 years.
    """
    x: uint256 = _fee * _elapsed
    term: uint256 = constants.WAD
    total: uint256 = constants.WAD
    for i: uint256 in range(1, 65):
        term = term * x // (i * constants.WAD)
        if term == 0:
            break
        total += term
    return _rate * total // constants.WAD


@internal
@view
def _current_rate() -> uint256:
    packed: uint256 = self._rate
    last: uint256 = packed & _MASK64
    # `>=`: a view answered against a block older than the last accrual (a node racing a
    # new block) returns the stored rate instead of underflowing
    if last >= block.timestamp:
        return packed >> 64
    return self._grow(packed >> 64, block.timestamp - last, risk._stability_fee(self._limits))


@internal
def _accrue() -> uint256:
    packed: uint256 = self._rate
    last: uint256 = packed & _MASK64
    rate: uint256 = packed >> 64
    if last == block.timestamp:
        return rate
    new_rate: uint256 = self._grow(rate, block.timestamp - last, risk._stability_fee(self._limits))
    self._rate = new_rate << 64 | block.timestamp
    if new_rate != rate:
        totals: uint256 = self._debt_totals
        total_norm: uint256 = totals & _MASK128
        # the difference of the rounded-down totals, so that sums over accruals are exact;
        # the total normalised debt is constant between accruals (only operations that
        # accrue first change it), so skipped accruals lose nothing
        interest: uint256 = total_norm * new_rate // constants.WAD - total_norm * rate // constants.WAD
        if interest > 0:
            self._set_reserve((totals >> 128) + interest)
        log Accrue(rate=new_rate, interest=interest)
    return new_rate


@internal
def _checked_borrow(_coll: uint256, _norm: uint256, _amount: uint256, _rate: uint256) -> uint256:
    """
    @dev The new normalised debt after borrowing `_amount`, with every borrow rule checked.
    """
    limits: uint256 = self._limits
    ceiling: uint256 = risk._debt_ceiling(limits)
    # more than the ceiling can never pass; checked first so `_amount * constants.WAD` cannot overflow
    assert _amount <= ceiling, "pool: debt ceiling"
    # round the normalised debt added up: a borrower never owes less than minted
    new_norm: uint256 = _norm + (_amount * constants.WAD + _rate - 1) // _rate
    new_debt: uint256 = self._debt(new_norm, _rate)
    self._check_min_debt(new_debt)
    # a position above a lowered cap keeps working, but cannot borrow more
    assert new_debt <= risk._position_debt_cap(self._controls), "pool: position debt cap"
    total_norm: uint256 = (self._debt_totals & _MASK128) + new_norm - _norm
    assert self._debt(total_norm, _rate) <= ceiling, "pool: debt ceiling"
    self._check_ltv(_coll, new_debt, oracle_guard._price())
    return new_norm


@internal
@view
def _check_ltv(_coll: uint256, _debt: uint256, _price: uint256):
    # the borrow limit: max LTV less the haircut, rounded down (the liquidation threshold
    # does not move, so a haircut never makes a position liquidatable)
    ltv: uint256 = risk._max_ltv(self._limits) * (constants.BPS - risk._haircut(self._controls)) // constants.BPS
    assert _debt * constants.BPS <= self._value(_coll, _price) * ltv, "pool: exceeds max ltv"


@internal
def _store(
    _id: uint256,
    _owner: address,
    _coll: uint256,
    _norm: uint256,
    _new_coll: uint256,
    _new_norm: uint256,
    _rate: uint256,
):
    """
    @dev Write a position and what changed of the pool totals, and log the position's
         new state. A change of the normalised debt must come after an accrual (`_accrue`).
    """
    assert _new_coll * COLLATERAL_SCALE < MAX_NORMALISED_COLLATERAL, "pool: collateral too large"
    self._positions[_id] = _new_coll << 128 | _new_norm
    # totals are sums of positions, so neither subtraction can underflow
    if _new_coll != _coll:
        total_coll: uint256 = self.total_collateral + _new_coll - _coll
        # bounded like a position, so the collateral check in `_pull_collateral` and every
        # value computed from it stay in range
        assert total_coll * COLLATERAL_SCALE < MAX_NORMALISED_COLLATERAL, "pool: total collateral too large"
        self.total_collateral = total_coll
    if _new_norm != _norm:
        # the low 128 bits hold the total, at least `_norm` (a sum of positions), so the
        # subtraction borrows nothing from the reserve above it; dev: the new total stays
        # below 2**128 because the debt ceiling (<= 1e33) bounds every borrow and rate >= 1
        self._debt_totals = self._debt_totals - _norm + _new_norm
    log PositionUpdated(id=_id, owner=_owner, collateral=_new_coll, normalised_debt=_new_norm, debt=self._debt(_new_norm, _rate))


@internal
def _liquidate(
    _id: uint256,
    _owner: address,
    _coll: uint256,
    _norm: uint256,
    _rate: uint256,
    _price: uint256,
    _p: risk.RiskParams,
    _max_repay: uint256,
    _budget: uint256,
) -> (bool, uint256, uint256):
    """
    @dev Liquidate one position with debt (`liquidate` and `liquidate_many`): write it,
         the reserve and the bad debt, and log; the caller then burns and pays once.
         `_max_repay` caps the liquidation (partial if need be); not done, and nothing
         written, when the position is healthy or the liquidation would cost more than
         `_budget`. Returns (done, bhUSD paid, collateral out).
    """
    debt: uint256 = self._debt(_norm, _rate)
    value: uint256 = self._value(_coll, _price)
    if value * _p.liquidation_threshold * constants.WAD // constants.BPS >= debt * constants.WAD:
        return False, 0, 0
    repaid: uint256 = 0
    paid: uint256 = 0
    out: uint256 = 0
    shortfall: uint256 = 0
    repaid, paid, out, shortfall = risk._liquidation_amounts(_coll, debt, value, _price, _p, _max_repay, COLLATERAL_SCALE)
    if paid > _budget:
        return False, 0, 0

    new_norm: uint256 = 0
    if repaid < debt:
        # remove less normalised debt than repaid when it does not divide evenly
        new_norm = _norm - repaid * constants.WAD // _rate
    # the fee is what the liquidator paid above the debt it covered; with a shortfall the
    # covered debt is repaid - shortfall (repaid is then the whole debt)
    fee_part: uint256 = paid - min(paid, repaid - shortfall)
    reserve_used: uint256 = 0
    new_bad_debt: uint256 = 0
    reserve: uint256 = self._reserve() + fee_part
    if shortfall > 0:
        reserve_used = min(reserve, shortfall)
        reserve -= reserve_used
        new_bad_debt = shortfall - reserve_used
        self.bad_debt += new_bad_debt
    self._store(_id, _owner, _coll, _norm, _coll - out, new_norm, _rate)
    self._set_reserve(reserve)
    log Liquidate(
        id=_id,
        liquidator=msg.sender,
        debt_repaid=min(repaid, debt),
        paid=paid,
        collateral_out=out,
        reserve_used=reserve_used,
        bad_debt=new_bad_debt,
    )
    return True, paid, out


@internal
def _settle_liquidation(_paid: uint256, _out: uint256, _min_out: uint256):
    """
    @dev After every position is written: check the caller's minimum, burn what it pays
         and send it the collateral.
    """
    assert _out >= _min_out, "pool: collateral out below minimum"
    if _paid > 0:
        self._burn(_paid)
    if _out > 0:
        self._push_collateral(msg.sender, _out)


@internal
def _pull_collateral(_from: address, _amount: uint256):
    assert extcall COLLATERAL.transferFrom(_from, self, _amount, default_return_value=True), "pool: collateral transfer failed"
    # a token that delivers less than asked (fee on transfer) is refused
    assert staticcall COLLATERAL.balanceOf(self) >= self.total_collateral, "pool: collateral not received"


@internal
def _push_collateral(_to: address, _amount: uint256):
    assert extcall COLLATERAL.transfer(_to, _amount, default_return_value=True), "pool: collateral transfer failed"
