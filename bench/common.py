"""Shared pieces of the benchmarks.

- `Node`: a fresh Anvil (`bulkhead.node.Anvil`, so `--prune-history`) with the whole system
  deployed by `bulkhead.deploy.deploy`, the same function the tests and the CLI use.
- `Rpc`: a lean JSON-RPC client (one keep-alive HTTP session, JSON-RPC batches).
- Gas accounting (`execution_gas`), statistics (`summarize`), machine facts (`machine`),
  storage layout and slots (`storage_layout`, `mapping_slot`), and the results files under
  `bench/results/` that `bench.report` turns into docs/PERFORMANCE.md.

Contracts are addressed by name through their ABI from `bulkhead.artifacts`, so functions
added to a contract later do not disturb the benchmarks.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from eth_utils import keccak
from web3 import Web3

from bulkhead import artifacts
from bulkhead.chain import Sender, connect
from bulkhead.client import Pool
from bulkhead.deploy import Config, Deployment, deploy
from bulkhead.eth.rpc import Rpc
from bulkhead.node import Anvil, NodeStartError, anvil_binary

ROOT = artifacts.ROOT
RESULTS = ROOT / "bench" / "results"
TX_BASE_GAS = 21_000  # [gas] every transaction
CALLDATA_ZERO_GAS = 4  # [gas] per zero calldata byte (EIP-2028)
CALLDATA_NONZERO_GAS = 16  # [gas] per non-zero calldata byte
CODE_SIZE_LIMIT = 24_576  # [bytes] EIP-170, deployed code
INITCODE_SIZE_LIMIT = 49_152  # [bytes] EIP-3860


# ----------------------------------------------------------------- gas


def calldata_gas(data: bytes | str) -> int:
    """Intrinsic gas of calldata: 4 per zero byte, 16 per non-zero byte."""
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data
    zeros = raw.count(0)
    return zeros * CALLDATA_ZERO_GAS + (len(raw) - zeros) * CALLDATA_NONZERO_GAS


def execution_gas(gas_used: int, data: bytes | str) -> int:
    """Receipt gas minus the 21,000 base and the calldata cost: how peers publish gas."""
    return gas_used - TX_BASE_GAS - calldata_gas(data)


# ---------------------------------------------------------------- stats


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of a series of runs."""
    if not values:
        raise ValueError("no runs to summarize")
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
    }


# --------------------------------------------------------------- machine


def _first_line(path: str, prefix: str) -> str | None:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def git_commit() -> str:
    """Short commit of the worktree, with `+dirty` when contracts or bench files changed."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--",
                "contracts",
                "bench",
                "bulkhead",
                ":!bench/results",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare numbers: cores, CPU, RAM, versions, commit."""
    mem_kb = _first_line("/proc/meminfo", "MemTotal")
    try:
        anvil = (
            subprocess.run(
                [anvil_binary(), "--version"], capture_output=True, text=True, check=True
            )
            .stdout.splitlines()[0]
            .replace("anvil Version:", "anvil")
        )
    except (OSError, IndexError, subprocess.CalledProcessError, NodeStartError):
        # the node is not there: say so, do not fail the report
        anvil = "unknown"
    import vyper

    return {
        "nproc": os.cpu_count(),
        "cpu": _first_line("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "ram_gib": round(int(mem_kb.split()[0]) / 2**20, 1) if mem_kb else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "vyper": vyper.__version__,
        "anvil": anvil,
        "load_1min": round(os.getloadavg()[0], 2),  # other jobs on the machine
        "commit": git_commit(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --------------------------------------------------------------- results


def write_result(name: str, data: dict[str, Any], directory: Path = RESULTS) -> Path:
    """Write one benchmark's results (with the machine facts) as JSON; return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **data}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def finish(
    name: str,
    data: dict[str, Any],
    argv: list[str] | None,
    no_write: bool = False,
    json_out: str | None = None,
) -> None:
    """The end of every benchmark's `main`: record the command that reproduces the figures,
    then write bench/results/<name>.json (unless `no_write`) and an extra copy if asked."""
    data["command"] = " ".join(
        [f"python -m bench.{name}", *(sys.argv[1:] if argv is None else argv)]
    )
    if json_out:
        Path(json_out).write_text(json.dumps(data, indent=2))
    if not no_write:
        print(f"wrote {write_result(name, data)}")


def load_result(name: str, directory: Path = RESULTS) -> dict[str, Any] | None:
    path = directory / f"{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


# ----------------------------------------------------------- compiler facts


def compile_outputs(name: str, formats: Iterable[str]) -> dict[str, Any]:
    """Compile a deployable (by its `bulkhead.artifacts` name) for the given output formats."""
    from vyper.compiler import compile_from_file_input
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.compiler.settings import Settings

    contracts = artifacts.CONTRACTS
    site = Path(sysconfig.get_paths()["purelib"])
    bundle = FilesystemInputBundle([contracts, site, *map(Path, sys.path[1:])])
    file_input = bundle.load_file(contracts / artifacts.DEPLOYABLE[name])
    return compile_from_file_input(
        file_input,
        input_bundle=bundle,
        settings=Settings(evm_version=artifacts.EVM_VERSION),
        output_formats=list(formats),
    )


def storage_layout(name: str) -> dict[str, Any]:
    """`vyper -f layout` of a contract (storage part), cached per source digest."""
    path = artifacts.CACHE / artifacts._sources_digest() / f"{name}.layout.json"
    if path.exists():
        return json.loads(path.read_text())
    layout = compile_outputs(name, ["layout"])["layout"]["storage_layout"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(layout))
    return layout


def slot_of(layout: dict[str, Any], variable: str) -> int:
    """The slot of a top-level storage variable (modules' variables sit one level down)."""
    if variable in layout and "slot" in layout[variable]:
        return int(layout[variable]["slot"])
    for entry in layout.values():
        if isinstance(entry, dict) and variable in entry and "slot" in entry[variable]:
            return int(entry[variable]["slot"])
    raise KeyError(f"no storage variable {variable!r} in the layout")


def mapping_slot(slot: int, key: int | str) -> int:
    """Slot of `HashMap[key]` in Vyper: keccak256(slot . key), both as 32-byte words.

    (Solidity hashes key . slot; Vyper puts the slot first.)
    """
    key_int = int(key, 16) if isinstance(key, str) else key
    return int.from_bytes(keccak(slot.to_bytes(32, "big") + key_int.to_bytes(32, "big")), "big")


def word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


# ------------------------------------------------------------------ node


@dataclass
class Market(Pool):
    """One pool with its mock token and mock feed: the client's `Pool` handle, plus the
    feed's decimals that the benchmarks price with."""

    feed_decimals: int

    @property
    def pool(self) -> Any:
        return self.contract

    @property
    def unit(self) -> int:
        return 10**self.decimals

    def answer(self, usd: float) -> int:
        """A feed answer [feed units] for a price in USD."""
        return round(usd * 10**self.feed_decimals)


class Node:
    """A fresh Anvil with the system deployed; use as a context manager."""

    def __init__(
        self,
        block_time: float | None = None,
        config: Config | None = None,
        extra_args: list[str] | None = None,
        accounts: int = 10,
    ):
        self.anvil = Anvil(block_time=block_time, extra_args=extra_args, accounts=accounts)
        self.config = config
        self.w3: Web3 | None = None
        self.rpc: Rpc | None = None
        self.deployment: Deployment | None = None
        self.accounts: list[str] = []

    def start(self) -> Node:
        self.anvil.start()
        try:
            self.w3 = connect(self.anvil.rpc_url)
            # batches as large as a benchmark sends them (bench.scan: 5,000 calls in one request)
            self.rpc = Rpc(self.anvil.rpc_url, max_batch=10_000, timeout=300, retry_pruned=True)
            self.accounts = [Web3.to_checksum_address(a) for a in self.w3.eth.accounts]
            self.deployment = deploy(self.w3, self.sender(0), self.config or Config.load())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.rpc is not None:
            self.rpc.close()
        self.anvil.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rpc_url(self) -> str:
        return self.anvil.rpc_url

    def sender(self, index: int) -> Sender:
        return Sender(self.w3, self.accounts[index])

    def contract(self, name: str, address: str):
        return artifacts.contract(self.w3, name, address)

    def market(self, name: str) -> Market:
        info = self.deployment.pool(name)
        feed = self.contract("MockAggregator", info.feed)
        return Market(
            info=info,
            contract=self.contract("MarginPool", info.address),
            token=self.contract("MockToken", info.collateral),
            feed=feed,
            feed_decimals=feed.functions.decimals().call(),
        )

    def markets_by_decimals(self) -> dict[int, Market]:
        """One market per collateral decimals (the default config: 18, 8 and 6)."""
        out: dict[int, Market] = {}
        for info in self.deployment.pools:
            out.setdefault(info.collateral_decimals, self.market(info.name))
        return out

    def timestamp(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def set_block_interval(self, seconds: int) -> None:
        """Every mined block moves time by exactly `seconds` (deterministic accrual)."""
        self.rpc.request("anvil_setBlockTimestampInterval", [seconds])

    def refresh_feed(self, market: Market, usd: float | None = None) -> None:
        """Start a new feed round (same answer unless `usd` is given) so it is not stale."""
        answer = (
            market.answer(usd) if usd is not None else market.feed.functions.latestAnswer().call()
        )
        self.sender(0).transact(market.feed.functions.set_answer(answer))

    def fund(self, market: Market, account: int, amount: int) -> None:
        """Mint collateral to an account and approve the pool for it (not measured)."""
        s = self.sender(account)
        s.transact(market.token.functions.mint(s.address, amount))
        s.transact(market.token.functions.approve(market.pool.address, 2**256 - 1))


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
