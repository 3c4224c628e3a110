"""The steward on a fresh Anvil: one `bulkhead deploy` per module (which names dev account 8
the steward), every test from an `evm_snapshot` of that deployment, reverted afterwards.

`cli(...)` runs `bulkhead ...` in-process (tests/cli/conftest.py's runner); `market`
moves a mock price one round at a time and `warp` moves the clock.
"""

from __future__ import annotations

import json

import pytest
from web3 import Web3

from bulkhead.chain import Sender, connect
from bulkhead.client import Client
from bulkhead.deploy import Deployment
from bulkhead.eth.accounts import STEWARD_DEV_ACCOUNT
from bulkhead.eth.rpc import Rpc
from bulkhead.node import Anvil
from tests.cli.conftest import Cli

ADMIN = 0  # governance: deploys, moves prices
BORROWER = 3  # any other account: not governance, not the steward
STEWARD = STEWARD_DEV_ACCOUNT
# [s] the longest a test waits for a process: a ceiling against a hang, never an expectation
PATIENCE = 300.0


class Chain:
    """The module's node, deployment and client, with helpers in human units."""

    def __init__(self, anvil: Anvil, cli: Cli):
        self.anvil = anvil
        self.cli = cli
        self.w3 = connect(anvil.rpc_url)
        self.deployment = Deployment.load(cli.manifest)
        self.client = Client.attach(self.w3, self.deployment)
        self.accounts = self.w3.eth.accounts
        self.admin = Sender(self.w3, self.accounts[ADMIN])

    def rpc(self, method: str, *params):
        return Rpc(self.w3.provider).request(method, params)

    def warp(self, seconds: int) -> None:
        """Move the clock; the next transaction's block carries the new time."""
        self.rpc("evm_increaseTime", seconds)

    def mine(self) -> None:
        self.rpc("evm_mine")

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def set_price(self, pool: str, usd: float) -> None:
        """A new round of `pool`'s mock feed at the next block's time."""
        feed = self.client.pool(pool).feed
        decimals = feed.functions.decimals().call()
        self.admin.transact(feed.functions.set_answer(round(usd * 10**decimals)))

    def haircut(self, pool: str) -> int:
        return self.client.controls(self.client.pool(pool)).haircut

    def rules(self, pool: str) -> dict[str, int]:
        return self.client.steward_rules(self.client.pool(pool))

    def haircut_events(self) -> list[dict]:
        """Every `HaircutSet` of the factory since the deployment, with its block time."""
        factory = self.client.factory
        logs = factory.events.HaircutSet().get_logs(from_block=self.deployment.deploy_block)
        out = []
        for log in logs:
            block = self.w3.eth.get_block(log["blockNumber"])
            out.append({**log["args"], "timestamp": block["timestamp"]})
        return out

    def run_once(self, *args: str) -> tuple[list[dict], str]:
        """`bulkhead steward run --once` (the steward's default account): its decision log
        lines (parsed) and its stdout."""
        run = self.cli.ok("steward", "run", "--once", *args)
        lines = [json.loads(line) for line in run.err.splitlines() if line.startswith("{")]
        return lines, run.out

    def nonce(self, index: int) -> int:
        return self.w3.eth.get_transaction_count(Web3.to_checksum_address(self.accounts[index]))


@pytest.fixture(scope="module")
def anvil():
    node = Anvil().start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def chain(anvil, tmp_path_factory) -> Chain:
    manifest = tmp_path_factory.mktemp("steward") / "deployment.json"
    cli = Cli(anvil.rpc_url, manifest)
    cli.ok("deploy")
    return Chain(anvil, cli)


@pytest.fixture
def fresh(chain):
    """The module's deployment as deployed; whatever the test does is undone after it."""
    snapshot = chain.rpc("evm_snapshot")
    yield chain
    chain.rpc("evm_revert", snapshot)


@pytest.fixture
def cli(chain) -> Cli:
    return chain.cli
