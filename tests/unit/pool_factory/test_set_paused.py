import ape

from tests.conftest import MAX_UINT256, WAD


def test_set_paused__paused_pool__blocks_open_borrow_and_liquidations_only(
    weth, factory, admin, borrower, liquidator
):
    pool = weth.pool
    weth.mint_bhusd(liquidator, 30_000 * WAD)
    p = weth.params
    position_id = weth.open_at_ltv(borrower, 20_000 * WAD, p.max_ltv)
    weth.mint_bhusd(borrower, 1_000 * WAD)
    weth.fund(borrower, weth.unit)

    tx = factory.set_paused(pool, True, sender=admin)

    assert pool.paused() and tx.decode_logs(pool.Paused)[0].paused
    with ape.reverts("pool: paused"):
        pool.open(weth.unit, 0, sender=borrower)
    with ape.reverts("pool: paused"):
        pool.borrow(position_id, 100 * WAD, sender=borrower)
    pool.deposit(position_id, weth.unit, sender=borrower)
    pool.withdraw(position_id, weth.unit // 2, sender=borrower)
    pool.repay(position_id, 500 * WAD, sender=borrower)
    weth.move_price(9_000 * WAD // pool.health(position_id), admin)  # to health 0.9
    assert pool.health(position_id) < WAD
    with ape.reverts("pool: paused"):
        pool.liquidate(position_id, MAX_UINT256, 0, sender=liquidator)
    with ape.reverts("pool: paused"):
        pool.liquidate_many([position_id], MAX_UINT256, 0, sender=liquidator)
    pool.close(position_id, sender=borrower)
    assert pool.collateral_of(position_id) == 0


def test_set_paused__unpause__starts_the_pools_grace_window(weth, factory, admin, chain):
    factory.set_paused(weth.pool, True, sender=admin)
    tx = factory.set_paused(weth.pool, False, sender=admin)
    controls = weth.pool.controls()
    assert controls.grace_period == 1_800  # bulkhead/configs/local.toml
    assert controls.grace_end == chain.blocks[tx.block_number].timestamp + 1_800


def test_set_paused__unpause__opens_again(weth, factory, admin, borrower):
    factory.set_paused(weth.pool, True, sender=admin)
    tx = factory.set_paused(weth.pool, False, sender=admin)
    assert not weth.pool.paused() and not tx.decode_logs(weth.pool.Paused)[0].paused
    weth.open(borrower, weth.unit, 100 * WAD)


def test_set_paused__stranger__reverts(weth, factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_paused(weth.pool, True, sender=attacker)


def test_set_paused__unknown_pool__reverts(factory, admin, stablecoin):
    with ape.reverts("factory: unknown pool"):
        factory.set_paused(stablecoin, True, sender=admin)
