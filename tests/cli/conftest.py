"""End-to-end fixtures for the `bulkhead` CLI: a real Anvil per test module, started here
through `bulkhead.node.Anvil` (not ape's provider), and one `bulkhead deploy` per module.

`cli(...)` runs a command in-process through click's test runner with the module's node
and manifest in the environment; `cli.error(...)` asserts the one-line error contract.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account
from web3 import Web3

from bulkhead.chain import connect
from bulkhead.cli import cli as bulkhead_cli
from bulkhead.client import Client
from bulkhead.deploy import Deployment
from bulkhead.node import Anvil

# dev account indexes by role, as in tests/conftest.py
ADMIN, BORROWER, LIQUIDATOR, KEEPER, ATTACKER, OPERATOR = range(6)

CLEAN_ENV = {
    "BULKHEAD_RPC_URL": None,
    "BULKHEAD_MANIFEST": None,
    "BULKHEAD_PRIVATE_KEY": None,
    "BULKHEAD_KEYSTORE_PASSWORD": None,
}


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:  # click 8.2 keeps stderr apart by itself
        return CliRunner()


class Cli:
    """Runs `bulkhead ...` against one node and one manifest."""

    def __init__(self, rpc_url: str, manifest: Path):
        self.rpc_url = rpc_url
        self.manifest = manifest

    def __call__(self, *args, env: dict | None = None, input: str | None = None) -> Run:
        full_env = {
            **CLEAN_ENV,
            "BULKHEAD_RPC_URL": self.rpc_url,
            "BULKHEAD_MANIFEST": str(self.manifest),
            **(env or {}),
        }
        result = _runner().invoke(
            bulkhead_cli, [str(a) for a in args], env=full_env, input=input, catch_exceptions=False
        )
        return Run(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args, **kwargs) -> Run:
        run = self(*args, **kwargs)
        assert run.code == 0, f"exit {run.code}: {run.err}"
        return run

    def json(self, *args, **kwargs):
        return self.ok(*args, "--json", **kwargs).json

    def error(self, *args, **kwargs) -> str:
        """Run a command that must fail: non-zero exit, one line on stderr, no traceback."""
        run = self(*args, **kwargs)
        assert run.code != 0, f"expected a failure, got: {run.out}"
        lines = run.err.strip().splitlines()
        assert len(lines) == 1, run.err
        assert lines[0].startswith("error: "), run.err
        assert "Traceback" not in run.err + run.out
        return lines[0].removeprefix("error: ")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# [s] how long a started node or process may take: a ceiling against a hang, never an
# expectation (a loaded machine takes many times longer than a quiet one)
PATIENCE = 300.0


def wait_for_port(port: int, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing answers on port {port}")


@pytest.fixture(scope="module")
def anvil():
    node = Anvil().start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def w3(anvil) -> Web3:
    return connect(anvil.rpc_url)


@pytest.fixture(scope="module")
def cli(anvil, tmp_path_factory) -> Cli:
    """The CLI with the default system deployed once on this module's Anvil."""
    manifest = tmp_path_factory.mktemp("cli") / "deployment.json"
    runner = Cli(anvil.rpc_url, manifest)
    runner.ok("deploy")
    return runner


@pytest.fixture(scope="module")
def deployment(cli) -> Deployment:
    return Deployment.load(cli.manifest)


@pytest.fixture(scope="module")
def client(w3, deployment) -> Client:
    return Client.attach(w3, deployment)


@pytest.fixture(scope="module")
def dev(w3) -> list[str]:
    """The node's dev accounts: 0 deploys; tests name the others by role."""
    return w3.eth.accounts


@pytest.fixture
def fresh_key(w3, dev) -> str:
    """A new private key whose account holds some ETH (never a dev account's key)."""
    account = Account.create()
    tx = w3.eth.send_transaction({"from": dev[0], "to": account.address, "value": 10**20})
    w3.eth.wait_for_transaction_receipt(tx)
    return account.key.hex()
