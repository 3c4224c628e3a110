import ape
from eth_account import Account
from eth_account.messages import encode_typed_data

from tests.conftest import WAD


def sign_permit(stablecoin, owner, spender, value: int, nonce: int, deadline: int, chain_id: int):
    data = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": "Bulkhead USD",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": stablecoin.address,
        },
        "message": {
            "owner": owner.address,
            "spender": spender.address,
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    }
    signed = Account.sign_message(encode_typed_data(full_message=data), owner.private_key)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


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
