"""Compiled contracts for the Python tooling.

The CLI, the demo and the deploy function compile `contracts/` with the pip-installed
Vyper (never a download) and cache the ABI, bytecode and blueprint bytecode under
`.build/bulkhead/`, keyed by a hash of every source and the compiler version. Ape
compiles the same files for the tests; both read the same sources.
"""

from __future__ import annotations

import hashlib
import json
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
CACHE = ROOT / ".build" / "bulkhead"
EVM_VERSION = "cancun"

DEPLOYABLE = {
    "Stablecoin": "Stablecoin.vy",
    "PoolFactory": "PoolFactory.vy",
    "MarginPool": "MarginPool.vy",
    "PoolLens": "PoolLens.vy",
    "PositionAutomation": "PositionAutomation.vy",
    "SavingsVault": "SavingsVault.vy",
    "MockAggregator": "mocks/MockAggregator.vy",
    "MockToken": "mocks/MockToken.vy",
}


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list
    bytecode: str
    blueprint: str


def _sources_digest() -> str:
    import vyper

    digest = hashlib.sha256(vyper.__version__.encode())
    for path in sorted(CONTRACTS.rglob("*.vy*")):
        digest.update(str(path.relative_to(CONTRACTS)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _compile(name: str) -> Artifact:
    from vyper.compiler import compile_from_file_input
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.compiler.settings import Settings

    site = Path(sysconfig.get_paths()["purelib"])
    bundle = FilesystemInputBundle([CONTRACTS, site, *map(Path, sys.path[1:])])
    file_input = bundle.load_file(CONTRACTS / DEPLOYABLE[name])
    out = compile_from_file_input(
        file_input,
        input_bundle=bundle,
        settings=Settings(evm_version=EVM_VERSION),
        output_formats=["abi", "bytecode", "blueprint_bytecode"],
    )
    return Artifact(name, out["abi"], out["bytecode"], out["blueprint_bytecode"])


def load(name: str) -> Artifact:
    """Return the compiled contract `name`, compiling it once per source change."""
    if name not in DEPLOYABLE:
        raise KeyError(f"unknown contract {name!r}")
    path = CACHE / _sources_digest() / f"{name}.json"
    if path.exists():
        data = json.loads(path.read_text())
        return Artifact(name, data["abi"], data["bytecode"], data["blueprint"])
    artifact = _compile(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {"abi": artifact.abi, "bytecode": artifact.bytecode, "blueprint": artifact.blueprint}
        )
    )
    tmp.replace(path)
    return artifact


def abi(name: str) -> list:
    return load(name).abi


def contract(w3: Any, name: str, address: str) -> Any:
    """The web3 contract object of the deployable `name` at `address` (any case)."""
    from web3 import Web3

    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi(name))
