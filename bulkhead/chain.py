"""Talking to a node: connect, send transactions, decode revert reasons.

`Sender` sends from one account: a node's unlocked dev account (local chains) or a
local key (signed here; the key is never printed or logged).
"""

from __future__ import annotations

from typing import Any, cast

from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from bulkhead.errors import BulkheadError
from bulkhead.eth.fees import offer as fee_offer

LOCAL_CHAIN_IDS = frozenset({31337, 1337})


class NodeError(BulkheadError, ConnectionError):
    """The node cannot be reached; the message is one line."""


class TxError(BulkheadError, RuntimeError):
    """A transaction or call the chain refused; `reason` is the revert reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def connect(rpc_url: str, timeout: float = 30) -> Web3:
    """A Web3 for `rpc_url`, checked to answer; NodeError otherwise."""
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        _ = w3.eth.chain_id  # the first request: does the node answer?
    except Exception:
        raise NodeError(f"node not reachable at {rpc_url}") from None
    return w3


def revert_reason(exc: BaseException) -> str:
    """The revert reason of a failed call, as the contract wrote it."""
    message = getattr(exc, "message", None) or (exc.args[0] if exc.args else str(exc))
    response = getattr(exc, "rpc_response", None)  # a node's refusal: its own words
    if isinstance(response, dict) and isinstance(response.get("error"), dict):
        message = response["error"].get("message") or message
    if not isinstance(message, str):
        message = str(message)
    for prefix in (
        "execution reverted: ",
        "VM Exception while processing transaction: reverted with reason string ",
    ):
        if prefix in message:
            message = message.split(prefix, 1)[1]
    return message.strip().strip("'")


class Sender:
    """Sends transactions from one account and waits for their receipts."""

    def __init__(self, w3: Web3, address: str, private_key: str | bytes | None = None):
        self.w3 = w3
        self._account = Account.from_key(private_key) if private_key else None
        self.address = Web3.to_checksum_address(self._account.address if self._account else address)
        self.sent: list[str] = []  # hashes of the transactions mined, in order

    def __repr__(self) -> str:  # never show the key
        return f"Sender({self.address})"

    def _send(self, tx: dict[str, Any]) -> Any:
        tx = {**tx, "from": self.address}
        if "gas" not in tx:
            try:
                # the margin covers a first write (22.1k) that the estimate did not see,
                # e.g. an accrual that first fills the reserve one block later
                tx["gas"] = int(self.w3.eth.estimate_gas(cast(Any, tx)) * 1.2) + 50_000
            except ContractLogicError as exc:
                raise TxError(revert_reason(exc)) from None
            except (ValueError, Web3RPCError) as exc:
                raise TxError(revert_reason(exc)) from None
        try:
            tx_hash = self._submit(tx)
        except Web3RPCError as exc:  # refused by the node (funds, nonce, fees)
            raise TxError(revert_reason(exc)) from None
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] != 1:
            raise TxError(f"transaction {Web3.to_hex(tx_hash)} reverted")
        self.sent.append(Web3.to_hex(tx_hash))
        return receipt

    def _submit(self, tx: dict[str, Any]) -> Any:
        if self._account is None:
            tx_hash = self.w3.eth.send_transaction(cast(Any, tx))
        else:
            tx.setdefault("nonce", self.w3.eth.get_transaction_count(self.address, "pending"))
            tx.setdefault("chainId", self.w3.eth.chain_id)
            if "gasPrice" not in tx and "maxFeePerGas" not in tx:
                base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
                tip = self.w3.eth.max_priority_fee if base else 0
                tx["maxFeePerGas"], tx["maxPriorityFeePerGas"] = fee_offer(base, tip)
            signed = self._account.sign_transaction(tx)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        return tx_hash

    def transact(self, fn: Any, value: int = 0) -> Any:
        """Send a contract function call; TxError with the revert reason if it fails."""
        try:
            tx = fn.build_transaction({"from": self.address, "value": value, "gas": 0})
        except ContractLogicError as exc:
            raise TxError(revert_reason(exc)) from None
        tx.pop("gas", None)
        for key in ("nonce", "maxFeePerGas", "maxPriorityFeePerGas", "gasPrice"):
            tx.pop(key, None)
        return self._send(tx)

    def deploy(self, contract: Any, *args: Any) -> Any:
        """Deploy `contract` (a web3 contract factory) and return it at its address."""
        data = contract.constructor(*args).data_in_transaction
        receipt = self._send({"data": data})
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=contract.abi)

    def deploy_blueprint(self, blueprint_bytecode: str) -> str:
        """Deploy ERC-5202 blueprint code and return its address.

        Vyper's `blueprint_bytecode` already carries the deploy preamble that returns the
        `0xFE7100` blueprint as runtime code, so it is sent as is.
        """
        receipt = self._send({"data": blueprint_bytecode})
        return receipt["contractAddress"]


# names for the usual local nodes, as `--rpc-url` (or `--network`) takes them
NETWORK_NAMES = {
    "local": "http://127.0.0.1:8545",
    "anvil": "http://127.0.0.1:8545",
    "hardhat": "http://127.0.0.1:8545",
}


def resolve_rpc_url(value: str) -> str:
    """A URL, a local node's name (`local`, `anvil`, `hardhat`: port 8545) or an ape network
    choice that ends in a URL (`ethereum:local:http://127.0.0.1:8545`); ValueError if none."""
    text = value.strip()
    if text.lower() in NETWORK_NAMES:
        return NETWORK_NAMES[text.lower()]
    for scheme in ("http://", "https://"):
        if scheme in text and not text.startswith(scheme):
            text = text[text.index(scheme) :]  # an ape choice: keep its URL
    if not text.startswith(("http://", "https://")):
        shown = value if len(value) <= 40 else value[:37] + "..."
        names = ", ".join(NETWORK_NAMES)
        raise ValueError(f"{shown!r} is neither an http(s) URL nor one of {names}")
    return text
