"""The mutant catalogue of `make mutate` stays usable: every mutant still applies (its
snippet occurs exactly once), passes the compiler's front end, and the catalogue covers
every contract and module with at least 40 mutants. Catches a stale catalogue in
`make test` without running the campaign."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest
from vyper.compiler.input_bundle import FilesystemInputBundle
from vyper.compiler.phases import CompilerData

from tests.mutation.catalogue import MUTANTS
from tests.mutation.mutate import CONTRACTS, ROOT, check, deployables, mutate

DEPLOYABLES_AND_MODULES = (
    "MarginPool.vy",
    "PoolFactory.vy",
    "PoolLens.vy",
    "PositionAutomation.vy",
    "SavingsVault.vy",
    "Stablecoin.vy",
    "modules/risk.vy",
    "modules/oracle_guard.vy",
)


def test_catalogue__every_mutant__applies_exactly_once() -> None:
    assert check() == []


def test_catalogue__every_contract_and_module__has_mutants() -> None:
    assert len([m for m in MUTANTS if not m.equivalent]) >= 40
    assert {m.file for m in MUTANTS} >= set(DEPLOYABLES_AND_MODULES)


def test_catalogue__equivalent_mutants__are_listed_in_the_audit_report() -> None:
    audit = (ROOT / "docs" / "AUDIT.md").read_text()
    section = audit[audit.index("## Mutation testing") :]
    for m in MUTANTS:
        if m.equivalent:
            assert f"`{m.id}`" in section, f"{m.id} is not in docs/AUDIT.md"


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.id)
def test_catalogue__mutant__passes_the_compiler_front_end(mutant, tmp_path: Path) -> None:
    """Parsed and type-checked (what refuses nearly every stillborn mutant); `make mutate`
    compiles each one fully."""
    copy = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, copy)
    (copy / mutant.file).write_text(mutate(mutant))
    bundle = FilesystemInputBundle([copy, Path(sysconfig.get_paths()["purelib"])])
    # one deployable that compiles the mutated code is enough for the front end
    name = deployables(mutant)[-1]
    data = CompilerData(bundle.load_file(copy / f"{name}.vy"), bundle)
    assert data.annotated_vyper_module is not None
