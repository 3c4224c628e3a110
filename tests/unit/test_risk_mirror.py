"""bulkhead/risk.py is the integer mirror of the contracts' risk math: compare it with the
chain, to the wei, on positions across the range of LTVs, at several prices and rates."""

import ape
import pytest

from bulkhead import risk
from tests.conftest import MAX_UINT256, WAD, YEAR

# LTVs as a fraction of each pool's max LTV [bps of max LTV]
LTVS = (3_000, 8_500, 9_600, 9_999)
# prices as a fraction of the first one [bps]; each step stays within the jump bound
PRICES = (10_000, 9_000, 8_300, 6_000)


def compare(market, ids, lens) -> dict:
    """Check every mirror function against the chain for `ids` at the current block;
    return how many positions took each liquidation path."""
    pool, p, scale = market.pool, market.params, market.scale
    price, rate, total_debt = market.price(), pool.rate(), pool.total_debt()
    listed = set(pool.positions_to_liquidate(1, 5000))
    # collateral, debt and health of every position in one call (the lens reads the pool)
    page = {v.id: v for v in lens.positions(pool, 1, 1000)}
    paths = {"healthy": 0, "partial": 0, "whole": 0, "shortfall": 0}
    capped = False  # a max_repay below the need is tried on one position per call
    for i in ids:
        coll, debt = page[i].collateral, page[i].debt
        health = risk.health(coll, debt, price, p.liquidation_threshold, scale)
        assert page[i].health == health
        assert pool.health(i) == health
        assert debt == risk.debt(pool.normalised_debt_of(i), rate)
        assert pool.liquidation_price(i) == risk.liquidation_price(
            coll, debt, p.liquidation_threshold, scale
        )
        assert lens.max_borrow(pool, i) == risk.max_borrow(
            coll, debt, price, p, scale, total_debt, rate
        )
        liquidatable = risk.is_liquidatable(coll, debt, price, p.liquidation_threshold, scale)
        assert (i in listed) == liquidatable
        if not liquidatable:
            reason = "pool: no debt" if debt == 0 else "pool: position is healthy"
            with pytest.raises(risk.LiquidationError, match=reason):
                risk.liquidation_amounts(coll, debt, price, p, scale)
            paths["healthy"] += 1
            continue
        for max_repay in (MAX_UINT256,) if capped else (MAX_UINT256, debt // 3):
            capped = True
            try:
                expected = risk.liquidation_amounts(coll, debt, price, p, scale, max_repay)
            except risk.LiquidationError as refused:
                with ape.reverts(refused.reason):
                    lens.preview_liquidate(pool, i, max_repay)
                continue
            assert tuple(lens.preview_liquidate(pool, i, max_repay)) == (
                expected.repaid,
                expected.paid,
                expected.collateral_out,
                expected.shortfall,
            )
            if max_repay == MAX_UINT256:
                path = (
                    "shortfall"
                    if expected.shortfall
                    else "whole"
                    if expected.repaid == debt
                    else "partial"
                )
                paths[path] += 1
    return paths


def test_risk_mirror__positions_and_prices__match_the_chain_to_the_wei(
    market, borrower, keeper, admin, lens, chain
):
    p = market.params
    first_price = market.price()
    ids = [market.open_at_ltv(borrower, 20_000 * WAD, p.max_ltv * ltv // 10_000) for ltv in LTVS]
    ids.append(market.open(keeper, market.unit, 0))  # no debt
    ids.append(market.open_at_ltv(keeper, 200 * WAD, p.max_ltv))  # small: the tip weighs most
    paths = {"healthy": 0, "partial": 0, "whole": 0, "shortfall": 0}
    for ratio in PRICES:
        market.set_price_wad(first_price * ratio // 10_000, admin)
        for path, n in compare(market, ids, lens).items():
            paths[path] += n
    # a year later (another rate), at the last price
    chain.pending_timestamp += YEAR
    market.refresh(admin)
    for path, n in compare(market, ids, lens).items():
        paths[path] += n
    # the positions and prices above cover every path of the liquidation math
    assert all(n > 0 for n in paths.values()), paths


def test_risk_mirror__validate__agrees_with_the_factory(weth, factory, admin):
    # every bound and its reason is checked one by one in pool_factory/test_set_risk_params;
    # here: a valid set passes both, and the mirror's penalty rule matches the chain's
    base = weth.params
    for bonus in (50, 500, 1_000, 1_500, 2_000):
        params = risk.RiskParams(**{**base.__dict__, "liquidation_bonus": bonus})
        try:
            risk.validate(params)
        except ValueError as refused:
            with ape.reverts(str(refused)):
                factory.set_risk_params(weth.pool, params.as_tuple(), sender=admin)
        else:
            factory.set_risk_params(weth.pool, params.as_tuple(), sender=admin)
            assert weth.params == params
