import ape

from tests.conftest import ZERO_ADDRESS


def test_init__zero_stablecoin__reverts(project, deployment, admin):
    with ape.reverts("factory: zero address"):
        project.PoolFactory.deploy(ZERO_ADDRESS, deployment.pool_blueprint, sender=admin)


def test_init__zero_blueprint__reverts(project, deployment, admin):
    with ape.reverts("factory: zero address"):
        project.PoolFactory.deploy(deployment.stablecoin, ZERO_ADDRESS, sender=admin)


def test_init__deployment__wires_stablecoin_blueprint_and_owner(factory, deployment, admin):
    assert factory.STABLECOIN() == deployment.stablecoin
    assert factory.POOL_BLUEPRINT() == deployment.pool_blueprint
    assert factory.owner() == admin
