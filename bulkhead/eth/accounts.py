"""The package's one account resolver: which account sends, from what a user gave.

A dev account by index, an encrypted keystore, a private key (given, or in the
environment), else a role's dev account on a local chain. Order: `--keystore FILE`,
`--account N`, a given key, `BULKHEAD_PRIVATE_KEY`, then the role's dev account (0 for the
CLI, `KEEPER_DEV_ACCOUNT` for the keeper). A key is read into an `Identity` and never
printed, logged or put in a message.

`identify` answers with the address and the key (None: the node holds the account
unlocked); `resolve` turns that into the CLI's `Sender`, the keeper turns it into its signer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from web3 import Web3

from bulkhead.chain import LOCAL_CHAIN_IDS, Sender
from bulkhead.errors import BulkheadError

KEY_ENV = "BULKHEAD_PRIVATE_KEY"
PASSWORD_ENV = "BULKHEAD_KEYSTORE_PASSWORD"

# Dev accounts by role on a local chain: 0 deploys (governance) and moves prices, 1-6 borrow
# in the demo, 7 runs the keeper, 8 is the risk steward that `bulkhead deploy` and the demo
# name (never governance, whose haircut changes bypass the steward's rules), and a keeper
# fleet's workers take 9 and up.
KEEPER_DEV_ACCOUNT = 7
STEWARD_DEV_ACCOUNT = 8


class AccountError(BulkheadError, ValueError):
    """No usable account; the message is one line and never holds a key."""


@dataclass(frozen=True)
class Identity:
    """An account that can send: its address, and its key unless the node holds it."""

    address: str
    key: bytes | None = field(default=None, repr=False)


def _from_key(key: str | bytes, origin: str) -> Identity:
    try:
        account = Account.from_key(key.strip() if isinstance(key, str) else key)
    except Exception:  # the message of a failed parse may hold the key: never show it
        raise AccountError(f"{origin} does not hold a valid private key") from None
    return Identity(account.address, bytes(account.key))


def from_keystore(
    path: str | Path, password: str | None, prompt: Callable[[str], str] | None = None
) -> Identity:
    """Decrypt an eth-account keystore (JSON, v3)."""
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
    return _from_key(key, f"keystore {path}")


def dev_identity(w3: Web3, index: int) -> Identity:
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
    return Identity(Web3.to_checksum_address(dev[index]))


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


def identify(
    w3: Web3,
    account: int | None = None,
    keystore: str | Path | None = None,
    private_key: str | None = None,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
    password: str | None = None,
    default_account: int = 0,
) -> Identity:
    """The account for the options a user gave (see the module docstring for the order);
    `default_account` is the role's dev account on a local chain when none was chosen."""
    env = os.environ if env is None else env
    if account is not None and keystore is not None:
        raise AccountError("give either --account or --keystore, not both")
    if keystore is not None:
        return from_keystore(keystore, password or env.get(PASSWORD_ENV), prompt)
    if account is not None:
        return dev_identity(w3, account)
    if private_key:
        return _from_key(private_key, "the key given")
    if env.get(KEY_ENV):
        return _from_key(env[KEY_ENV], KEY_ENV)
    chain_id = w3.eth.chain_id
    if chain_id in LOCAL_CHAIN_IDS:
        return dev_identity(w3, default_account)
    raise AccountError(f"no account for chain id {chain_id}: use --keystore FILE or set {KEY_ENV}")


def sender(w3: Web3, identity: Identity) -> Sender:
    """The CLI's Sender for an identity."""
    return Sender(w3, identity.address, identity.key)


def resolve(
    w3: Web3,
    account: int | None = None,
    keystore: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> Sender:
    """The Sender for the options a user gave (see the module docstring for the order)."""
    return sender(w3, identify(w3, account, keystore, env=env, prompt=prompt))
