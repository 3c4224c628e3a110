"""Keeper fleet tests: a real Anvil, a real redis-server, real `silverback` processes.

One Anvil per session holds the book (2,000 positions over three pools, protections on some)
and the funded worker accounts; each test starts from an `evm_snapshot` of it. Blocks are
mined in lock-step (`Lockstep`): automine off, and a block is mined only when every live
worker has stepped at the head, so counts of blocks never depend on how busy the machine is.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass

import pytest
from web3 import Web3

from bulkhead.chain import Sender
from bulkhead.client import Client
from bulkhead.keeper.fleet.local import LocalFleet, dev_workers
from bulkhead.keeper.fleet.server import INSTALL_HINT
from bulkhead.node import Anvil
from bulkhead.risk import WAD
from tests.keeper.conftest import Market, Node

# [s] the longest a test waits for anything: a ceiling against a hang, never an expectation
PATIENCE = 300.0
CRASH = 0.65  # every price falls 35 %
COUNTS = {"WETH": 1000, "WBTC": 600, "VOL": 400}
PROTECTED_EVERY = 25  # every 25th position carries a deleverage protection
DELEVERAGE = (int(1.5 * WAD), int(1.8 * WAD), 100)  # trigger, target [wad], max fee [bps]
BORROWER = 1
WORKER_ACCOUNTS = (9, 10, 11, 12)  # dev accounts of the fleet (never the demo's 0-8)
PARTITION_SIZE = 250  # position ids per partition: 4 + 3 + 2 (+1 for the workers' own)


def pytest_configure(config):
    if shutil.which("redis-server") is None:
        raise pytest.UsageError(f"the fleet tests need redis-server: {INSTALL_HINT}")


@dataclass
class Book:
    ids: dict[str, list[int]]  # pool name -> ids of the book's positions
    protected: dict[str, list[int]]  # pool name -> ids with a deleverage protection


def _healths(m: Market, n: int, rng: random.Random) -> list[float]:
    """From just above max LTV to 2.2, none within 0.02 of the crash boundary; about 40 %
    fall below 1.0 with the crash."""
    p = m.params
    low = p.liquidation_threshold / p.max_ltv + 0.02
    out = []
    while len(out) < n:
        h = rng.uniform(low, 2.2)
        if abs(h * CRASH - 1) > 0.02:
            out.append(h)
    return out


def _open_book(node: Node, rng: random.Random) -> Book:
    owner = node.accounts[BORROWER]
    client = Client.attach(node.w3, node.deployment)
    sender = Sender(node.w3, owner)
    book = Book({}, {})
    for name, n in COUNTS.items():
        m = node.markets[name]
        healths = _healths(m, n, rng)
        for i in range(0, n, PROTECTED_EVERY):
            healths[i] = rng.uniform(1.6, 2.1)  # under the trigger after the crash, still >= 1
        debts = [rng.randrange(200, 3_000) * WAD for _ in range(n)]
        price = m.price()
        ids = []
        for start in range(0, n, 500):  # batches of 500 transactions
            chunk = range(start, min(start + 500, n))
            ids += m.open_many(
                owner, [(m.collateral_for(debts[i], healths[i], price), debts[i]) for i in chunk]
            )
        book.ids[name] = ids
        book.protected[name] = ids[::PROTECTED_EVERY]
        pool = client.pool(name)
        for pid in book.protected[name]:
            client.set_rule(sender, pool, pid, "deleverage", *DELEVERAGE)
    # rules act through the pools as the owner's operator
    for m in node.markets.values():
        node.transact(owner, m.pool.functions.set_operator(node.automation.address, True))
    return book


@pytest.fixture(scope="session")
def node():
    anvil = Anvil(accounts=13).start()
    try:
        yield Node(anvil)
    finally:
        anvil.stop()


@pytest.fixture(scope="session")
def book(node) -> Book:
    book = _open_book(node, random.Random(17))
    for index in WORKER_ACCOUNTS:
        node.give_bhusd(node.accounts[index], 3_000_000 * WAD)
    return book


@pytest.fixture
def chain(node, book):
    """The node with the book, reverted afterwards (with its base fee and automine)."""
    base_fee = node.w3.eth.get_block("pending")["baseFeePerGas"]
    snapshot = node.rpc("evm_snapshot")
    try:
        yield node
    finally:
        node.automine(True)
        node.rpc("evm_revert", snapshot)
        node.rpc("anvil_setNextBlockBaseFeePerGas", hex(base_fee))


@pytest.fixture
def manifest(node, tmp_path_factory):
    path = tmp_path_factory.mktemp("fleet") / "deployment.json"
    node.deployment.save(path)
    return path


def start_fleet(node: Node, manifest, n: int, tmp_path, **kwargs) -> LocalFleet:
    """A fleet of `n` workers on dev accounts 9.. with lock-step blocks (automine off)."""
    node.automine(False)
    specs = dev_workers(node.w3, n, list(WORKER_ACCOUNTS[:n]))
    env = {
        "BULKHEAD_PARTITION_SIZE": str(PARTITION_SIZE),
        # judge stuck transactions by blocks only: a round's length depends on the machine
        "BULKHEAD_STUCK_SECONDS": "1e9",
        **kwargs.pop("env", {}),
    }
    return LocalFleet(node.anvil.rpc_url, manifest, specs, env=env, log_dir=tmp_path, **kwargs)


class Lockstep:
    """Mines a block only when every live worker has stepped at the head."""

    def __init__(self, node: Node, fleet: LocalFleet):
        self.node, self.fleet = node, fleet

    def stepped(self) -> dict[str, int]:
        records = self.fleet.board.records()
        return {w: records[w]["block"] for w in self.fleet.alive() if w in records}

    def wait(self) -> int:
        """Until every live worker has stepped at the head; the head."""
        head = self.node.block
        deadline = time.monotonic() + PATIENCE
        while True:
            stepped = self.stepped()
            alive = self.fleet.alive()
            if len(stepped) == len(alive) and all(b >= head for b in stepped.values()):
                return head
            assert time.monotonic() < deadline, f"workers at {stepped}, head {head}: {alive}"
            time.sleep(0.1)

    def round(self) -> int:
        """Wait for every live worker, then mine one block; its number."""
        self.wait()
        self.node.mine()
        return self.node.block

    def settle(self) -> None:
        """Blocks until every worker has stepped once (the runner dispatches only blocks
        that come after it started), then rounds until every partition is held."""
        deadline = time.monotonic() + PATIENCE
        while len(self.stepped()) < len(self.fleet.alive()):
            assert time.monotonic() < deadline, f"workers never stepped: {self.stepped()}"
            self.node.mine()
            time.sleep(0.5)
        for _ in range(30):
            self.round()
            records = self.fleet.board.records()
            held = [p for w in self.fleet.alive() for p in records[w]["partitions"]]
            settled = len(held) == len(set(held)) and set(held) == set(self.partitions())
            if settled and all(records[w]["partitions"] for w in self.fleet.alive()):
                return
        raise AssertionError(f"partitions never settled: {self.fleet.board.records()}")

    def partitions(self) -> list[str]:
        out = []
        for m in self.node.markets.values():
            count = m.pool.functions.position_count().call()
            out += [
                f"{m.address}:{k}" for k in range((count + PARTITION_SIZE - 1) // PARTITION_SIZE)
            ]
        return out


def crash(node: Node, factor: float = CRASH) -> int:
    """Every price times `factor`, in one block (automine off); that block."""
    for m in node.markets.values():
        answer = round(m.price() / WAD * factor * 10**8)
        node.send(node.admin, m.feed.functions.set_answer(answer))
    node.mine()
    return node.block


def liquidatable(node: Node) -> dict[str, set[int]]:
    return {name: set(m.liquidatable()) for name, m in node.markets.items()}


def liquidations(node: Node, from_block: int) -> dict[str, list[tuple[int, int, str]]]:
    """Pool name -> (id, block, liquidator) of every `Liquidate` event since `from_block`."""
    out = {}
    for name, m in node.markets.items():
        logs = m.pool.events.Liquidate().get_logs(from_block=from_block)
        out[name] = [
            (e.args.id, e.blockNumber, node.w3.eth.get_transaction(e.transactionHash)["from"])
            for e in logs
        ]
    return out


FAILURE_EVENTS = frozenset(
    {"simulation_failed", "reverted", "cancelled", "dropped", "batch_skipped", "send_refused"}
)


def liquidation_failures(log_dir, workers: list[str]) -> list[dict]:
    """Every failed, skipped-by-the-pool or refused liquidation in the workers' logs: a race
    inside the fleet would show here (a lost race is `batch_skipped`, a reverted one
    `reverted` or `simulation_failed`)."""
    out = []
    for name in workers:
        for line in (log_dir / f"{name}.log").read_text().splitlines():
            if line.startswith("{"):
                e = json.loads(line)
                if e["event"] in FAILURE_EVENTS and e.get("kind", "").startswith("liquidate"):
                    out.append(e)
    return out


def partition_ids(node: Node, partition: str) -> tuple[str, set[int]]:
    """A partition key's pool name and position ids."""
    pool, k = partition.rsplit(":", 1)
    name = next(n for n, m in node.markets.items() if m.address == Web3.to_checksum_address(pool))
    first = int(k) * PARTITION_SIZE + 1
    return name, set(range(first, first + PARTITION_SIZE))
