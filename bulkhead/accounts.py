"""Which account sends: a dev account by index, an encrypted keystore, or a key in the
environment.

Order: `--keystore FILE`, `--account N`, `BULKHEAD_PRIVATE_KEY`, then dev account 0 on a
local chain. A key is read into a `Sender` and never printed, logged or put in a message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from eth_account import Account
from web3 import Web3

from bulkhead.chain import LOCAL_CHAIN_IDS, Sender

KEY_ENV = "BULKHEAD_PRIVATE_KEY"
PASSWORD_ENV = "BULKHEAD_KEYSTORE_PASSWORD"

# Dev accounts by role on a local chain: 0 deploys (governance) and moves prices, 1-6 borrow
# in the demo, 7 runs the keeper (`keeper.tx.KEEPER_DEV_ACCOUNT`), 8 is the risk steward
# that `bulkhead deploy` and the demo name (never governance, whose haircut changes bypass
# the steward's rules), and a keeper fleet's workers take 9 and up.
STEWARD_DEV_ACCOUNT = 8


class AccountError(ValueError):
    """No usable account; the message is one line and never holds a key."""


def _from_key(w3: Web3, key: str, origin: str) -> Sender:
    try:
        return Sender(w3, "", key.strip())
    except Exception:  # the message of a failed parse may hold the key: never show it
        raise AccountError(f"{origin} does not hold a valid private key") from None


def from_keystore(
    w3: Web3,
    path: str | Path,
    password: str | None,
    prompt: Callable[[str], str] | None = None,
) -> Sender:
    """Decrypt an eth-account keystore (JSON, v3) and return a Sender signing with it."""
    path = Path(path)
    try:
        keystore = json.loads(path.read_text())
    except OSError as exc:
        raise AccountError(f"cannot read keystore {path}: {exc.strerror}") from None
    except json.JSONDecodeError:
        raise AccountError(f"keystore {path} is not JSON") from None
    if password is None:
        if prompt is None:
            raise AccountError(f"keystore {path} needs a password: set {PASSWORD_ENV}")
        password = prompt(f"password for {path.name}")
    try:
        key = Account.decrypt(keystore, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise AccountError(f"wrong password for keystore {path}") from None
        raise AccountError(f"keystore {path} is not a valid keystore") from None
    except Exception:
        raise AccountError(f"keystore {path} is not a valid keystore") from None
    return Sender(w3, "", key)


def dev_account(w3: Web3, index: int) -> Sender:
    """The node's unlocked dev account number `index` (local chains only)."""
    chain_id = w3.eth.chain_id
    if chain_id not in LOCAL_CHAIN_IDS:
        raise AccountError(
            f"--account picks a dev account of a local chain; chain id {chain_id} is not one "
            f"(use --keystore FILE or {KEY_ENV})"
        )
    dev = w3.eth.accounts
    if index < 0 or index >= len(dev):
        raise AccountError(f"no dev account {index}: the node has {len(dev)} (0 to {len(dev) - 1})")
    return Sender(w3, dev[index])


def dev_steward(w3: Web3, deployer: str) -> str | None:
    """The steward a local deployment names: dev account STEWARD_DEV_ACCOUNT, when the node
    is a local chain that holds it and it is not the deployer; None otherwise."""
    if w3.eth.chain_id not in LOCAL_CHAIN_IDS:
        return None
    dev = w3.eth.accounts
    if len(dev) <= STEWARD_DEV_ACCOUNT:
        return None
    steward = Web3.to_checksum_address(dev[STEWARD_DEV_ACCOUNT])
    return None if steward.lower() == deployer.lower() else steward


def resolve(
    w3: Web3,
    account: int | None = None,
    keystore: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> Sender:
    """The Sender for the options a user gave (see the module docstring for the order)."""
    env = os.environ if env is None else env
    if account is not None and keystore is not None:
        raise AccountError("give either --account or --keystore, not both")
    if keystore is not None:
        return from_keystore(w3, keystore, env.get(PASSWORD_ENV), prompt)
    if account is not None:
        return dev_account(w3, account)
    if env.get(KEY_ENV):
        return _from_key(w3, env[KEY_ENV], KEY_ENV)
    chain_id = w3.eth.chain_id
    if chain_id in LOCAL_CHAIN_IDS:
        return dev_account(w3, 0)
    raise AccountError(f"no account for chain id {chain_id}: use --keystore FILE or set {KEY_ENV}")
