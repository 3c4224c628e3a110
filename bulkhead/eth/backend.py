"""Where the deployment recipe (`bulkhead.deploy.deploy_on`) runs: the `Backend` it needs,
and `Web3Backend`, which sends its steps as signed transactions to a JSON-RPC node. The
fuzzer's titanoboa backend is `tests/fuzz/system.py` `BoaBackend`."""

from __future__ import annotations

from typing import Any, Protocol

from web3 import Web3

from bulkhead import artifacts
from bulkhead.chain import LOCAL_CHAIN_IDS, Sender


class Backend(Protocol):
    """Where the deployment recipe runs: a JSON-RPC node through web3 (`Web3Backend`), or
    titanoboa's in-process EVM for the fuzzer (`tests/fuzz/system.py`). Contracts are named
    as in `artifacts.DEPLOYABLE`; every address is a checksummed string."""

    address: str  # the deployer: it pays, and governs what it deploys

    def chain_id(self) -> int: ...
    def is_local(self) -> bool: ...  # a dev chain, where mock tokens and feeds are allowed
    def first_block(self) -> int: ...  # the block the first deployment lands in
    def block_hash(self, number: int) -> str: ...  # "" where there is no node to tell apart
    def deploy(self, name: str, *args: Any) -> str: ...
    def deploy_blueprint(self, name: str) -> str: ...
    def transact(self, name: str, address: str, function: str, *args: Any) -> None: ...
    def call(self, name: str, address: str, function: str, *args: Any) -> Any: ...


class Web3Backend:
    """`Backend` over web3: each step is one transaction by `sender`
    (`chain.Sender`), waited for, with the revert reason if it fails."""

    def __init__(self, w3: Web3, sender: Sender):
        self.w3, self.sender = w3, sender
        self.address: str = sender.address
        self._contracts: dict[tuple[str, str], Any] = {}

    def _at(self, name: str, address: str) -> Any:
        key = (name, address.lower())
        if key not in self._contracts:
            self._contracts[key] = artifacts.contract(self.w3, name, address)
        return self._contracts[key]

    def chain_id(self) -> int:
        return self.w3.eth.chain_id

    def is_local(self) -> bool:
        return self.chain_id() in LOCAL_CHAIN_IDS

    def first_block(self) -> int:
        return self.w3.eth.block_number + 1

    def block_hash(self, number: int) -> str:
        return Web3.to_hex(self.w3.eth.get_block(number)["hash"])

    def deploy(self, name: str, *args: Any) -> str:
        art = artifacts.load(name)
        factory = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        return self.sender.deploy(factory, *args).address

    def deploy_blueprint(self, name: str) -> str:
        return self.sender.deploy_blueprint(artifacts.load(name).blueprint)

    def transact(self, name: str, address: str, function: str, *args: Any) -> None:
        self.sender.transact(getattr(self._at(name, address).functions, function)(*args))

    def call(self, name: str, address: str, function: str, *args: Any) -> Any:
        return getattr(self._at(name, address).functions, function)(*args).call()
