import ape

from tests.conftest import ZERO_ADDRESS


def test_accept_ownership__pending_owner__takes_over_without_minting(
    stablecoin, keeper, as_factory
):
    stablecoin.transfer_ownership(keeper, sender=as_factory)
    tx = stablecoin.accept_ownership(sender=keeper)
    assert stablecoin.owner() == keeper
    (event,) = tx.decode_logs(stablecoin.OwnershipTransferred)
    assert (event.previous_owner, event.new_owner) == (as_factory.address, keeper)
    assert stablecoin.pending_owner() == ZERO_ADDRESS
    assert not stablecoin.is_minter(keeper)
    with ape.reverts("ownable: caller is not the owner"):
        stablecoin.set_minter(keeper, True, sender=as_factory)


def test_accept_ownership__wrong_accepter__reverts(
    stablecoin, factory, keeper, attacker, as_factory
):
    stablecoin.transfer_ownership(keeper, sender=as_factory)
    with ape.reverts("ownable_2step: caller is not the new owner"):
        stablecoin.accept_ownership(sender=attacker)
    assert stablecoin.owner() == factory.address


def test_accept_ownership__nothing_pending__reverts(stablecoin, factory, keeper):
    with ape.reverts("ownable_2step: caller is not the new owner"):
        stablecoin.accept_ownership(sender=keeper)
    assert stablecoin.owner() == factory.address


def test_renounce_ownership__not_exported__absent(stablecoin):
    # bhUSD must never lose its owner: only the two-step transfer is exported
    names = {abi.name for abi in stablecoin.contract_type.abi if abi.type == "function"}
    assert "renounce_ownership" not in names
    assert {"transfer_ownership", "accept_ownership", "pending_owner"} <= names
