"""EIP-2612 permit signatures for the tests (bhUSD and the savings vault), built once."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_typed_data


def sign_permit(
    private_key,
    domain: dict,
    owner: str,
    spender: str,
    value: int,
    nonce: int,
    deadline: int,
) -> tuple[int, bytes, bytes]:
    """(v, r, s) of `owner`'s permit for `spender`; r and s as 32 bytes, leading zeros kept.

    `domain` is the EIP-712 domain: name, version, chainId, verifyingContract.
    """
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
        "domain": domain,
        "message": {
            "owner": owner,
            "spender": spender,
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    }
    signed = Account.sign_message(encode_typed_data(full_message=data), private_key)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
