"""`PoolFactory.steward`: the risk steward, empty until governance names one."""

from tests.conftest import ZERO_ADDRESS


def test_steward__deployed__is_empty(factory):
    # the deploy recipe fixes each pool's steward rules but names no steward
    assert factory.steward() == ZERO_ADDRESS
