"""Keeper tests run against their own Anvil (bulkhead.node.Anvil), deployed once with
bulkhead.deploy.deploy; each test starts from an `evm_snapshot` of that deployment and
reverts it afterwards. Positions are opened in batches: many transactions sent without
waiting for receipts (automine off, nonces set here), then mined together."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import pytest
from web3 import Web3

from bulkhead import artifacts
from bulkhead.chain import Sender
from bulkhead.deploy import Config, Deployment, deploy
from bulkhead.eth.rpc import Rpc
from bulkhead.eth.send import Tx, send_unlocked
from bulkhead.keeper import EventLog, Keeper, KeeperConfig, NodeSigner
from bulkhead.keeper.runner import web3_for
from bulkhead.node import Anvil, retry_pruned
from bulkhead.risk import WAD, RiskParams

FEED_DECIMALS = 8
MAX_UINT = 2**256 - 1
GWEI = 10**9
# [s] the longest a test waits for anything (a receipt, a keeper thread, a node): a ceiling
# against a hang, never an expectation; a wait returns as soon as its condition holds
PATIENCE = 300.0


def _tx(sender: str, fn, gas: int) -> Tx:
    return Tx(sender, fn.address, fn._encode_transaction_data(), gas)


class Node:
    """An Anvil with the system deployed, and helpers that speak human units."""

    def __init__(self, anvil: Anvil, deployment: Deployment | None = None):
        self.anvil = anvil
        self.w3 = web3_for(anvil.rpc_url, timeout=PATIENCE)
        self.accounts = self.w3.eth.accounts
        self.admin = self.accounts[0]
        if deployment is None:
            deployment = deploy(self.w3, Sender(self.w3, self.admin), Config.load())
        self.deployment = deployment
        self.abi = {
            n: artifacts.abi(n)
            for n in (
                "MarginPool",
                "MockToken",
                "MockAggregator",
                "Stablecoin",
                "PositionAutomation",
                "PoolLens",
            )
        }
        self.stablecoin = self._at("Stablecoin", deployment.stablecoin)
        self.automation = self._at("PositionAutomation", deployment.automation)
        self.lens = self._at("PoolLens", deployment.lens)
        self.markets = {p.name: Market(self, p) for p in deployment.pools}

    def _at(self, name: str, address: str):
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=self.abi[name])

    def rpc(self, method: str, *params):
        return Rpc(self.w3.provider).request(method, params)

    # ----------------------------------------------------------- blocks

    def automine(self, on: bool) -> None:
        self.rpc("evm_setAutomine", on)

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def pending_count(self) -> int:
        content = self.rpc("txpool_status")
        return int(content["pending"], 16)

    def mine_all(self) -> None:
        while self.pending_count():
            self.mine()

    def warp(self, seconds: int) -> None:
        self.rpc("evm_increaseTime", seconds)
        self.mine()

    @property
    def block(self) -> int:
        return self.w3.eth.block_number

    # ------------------------------------------------------- sending

    def send(
        self, sender: str, fn, gas: int = 600_000, nonce: int | None = None, tip: int = GWEI
    ) -> str:
        """Send a contract call without waiting for its receipt (through the package's
        sender for unlocked accounts, at `nonce` when given)."""
        nonces = {} if nonce is None else {sender: nonce}
        (tx_hash,) = send_unlocked(
            Rpc(self.w3.provider), [_tx(sender, fn, gas)], nonces, (200 * GWEI, tip)
        )
        return tx_hash

    def batch(self, calls: list[tuple[str, object]], gas: int = 600_000) -> list:
        """Send every (sender, fn) without waiting (JSON-RPC batches, one transaction per
        sender each: `bulkhead.eth.send.send_unlocked`), mine them together, check every
        receipt."""
        rpc = Rpc(self.w3.provider)
        self.automine(False)
        try:
            txs = [_tx(s, fn, gas) for s, fn in calls]
            hashes = send_unlocked(rpc, txs, {}, (200 * GWEI, GWEI))
            self.mine_all()
        finally:
            self.automine(True)
        receipts = rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        failed = [i for i, r in enumerate(receipts) if r["status"] != "0x1"]
        assert not failed, f"batch transactions {failed} reverted"
        return receipts

    def transact(self, sender: str, fn, gas: int = 600_000):
        receipt = self.w3.eth.wait_for_transaction_receipt(self.send(sender, fn, gas))
        assert receipt["status"] == 1
        return receipt

    # ----------------------------------------------------- positions

    def bhusd(self, account: str) -> int:
        return self.stablecoin.functions.balanceOf(account).call()

    def give_bhusd(self, account: str, amount: int) -> int:
        """bhUSD for `account`, borrowed against WETH positions of its own (healthy through a
        50 % crash), each at most half the pool's position debt cap (a borrow of exactly the
        cap can land a wei above it: the pool rounds the new debt up); returns the first
        one's id."""
        weth = self.markets["WETH"]
        most = weth.pool.functions.controls().call()[0] // 2
        parts = [most] * (amount // most) + ([amount % most] if amount % most else [])
        specs = [(part * 4 // (3000 * WAD) * weth.unit + weth.unit, part) for part in parts]
        return weth.open_many(account, specs)[0]


class Market:
    def __init__(self, node: Node, info):
        self.node = node
        self.info = info
        self.name = info.name
        self.address = Web3.to_checksum_address(info.address)
        self.pool = node._at("MarginPool", info.address)
        self.token = node._at("MockToken", info.collateral)
        self.feed = node._at("MockAggregator", info.feed)
        self.unit = 10**info.collateral_decimals
        self.scale = 10 ** (18 - info.collateral_decimals)
        self._threshold: int | None = None

    def set_price(self, usd: float) -> None:
        self.node.transact(
            self.node.admin, self.feed.functions.set_answer(round(usd * 10**FEED_DECIMALS))
        )

    def price(self) -> int:
        return self.pool.functions.price().call()

    def fund(self, account: str, amount: int, spender: str | None = None) -> None:
        self.node.batch(
            [
                (account, self.token.functions.mint(account, amount)),
                (account, self.token.functions.approve(spender or self.address, MAX_UINT)),
            ]
        )

    def open_many(self, owner: str, specs: list[tuple[int, int]]) -> list[int]:
        """Open one position per (collateral, debt) for `owner`, all in one batch."""
        self.fund(owner, sum(c for c, _ in specs))
        first = self.pool.functions.position_count().call() + 1
        self.node.batch([(owner, self.pool.functions.open(c, d)) for c, d in specs])
        ids = list(range(first, first + len(specs)))
        assert self.pool.functions.owner_of(ids[-1]).call() == owner
        return ids

    @property
    def params(self) -> RiskParams:
        return RiskParams(*self.pool.functions.risk_params().call())

    def healths_unsafe_at(self, usd: float, n: int) -> list[float]:
        """`n` healths, evenly spread, that a position may open with now (within max LTV)
        and that fall below 1.0 when the price falls to `usd`."""
        p = self.params
        low = p.liquidation_threshold / p.max_ltv  # the health at max LTV
        high = self.price() / (usd * WAD)  # the health that the fall takes to 1.0
        assert low < high, f"{self.name}: no position within max LTV falls below 1 at {usd}"
        step = (high - low) / (n + 1)
        return [low + step * (i + 1) for i in range(n)]

    def health(self, pid: int) -> int:
        return self.pool.functions.health(pid).call()

    def liquidatable(self) -> list[int]:
        """Ids below health 1.0; asked again when a block a keeper mines meanwhile prunes the
        state the read started on (`retry_pruned`)."""

        def read() -> list[int]:
            count = self.pool.functions.position_count().call()
            return list(self.pool.functions.positions_to_liquidate(1, max(count, 1)).call())

        return retry_pruned(read)

    def collateral_for(self, debt: int, health: float, price: int | None = None) -> int:
        """Collateral [units] that gives `debt` [wad] the `health` at `price` (default: now)."""
        if self._threshold is None:
            self._threshold = self.pool.functions.risk_params().call()[1]
        value = int(debt * health) * 10_000 // self._threshold
        return value * WAD // ((price or self.price()) * self.scale) + 1


@dataclass
class Captured:
    """A keeper's JSON log lines, parsed."""

    stream: io.StringIO = field(default_factory=io.StringIO)

    def events(self, name: str | None = None) -> list[dict]:
        lines = [json.loads(x) for x in self.stream.getvalue().splitlines() if x]
        return [e for e in lines if name is None or e["event"] == name]


def make_keeper(node: Node, account: int, **config) -> tuple[Keeper, Captured]:
    """A keeper whose step waits for its own receipts (up to PATIENCE, returning as soon as
    they are in) and judges a transaction stuck by blocks only: on an automining node every
    transaction is mined at once, so neither may depend on how busy the machine is. A test
    that holds blocks back passes a short `receipt_wait` (and calls `patient` when it lets
    blocks come again); a test of stuck-by-time passes its own `stuck_seconds`."""
    config.setdefault("receipt_wait", PATIENCE)
    config.setdefault("stuck_seconds", 1e9)
    log = Captured()
    keeper = Keeper(
        node.w3,
        node.deployment,
        NodeSigner(node.accounts[account]),
        KeeperConfig(**config),
        log=EventLog(log.stream),
    )
    return keeper, log


def patient(*keepers: Keeper) -> None:
    """Automine is back on: from now each step of `keepers` waits for its receipts (up to
    PATIENCE) instead of returning while they are still to come, so a count of steps (or
    `run_until_idle`) does not depend on how fast the machine mines."""
    for keeper in keepers:
        keeper.config.receipt_wait = PATIENCE


@pytest.fixture(scope="session")
def node():
    anvil = Anvil(accounts=12).start()
    try:
        yield Node(anvil)
    finally:
        anvil.stop()


@pytest.fixture
def chain(node):
    """The deployed node, reverted to its fresh deployment after the test (and to its base
    fee, which `evm_revert` leaves where the test took it)."""
    base_fee = node.w3.eth.get_block("pending")["baseFeePerGas"]
    snapshot = node.rpc("evm_snapshot")
    try:
        yield node
    finally:
        node.rpc("anvil_setIntervalMining", 0)  # (this also turns automine off)
        node.automine(True)
        node.rpc("evm_revert", snapshot)
        node.rpc("anvil_setNextBlockBaseFeePerGas", hex(base_fee))


# role-named accounts of the keeper tests (indexes into the node's dev accounts)
BORROWER, KEEPER, RIVAL, OUTSIDER = 1, 3, 4, 6
