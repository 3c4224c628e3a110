import ape

from tests import permit
from tests.conftest import WAD


def sign_permit(stablecoin, owner, spender, value: int, nonce: int, deadline: int, chain_id: int):
    domain = {
        "name": "Bulkhead USD",
        "version": "1",
        "chainId": chain_id,
        "verifyingContract": stablecoin.address,
    }
    return permit.sign_permit(
        owner.private_key, domain, owner.address, spender.address, value, nonce, deadline
    )


def test_permit__valid_signature__sets_allowance_and_nonce(
    stablecoin, weth, borrower, keeper, chain
):
    weth.mint_bhusd(borrower, 500 * WAD)
    deadline = chain.pending_timestamp + 3600
    v, r, s = sign_permit(stablecoin, borrower, keeper, 300 * WAD, 0, deadline, chain.chain_id)

    stablecoin.permit(borrower, keeper, 300 * WAD, deadline, v, r, s, sender=keeper)

    assert stablecoin.allowance(borrower, keeper) == 300 * WAD
    assert stablecoin.nonces(borrower) == 1
    stablecoin.transferFrom(borrower, keeper, 300 * WAD, sender=keeper)
    assert stablecoin.balanceOf(keeper) == 300 * WAD


def test_permit__expired_deadline__reverts(stablecoin, borrower, keeper, chain):
    deadline = chain.blocks.head.timestamp - 1
    v, r, s = sign_permit(stablecoin, borrower, keeper, WAD, 0, deadline, chain.chain_id)
    with ape.reverts("erc20: expired deadline"):
        stablecoin.permit(borrower, keeper, WAD, deadline, v, r, s, sender=keeper)


def test_permit__replayed__reverts(stablecoin, borrower, keeper, chain):
    deadline = chain.pending_timestamp + 3600
    v, r, s = sign_permit(stablecoin, borrower, keeper, WAD, 0, deadline, chain.chain_id)
    stablecoin.permit(borrower, keeper, WAD, deadline, v, r, s, sender=keeper)
    with ape.reverts("erc20: invalid signature"):
        stablecoin.permit(borrower, keeper, WAD, deadline, v, r, s, sender=keeper)


def test_permit__signed_by_someone_else__reverts(stablecoin, borrower, attacker, chain):
    deadline = chain.pending_timestamp + 3600
    v, r, s = sign_permit(stablecoin, attacker, attacker, WAD, 0, deadline, chain.chain_id)
    with ape.reverts("erc20: invalid signature"):
        stablecoin.permit(borrower, attacker, WAD, deadline, v, r, s, sender=attacker)


def test_permit__domain_separator__is_the_eip712_domain(stablecoin, chain):
    from eth_abi import encode
    from eth_utils import keccak

    domain_type = (
        b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(domain_type),
                keccak(b"Bulkhead USD"),
                keccak(b"1"),
                chain.chain_id,
                stablecoin.address,
            ],
        )
    )
    assert stablecoin.DOMAIN_SEPARATOR() == expected
