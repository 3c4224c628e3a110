"""Risk math of a margin pool, in integers, matching `MarginPool.vy` to the wei.

Every function here has a twin in the contracts (named in its docstring); the tests
compare the two on a real chain. Units: [wad] = 1e18, [bps] = 1e4, collateral amounts
in the token's own units, `scale` = `to_wad(collateral decimals)`.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

from bulkhead.errors import BulkheadError

WAD = 10**18
BPS = 10_000
MAX_UINT256 = 2**256 - 1
SECONDS_PER_YEAR = 365 * 86400
# the pool-level controls' bounds (`modules/risk.vy`) and the steward's cooldown bounds
# (`PoolFactory.vy`)
MAX_HAIRCUT = 5_000  # [bps]
MAX_GRACE_PERIOD = 4 * 3_600  # [seconds]
STEWARD_COOLDOWN_BOUNDS = (60, 30 * 86_400)  # [seconds]


@dataclass(frozen=True)
class RiskParams:
    """The pool's risk parameters, in the order of `risk.RiskParams` in Vyper."""

    max_ltv: int  # [bps]
    liquidation_threshold: int  # [bps]
    liquidation_bonus: int  # [bps]
    liquidation_fee: int  # [bps]
    liquidation_tip: int  # [wad]
    target_health: int  # [wad]
    min_debt: int  # [wad]
    debt_ceiling: int  # [wad]
    stability_fee: int  # [wad per second]

    def as_tuple(self) -> tuple[int, ...]:
        return astuple(self)


@dataclass(frozen=True)
class Controls:
    """A pool's risk controls, in the order of `risk.Controls` in Vyper (`pool.controls()`)."""

    position_debt_cap: int  # [wad] most debt one position may borrow up to
    haircut: int  # [bps] taken off max LTV for borrowing and withdrawing
    grace_period: int  # [seconds] liquidations wait this long after an unpause
    grace_end: int  # [seconds] timestamp before which liquidations wait

    def in_grace(self, now: int) -> bool:
        return now < self.grace_end


def borrow_ltv(max_ltv: int, haircut: int) -> int:
    """`MarginPool._check_ltv`'s limit [bps]: max LTV less the haircut, rounded down."""
    return max_ltv * (BPS - haircut) // BPS


def steward_refusal(rules: dict[str, int], current: int, haircut: int, now: int) -> str | None:
    """Why `PoolFactory.set_haircut` refuses the steward's `haircut` [bps] (None: it does
    not), given the pool's steward rules, its haircut now and the time [seconds]."""
    if rules["max_step"] == 0:
        return "no steward rules for this pool"
    if haircut > rules["max_haircut"] and haircut >= current:
        return f"a haircut of {haircut} bps is above the steward's limit of {rules['max_haircut']}"
    if abs(haircut - current) > rules["max_step"]:
        return f"a step of {abs(haircut - current)} bps is above the steward's {rules['max_step']}"
    ready = rules["last_change"] + rules["cooldown"]
    if now < ready:
        return f"the steward's cooldown runs {ready - now} s more"
    return None


class LiquidationError(BulkheadError, ValueError):
    """A liquidation the pool would refuse; `reason` is the contract's revert reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# the oracle guard's status codes (`modules/oracle_guard.vy`) and what each means
ORACLE_STATUS = {
    0: "ok",
    1: "feed call failed",
    2: "non-positive price",
    3: "incomplete round",
    4: "stale price",
    5: "price out of range",
    6: "price jump",
}


def oracle_status(code: int) -> str:
    """What an oracle status code means ("ok" for 0)."""
    return ORACLE_STATUS.get(code, f"status {code}")


def to_wad(decimals: int) -> int:
    """The factor from an amount in a token's units (or a feed's answer) with `decimals`
    decimals to wad: the pool's `scale`."""
    return 10 ** (18 - decimals)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def debt(norm: int, rate: int) -> int:
    """`MarginPool._debt`: normalised debt times rate, rounded up [wad]."""
    return ceil_div(norm * rate, WAD)


def grow(rate: int, elapsed: int, fee: int) -> int:
    """`MarginPool._grow`: rate x exp(fee x elapsed), exp as its Taylor series summed until a
    term rounds to zero (at most 64 terms), rounded down."""
    x = fee * elapsed
    term = total = WAD
    for i in range(1, 65):
        term = term * x // (i * WAD)
        if term == 0:
            break
        total += term
    return rate * total // WAD


def fee_per_second(yearly: float) -> int:
    """The per-second rate [wad] whose continuous compounding gives `yearly` (0.05 = 5 %)."""
    import math

    return int(math.log1p(yearly) / SECONDS_PER_YEAR * WAD)


def value(coll: int, price: int, scale: int) -> int:
    """`MarginPool._value`: collateral value [wad]."""
    return coll * scale * price // WAD


def health(coll: int, debt_: int, price: int, threshold: int, scale: int) -> int:
    """`MarginPool._health` [wad]; MAX_UINT256 without debt."""
    if debt_ == 0:
        return MAX_UINT256
    return value(coll, price, scale) * threshold * WAD // BPS // debt_


def is_liquidatable(coll: int, debt_: int, price: int, threshold: int, scale: int) -> bool:
    """The test `liquidate` and `positions_to_liquidate` apply (health strictly below 1)."""
    return debt_ > 0 and value(coll, price, scale) * threshold * WAD // BPS < debt_ * WAD


def liquidation_price(coll: int, debt_: int, threshold: int, scale: int) -> int:
    """`MarginPool.liquidation_price` [wad]: 0 without debt, MAX_UINT256 without collateral."""
    if debt_ == 0:
        return 0
    if coll == 0:
        return MAX_UINT256
    return ceil_div(debt_ * BPS * WAD, coll * scale * threshold)


def max_debt(coll: int, price: int, max_ltv: int, scale: int) -> int:
    """Largest debt [wad] that a position with `coll` may carry at `price` (max LTV)."""
    return value(coll, price, scale) * max_ltv // BPS


def within_max_ltv(coll: int, debt_: int, price: int, max_ltv: int, scale: int) -> bool:
    """`MarginPool._check_ltv`."""
    return debt_ * BPS <= value(coll, price, scale) * max_ltv


def max_borrow(
    coll: int,
    debt_: int,
    price: int,
    p: RiskParams,
    scale: int,
    total_debt: int,
    rate: int | None = None,
    controls: Controls | None = None,
) -> int:
    """`PoolLens.max_borrow` [wad]. Borrowing `a` adds ceil(a / rate) normalised units, so
    the debt may rise by a + ceil(rate) wei: the slack is ceil(rate) wei (2 when `rate`
    [wad] is not given, right for any rate up to 2.0). With `controls`, the haircut lowers
    the LTV limit and the position debt cap bounds the debt."""
    if controls is None:
        limit = max_debt(coll, price, p.max_ltv, scale)
    else:
        limit = min(
            max_debt(coll, price, borrow_ltv(p.max_ltv, controls.haircut), scale),
            controls.position_debt_cap,
        )
    if debt_ >= limit or total_debt >= p.debt_ceiling:
        return 0
    slack = 2 if rate is None else ceil_div(rate, WAD)
    return max(min(limit - debt_, p.debt_ceiling - total_debt), slack) - slack


def penalty_factor(p: RiskParams, debt_: int) -> int:
    """`risk._penalty_factor` [wad]: collateral value out per unit of debt repaid."""
    return (BPS + p.liquidation_fee) * (BPS + p.liquidation_bonus) * 10**10 + (
        p.liquidation_tip * WAD // debt_
    )


@dataclass(frozen=True)
class Liquidation:
    """What one liquidation does: the pool's `_liquidation_amounts`."""

    repaid: int  # [wad] debt removed from the position
    paid: int  # [wad] bhUSD burned by the liquidator, fee included
    collateral_out: int  # [collateral units] to the liquidator
    shortfall: int  # [wad] debt the collateral did not cover (reserve, then bad debt)

    @property
    def fee(self) -> int:
        """The part of `paid` that goes to the reserve [wad]: what was paid above the debt
        the collateral covered (`repaid - shortfall`)."""
        return self.paid - min(self.paid, self.repaid - self.shortfall)


def liquidation_amounts(
    coll: int,
    debt_: int,
    price: int,
    p: RiskParams,
    scale: int,
    max_repay: int = MAX_UINT256,
) -> Liquidation:
    """Mirror of `MarginPool._liquidation_amounts` (and of the checks before it)."""
    if max_repay == 0:
        raise LiquidationError("pool: zero amount")
    if debt_ == 0:
        raise LiquidationError("pool: no debt")
    val = value(coll, price, scale)
    if not val * p.liquidation_threshold * WAD // BPS < debt_ * WAD:
        raise LiquidationError("pool: position is healthy")
    k = penalty_factor(p, debt_)
    fee_plus = BPS + p.liquidation_fee
    if val * WAD <= k * debt_:
        # all the collateral for the whole debt: the keeper pays debt x (1 + fee), or the
        # collateral's worth when that is less (then the reserve covers the rest)
        paid = ceil_div(debt_ * fee_plus, BPS)
        shortfall = 0
        if val < paid:
            paid = val
            shortfall = debt_ - val * BPS // fee_plus
        if paid > max_repay:
            raise LiquidationError("pool: max repay too low")
        return Liquidation(debt_, paid, coll, shortfall)
    repaid = debt_
    k_threshold = k * p.liquidation_threshold // BPS
    if p.target_health > k_threshold:
        num = p.target_health * debt_ - val * p.liquidation_threshold * WAD // BPS
        den = p.target_health - k_threshold
        repaid = min(ceil_div(num, den), debt_)
        if debt_ - repaid < p.min_debt:
            repaid = debt_
    cap = max_repay * BPS // fee_plus
    if cap < repaid:
        if not (cap > 0 and debt_ - cap >= p.min_debt):
            raise LiquidationError("pool: max repay too low")
        repaid = cap
    paid = ceil_div(repaid * fee_plus, BPS)
    out = repaid * k // WAD * WAD // (price * scale)
    return Liquidation(repaid, paid, out, 0)


def validate(p: RiskParams) -> None:
    """`risk._validate`: raise ValueError with the contract's reason when out of bounds."""
    checks = [
        (1_000 <= p.liquidation_threshold <= 9_500, "risk: threshold out of bounds"),
        (p.max_ltv >= 500, "risk: max ltv out of bounds"),
        (p.max_ltv < p.liquidation_threshold, "risk: max ltv not below threshold"),
        (50 <= p.liquidation_bonus <= 2_500, "risk: bonus out of bounds"),
        (p.liquidation_fee <= 1_000, "risk: liquidation fee out of bounds"),
        (p.liquidation_tip <= 1_000 * WAD, "risk: tip out of bounds"),
        (WAD < p.target_health <= 3 * WAD, "risk: target health out of bounds"),
        (WAD <= p.min_debt <= 10**24, "risk: min debt out of bounds"),
        (p.debt_ceiling <= 10**33, "risk: debt ceiling out of bounds"),
        (p.stability_fee <= 21_979_553_151, "risk: stability fee out of bounds"),
    ]
    for ok, reason in checks:
        if not ok:
            raise ValueError(reason)
    if penalty_factor(p, p.min_debt) * p.liquidation_threshold >= BPS * WAD:
        raise ValueError("risk: penalty too high for threshold")


PROTECTION_TOLERANCE = 10**16  # [wad] `constants.RULE_TOLERANCE` (PositionAutomation checks it)
PROTECTION_AIM = 5 * 10**15  # [wad] keepers aim this far inside the tolerance


def deleverage_amounts(
    coll: int, debt_: int, price: int, threshold: int, fee: int, target: int, scale: int
) -> tuple[int, int, int]:
    """`PoolLens.preview_auto_deleverage`: (repay [wad], collateral out, health after [wad]).

    The repay that lands health `PROTECTION_AIM` below `target`, or halfway from health to
    `target` when health is already closer than that; zeros when impossible.
    """
    if debt_ == 0:
        return 0, 0, 0
    liq_value = value(coll, price, scale) * threshold // BPS
    health_ = liq_value * WAD // debt_
    aim = target - PROTECTION_AIM
    if health_ >= aim:
        aim = target - (target - health_) // 2
    den = aim - (BPS + fee) * threshold * 10**10
    if den <= 0 or aim * debt_ <= liq_value * WAD:
        return 0, 0, 0
    repay = (aim * debt_ - liq_value * WAD) // den
    out = repay * (BPS + fee) // BPS * WAD // (price * scale)
    if repay == 0 or repay >= debt_ or out > coll:
        return 0, 0, 0
    after = (coll - out) * scale * price // WAD * threshold * WAD // BPS // (debt_ - repay)
    return repay, out, after


def boost_amounts(
    coll: int, debt_: int, price: int, threshold: int, fee: int, target: int, scale: int
) -> tuple[int, int]:
    """(borrow [wad], collateral the keeper supplies) that lands health just above `target`.

    Mirrors `PositionAutomation.boost`: the keeper supplies collateral worth
    borrow x (1 - fee), rounded up.
    """
    liq_value = value(coll, price, scale) * threshold // BPS
    aim = target + PROTECTION_AIM
    den = aim - (BPS - fee) * threshold * 10**10
    if den <= 0 or liq_value * WAD <= aim * debt_:
        return 0, 0
    borrow = (liq_value * WAD - aim * debt_) // den
    coll_in = ceil_div(borrow * (BPS - fee) // BPS * WAD, price * scale)
    return borrow, coll_in


def top_up_amount(
    coll: int, debt_: int, price: int, threshold: int, fee: int, target: int, scale: int
) -> int:
    """Collateral to take from the owner (fee included) to land health just under `target`.

    Mirrors `PositionAutomation.top_up`: the keeper keeps `amount x fee` of it.
    """
    aim = target - PROTECTION_AIM
    if debt_ == 0:
        return 0
    # collateral value needed at the aim, in [wad]; then in collateral units, rounded up
    needed_value = ceil_div(aim * debt_ * BPS, threshold * WAD)
    have = value(coll, price, scale)
    if needed_value <= have:
        return 0
    deposit = ceil_div((needed_value - have) * WAD, price * scale)
    return ceil_div(deposit * BPS, BPS - fee)


def stop_loss_amounts(coll: int, debt_: int, price: int, fee: int, scale: int) -> tuple[int, int]:
    """`PositionAutomation.stop_loss`: (collateral to the keeper, collateral back to the owner).

    The keeper repays the whole `debt_` [wad] and receives collateral worth debt x (1 + fee)
    at `price` [wad], rounded down, and never more than the position holds; the owner gets
    the rest. `fee` [bps] is the rule's, already capped at the pool's liquidation bonus.
    """
    out = min(debt_ * (BPS + fee) // BPS * WAD // (price * scale), coll)
    return out, coll - out
