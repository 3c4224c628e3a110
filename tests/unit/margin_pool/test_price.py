import ape

from tests.conftest import FEED_DECIMALS


def test_price__valid_feed__is_answer_in_wad(market):
    answer = market.feed.latestRoundData()[1]
    assert market.pool.price() == answer * 10 ** (18 - FEED_DECIMALS)


def test_price__stale_feed__reverts(weth, chain):
    chain.mine(timestamp=weth.feed.latestRoundData()[3] + 3601)
    with ape.reverts("oracle: stale price"):
        weth.pool.price()
