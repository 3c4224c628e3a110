"""Risk math of a margin pool, in integers, matching `MarginPool.vy` to the wei.

Every function here has a twin in the contracts (named in its docstring); the tests
compare the two on a real chain. Units: [wad] = 1e18, [bps] = 1e4, collateral amounts
in the token's own units, `scale` = 10 ** (18 - collateral decimals).
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

WAD = 10**18
BPS = 10_000
MAX_UINT256 = 2**256 - 1
SECONDS_PER_YEAR = 365 * 86400


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


class LiquidationError(ValueError):
    """A liquidation the pool would refuse; `reason` is the contract's revert reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def debt(norm: int, rate: int) -> int:
    """`MarginPool._debt`: normalised debt times rate, rounded up [wad]."""
    return ceil_div(norm * rate, WAD)


def grow(rate: int, elapsed: int, fee: int) -> int:
    """`MarginPool._grow`: rate x exp(fee x elapsed) to the third Taylor term, rounded down."""
    x = fee * elapsed
    growth = x + x * x // (2 * WAD) + x * x // WAD * x // (6 * WAD)
    return rate + rate * growth // WAD


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
    coll: int, debt_: int, price: int, p: RiskParams, scale: int, total_debt: int
) -> int:
    """`MarginPool.max_borrow` [wad]."""
    limit = max_debt(coll, price, p.max_ltv, scale)
    if debt_ >= limit or total_debt >= p.debt_ceiling:
        return 0
    return max(min(limit - debt_, p.debt_ceiling - total_debt), 1) - 1


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
        """The part of `paid` that goes to the reserve [wad]."""
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
        covered = val * WAD // k
        paid = ceil_div(covered * fee_plus, BPS)
        if paid > max_repay:
            raise LiquidationError("pool: max repay too low")
        return Liquidation(debt_, paid, coll, debt_ - covered)
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
