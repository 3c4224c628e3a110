# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Bulkhead pool lens
@license MIT
@notice Read-only views over any margin pool, kept out of `MarginPool` so that the pool's
        blueprint stays within its size budget: a page of positions with their health,
        the most a position can borrow, and previews of a liquidation and of a
        protection's deleverage (whose rule it reads from the factory's automation).
@dev Stateless; every answer is computed from the pool's own views with the same integer
     math (`modules/risk.vy`), so a preview equals what the pool would do in this block.
@custom:kill Nothing to stop: it holds nothing and changes nothing.
"""

from interfaces import IMarginPool
from interfaces import IPoolFactory
from interfaces import IPositionAutomation
from modules import constants
from modules import risk

# ---------------------------------------------------------------- structs


struct PositionView:
    id: uint256
    owner: address
    collateral: uint256  # [collateral units]
    debt: uint256  # [wad]
    health: uint256  # [wad] max_value(uint256) without debt; 0 while the price is invalid


@external
@view
def positions(_pool: address, _start: uint256, _limit: uint256) -> DynArray[PositionView, constants.MAX_PAGE]:
    """
    @notice Every position with collateral or debt among ids [_start, _start + _limit).
    @param _pool The pool.
    @param _start First id (ids start at 1).
    @param _limit Ids to look at, at most 1,000.
    @return Positions with id, owner, collateral, debt and health.
    """
    assert _limit <= constants.MAX_PAGE, "lens: limit above 1000"
    pool: IMarginPool = IMarginPool(_pool)
    price: uint256 = 0
    status: uint256 = 0
    price, status = staticcall pool.price_status()
    threshold: uint256 = (staticcall pool.risk_params()).liquidation_threshold
    scale: uint256 = staticcall pool.COLLATERAL_SCALE()
    result: DynArray[PositionView, constants.MAX_PAGE] = []
    end: uint256 = staticcall pool.position_count() + 1
    start: uint256 = min(_start, end)  # so that `start + _limit` cannot overflow
    last: uint256 = min(start + _limit, end)
    for position_id: uint256 in range(start, last, bound=constants.MAX_PAGE):
        coll: uint256 = staticcall pool.collateral_of(position_id)
        debt: uint256 = staticcall pool.debt_of(position_id)
        if coll == 0 and debt == 0:
            continue
        h: uint256 = max_value(uint256)
        if debt > 0:
            h = 0
            if status == 0:
                h = coll * scale * price // constants.WAD * threshold * constants.WAD // constants.BPS // debt
        result.append(
            PositionView(
                id=position_id,
                owner=staticcall pool.owner_of(position_id),
                collateral=coll,
                debt=debt,
                health=h,
            )
        )
    return result


@external
@view
def max_borrow(_pool: address, _id: uint256) -> uint256:
    """
    @notice Most bhUSD the position can borrow now within the borrow limit (max LTV less
            the haircut), the position debt cap and the debt ceiling (the minimum debt is
            not applied); 0 while the price is invalid.
    @param _pool The pool.
    @param _id Position id.
    @return Amount [wad].
    """
    pool: IMarginPool = IMarginPool(_pool)
    price: uint256 = 0
    status: uint256 = 0
    price, status = staticcall pool.price_status()
    if status != 0:
        return 0
    p: risk.RiskParams = staticcall pool.risk_params()
    value: uint256 = (staticcall pool.collateral_of(_id)) * (staticcall pool.COLLATERAL_SCALE()) * price // constants.WAD
    c: risk.Controls = staticcall pool.controls()
    # as the pool checks it: max LTV less the haircut, rounded down, and the cap
    limit: uint256 = min(value * (p.max_ltv * (constants.BPS - c.haircut) // constants.BPS) // constants.BPS, c.position_debt_cap)
    debt: uint256 = staticcall pool.debt_of(_id)
    total: uint256 = staticcall pool.total_debt()
    if debt >= limit or total >= p.debt_ceiling:
        return 0
    # slack for the rounding up of the normalised debt: borrowing `a` adds
    # ceil(a / rate) normalised units, so the debt may rise by a + ceil(rate) wei
    slack: uint256 = (staticcall pool.rate() + constants.WAD - 1) // constants.WAD
    return max(min(limit - debt, p.debt_ceiling - total), slack) - slack


@external
@view
def preview_liquidate(_pool: address, _id: uint256, _max_repay: uint256) -> (uint256, uint256, uint256, uint256):
    """
    @notice What `liquidate(_id, _max_repay, 0)` would do in this block.
    @param _pool The pool.
    @param _id Position id.
    @param _max_repay Most bhUSD the caller would burn, fee included [wad].
    @return debt repaid [wad], bhUSD paid [wad], collateral out [collateral units],
            shortfall for the reserve and bad debt [wad].
    """
    assert _max_repay > 0, "pool: zero amount"
    pool: IMarginPool = IMarginPool(_pool)
    assert staticcall pool.owner_of(_id) != empty(address), "pool: unknown position"
    # in the pool's order: liquidations open (not paused, no grace window), then a debt
    assert not staticcall pool.paused(), "pool: paused"
    assert block.timestamp >= (staticcall pool.controls()).grace_end, "pool: grace window"
    debt: uint256 = staticcall pool.debt_of(_id)
    assert debt > 0, "pool: no debt"
    price: uint256 = 0
    status: uint256 = 0
    price, status = staticcall pool.price_status()
    assert status == 0, "lens: invalid price"
    p: risk.RiskParams = staticcall pool.risk_params()
    coll: uint256 = staticcall pool.collateral_of(_id)
    scale: uint256 = staticcall pool.COLLATERAL_SCALE()
    value: uint256 = coll * scale * price // constants.WAD
    assert value * p.liquidation_threshold * constants.WAD // constants.BPS < debt * constants.WAD, "pool: position is healthy"
    return risk._liquidation_amounts(coll, debt, value, price, p, _max_repay, scale)


@external
@view
def preview_auto_deleverage(_pool: address, _id: uint256) -> (uint256, uint256, uint256):
    """
    @notice The repay that brings a due position to just under its protection target
            (aiming 0.005 below it, or halfway from its health to the target when that is
            closer), and what it gives; zeros when nothing is due or nothing can be done.
    @param _pool The pool.
    @param _id Position id.
    @return repay [wad], collateral out [collateral units], health after [wad].
    """
    pool: IMarginPool = IMarginPool(_pool)
    automation: address = staticcall IPoolFactory(staticcall pool.FACTORY()).automation()
    if automation == empty(address):
        return 0, 0, 0
    trigger: uint256 = 0
    target: uint256 = 0
    fee: uint256 = 0
    trigger, target, fee = staticcall IPositionAutomation(automation).protection_of(_pool, _id)
    debt: uint256 = staticcall pool.debt_of(_id)
    price: uint256 = 0
    status: uint256 = 0
    price, status = staticcall pool.price_status()
    if trigger == 0 or debt == 0 or status != 0:
        return 0, 0, 0
    p: risk.RiskParams = staticcall pool.risk_params()
    fee = min(fee, p.liquidation_bonus)
    coll: uint256 = staticcall pool.collateral_of(_id)
    scale: uint256 = staticcall pool.COLLATERAL_SCALE()
    liq_value: uint256 = coll * scale * price // constants.WAD * p.liquidation_threshold // constants.BPS
    health: uint256 = liq_value * constants.WAD // debt
    if health >= trigger:
        return 0, 0, 0
    # aim 0.005 under the target; when health is already closer to the target than that
    # (a target less than 0.005 above the trigger), halfway from health to the target
    aim: uint256 = target - 5 * 10**15
    if health >= aim:
        aim = target - (target - health) // 2
    k_threshold: uint256 = (constants.BPS + fee) * p.liquidation_threshold * 10**10  # [wad]
    if aim <= k_threshold or aim * debt <= liq_value * constants.WAD:
        # repaying at this fee cannot raise health, or there is no room below the target
        return 0, 0, 0
    # (aim x debt - liquidation value) / (aim - (1 + fee) x threshold)
    repay: uint256 = (aim * debt - liq_value * constants.WAD) // (aim - k_threshold)
    out: uint256 = repay * (constants.BPS + fee) // constants.BPS * constants.WAD // (price * scale)
    if repay == 0 or repay >= debt or out > coll:
        return 0, 0, 0
    after: uint256 = (coll - out) * scale * price // constants.WAD * p.liquidation_threshold * constants.WAD // constants.BPS // (debt - repay)
    return repay, out, after
