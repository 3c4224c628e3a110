def test_paused__deployed__is_false(markets):
    assert not any(m.pool.paused() for m in markets.values())
