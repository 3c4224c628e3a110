"""Leases and liveness in a real redis-server (no chain)."""

from __future__ import annotations

import time

import pytest

from bulkhead.keeper.fleet.board import Board
from bulkhead.keeper.fleet.partition import Partition
from bulkhead.keeper.fleet.server import RedisServer

P, Q = Partition("0xA", 0), Partition("0xA", 1)


@pytest.fixture
def redis_url():
    with RedisServer() as server:
        yield server.url


def test_claim__free_partition__taken_then_refused_to_another(redis_url):
    w1, w2 = Board(redis_url, "t", "w1"), Board(redis_url, "t", "w2")
    assert w1.claim({P: None}) == {P}
    assert w2.claim({P: None}) == set()  # held by w1, and w2 did not expect w1
    assert w1.claim({P: "w1"}) == {P}  # renewal
    view = w2.view([P, Q])
    assert view.leases == {P: "w1"} and view.last == {P: "w1"}


def test_claim__from_the_expected_holder__taken_only_from_it(redis_url):
    w1, w2, w3 = (Board(redis_url, "t", w) for w in ("w1", "w2", "w3"))
    w1.claim({P: None})
    assert w3.claim({P: "w2"}) == set()  # expected w2, but w1 holds it
    assert w2.claim({P: "w1"}) == {P}
    assert w1.still_mine({P}) == set()  # w1's fence fails from now on


def test_release__only_own_leases__and_the_last_holder_forgotten(redis_url):
    w1, w2 = Board(redis_url, "t", "w1"), Board(redis_url, "t", "w2")
    w1.claim({P: None})
    assert w2.release({P}) == 0
    assert w1.release({P}) == 1
    view = w2.view([P])
    assert view.leases == {} and view.last == {}


def test_view__closed_connection__worker_no_longer_live(redis_url):
    w1, w2 = Board(redis_url, "t", "w1", grace_s=0), Board(redis_url, "t", "w2", grace_s=0)
    w1.ping(), w2.ping()
    assert w2.view([]).live == ["w1", "w2"]
    w1.close()
    assert w2.view([]).live == ["w2"]


def test_lease_ttl__not_renewed__expires_the_last_holder_kept(redis_url):
    w1 = Board(redis_url, "t", "w1", ttl_ms=60_000)
    w1.claim({P: None})
    assert 0 < w1.redis.pttl(w1.lease_key(P)) <= 60_000
    w1.redis.pexpire(w1.lease_key(P), 1)  # as if a minute passed without a renewal
    deadline = time.monotonic() + 60  # a ceiling: Redis expires the key within milliseconds
    while w1.redis.exists(w1.lease_key(P)):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert w1.view([P]).leases == {}
    assert w1.view([P]).last == {P: "w1"}  # the taker still waits for w1's transactions
