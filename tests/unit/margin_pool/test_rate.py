from bulkhead import risk
from tests.conftest import WAD


def test_rate__view_between_accruals__equals_what_accrue_stores(weth, admin, chain):
    tx = weth.pool.accrue(sender=admin)
    stored = weth.pool.rate()
    start = chain.blocks[tx.block_number].timestamp
    chain.mine(timestamp=start + 12345)
    assert weth.pool.rate() == risk.grow(stored, 12345, weth.params.stability_fee)
    chain.pending_timestamp = chain.blocks.head.timestamp
    assert weth.pool.accrue(sender=admin).return_value == weth.pool.rate()


def test_rate__deployed__starts_at_one(weth):
    assert WAD <= weth.pool.rate() < WAD + WAD // 10**6
