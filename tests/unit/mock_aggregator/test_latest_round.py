"""MockAggregator's round id, reverting flag and time bounds."""

import ape

FEED_UNIT = 10**8
MAX_STARTED_AT = 2**48 - 1
MAX_UPDATED_AT = 2**40 - 1


def test_latest_round__set_answer__counts_up(weth, admin):
    rid = weth.feed.latestRound()
    weth.feed.set_answer(3_000 * FEED_UNIT, sender=admin)
    assert weth.feed.latestRound() == rid + 1 == weth.feed.latestRoundData()[0]


def test_latest_round__reverting__still_answers(weth, admin):
    # latestRound reads only the round id, like Chainlink's
    rid = weth.feed.latestRound()
    weth.feed.set_reverting(True, sender=admin)
    assert weth.feed.reverting()
    assert weth.feed.latestRound() == rid


def test_set_reverting__off_again__keeps_the_round(weth, admin):
    before = weth.feed.latestRoundData()
    weth.feed.set_reverting(True, sender=admin)
    weth.feed.set_reverting(False, sender=admin)
    assert not weth.feed.reverting()
    assert weth.feed.latestRoundData() == before


def test_set_round_data__largest_times__round_trip(weth, admin):
    weth.feed.set_round_data(5, FEED_UNIT, MAX_STARTED_AT, MAX_UPDATED_AT, 5, sender=admin)
    assert weth.feed.latestRoundData() == (5, FEED_UNIT, MAX_STARTED_AT, MAX_UPDATED_AT, 5)


def test_set_round_data__started_at_above_48_bits__reverts(weth, admin):
    with ape.reverts("mock: time too large"):
        weth.feed.set_round_data(5, FEED_UNIT, MAX_STARTED_AT + 1, 1, 5, sender=admin)


def test_set_round_data__updated_at_above_40_bits__reverts(weth, admin):
    with ape.reverts("mock: time too large"):
        weth.feed.set_round_data(5, FEED_UNIT, 1, MAX_UPDATED_AT + 1, 5, sender=admin)


def test_set_updated_at__moves_only_the_update_time(weth, admin):
    rid, answer, started, _, answered = weth.feed.latestRoundData()
    weth.feed.set_updated_at(1_234, sender=admin)
    assert weth.feed.latestRoundData() == (rid, answer, started, 1_234, answered)


def test_set_updated_at__above_40_bits__reverts(weth, admin):
    with ape.reverts("mock: time too large"):
        weth.feed.set_updated_at(MAX_UPDATED_AT + 1, sender=admin)
