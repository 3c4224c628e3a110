import ape


def test_reset_price_anchor__stranger__reverts(weth, attacker):
    with ape.reverts("pool: only factory"):
        weth.pool.reset_price_anchor(sender=attacker)


def test_reset_price_anchor__from_factory__accepts_a_jump(weth, as_factory, admin):
    price = weth.move_price(20_000, admin)  # +100 %, beyond the 50 % bound
    with ape.reverts("oracle: price jump"):
        weth.pool.price()
    tx = weth.pool.reset_price_anchor(sender=as_factory)
    (event,) = tx.decode_logs(weth.pool.PriceAnchorSet)
    assert event.price == price
    assert weth.price() == price
