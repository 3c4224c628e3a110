"""Where does the gas go? Remove one feature at a time in a scratch copy and re-measure.

Copies `contracts/`, `bulkhead/` and `bench/` to a temporary directory, applies one textual
patch per variant to the copy (the repository's contracts are never touched), and runs
`bench.gas` there on the 18-decimals market. A saving is baseline execution gas minus the
variant's, on the `repeat` rows. A patch whose text is no longer in the source is reported
as skipped rather than failing, so the script survives contract edits.

Patched copies are for measurement only: some remove safety checks.

    python -m bench.ablate            # about a minute per variant (each recompiles)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT, write_result

OPERATIONS = (
    "open",
    "deposit",
    "borrow",
    "repay (partial)",
    "withdraw (with debt)",
    "close (with debt)",
    "auto_deleverage",
    "deleverage",
    "liquidate (partial)",
)


@dataclass(frozen=True)
class Variant:
    description: str
    path: str  # relative to the repository
    old: str
    new: str
    parts: str = "life,protection,liquidations"


VARIANTS = (
    Variant(
        "PositionUpdated event (full position state after every change)",
        "contracts/MarginPool.vy",
        "    log PositionUpdated(id=_id, owner=_owner, collateral=_new_coll, normalised_debt=_new_norm, "
        "debt=self._debt(_new_norm, _rate))\n",
        "    pass\n",
    ),
    Variant(
        "stability fee accrual (rate and reserve writes, Accrue event)",
        "contracts/MarginPool.vy",
        "    rate: uint256 = packed >> 64\n    if last == block.timestamp:\n        return rate\n",
        "    rate: uint256 = packed >> 64\n    if True:\n        return rate\n",
    ),
    Variant(
        "fee-on-transfer check (balanceOf after transferFrom)",
        "contracts/MarginPool.vy",
        '    assert staticcall COLLATERAL.balanceOf(self) >= self.total_collateral, "pool: collateral not received"\n',
        "",
    ),
    Variant(
        "reentrancy lock (transient storage) on MarginPool",
        "contracts/MarginPool.vy",
        "# pragma nonreentrancy on\n",
        "",
    ),
    Variant(
        # the price stays the anchor, so liquidations cannot be set up: position life only
        "oracle read in state changes (feed call, round checks, jump bound)",
        "contracts/modules/oracle_guard.vy",
        "    price, status = self._peek()\n    self._raise(status)\n    anchor: uint256 = self._anchor\n",
        "    anchor: uint256 = self._anchor\n    price = anchor >> 64\n",
        parts="life",
    ),
)


def _copy_tree(scratch: Path) -> None:
    for name in ("contracts", "bulkhead", "bench"):
        target = scratch / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(
            ROOT / name, target, ignore=shutil.ignore_patterns("results", "__pycache__")
        )
    link = scratch / "node_modules"
    if not link.exists():
        link.symlink_to((ROOT / "node_modules").resolve())


def _measure(scratch: Path, parts: str, progress: Callable[[str], None]) -> dict[str, int]:
    out = scratch / "gas.json"
    env = {**os.environ, "PYTHONPATH": str(scratch), "BULKHEAD_BENCH_ABLATION": "1"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.gas",
            "--no-write",
            "--decimals",
            "18",
            "--parts",
            parts,
            "--json-out",
            str(out),
        ],
        cwd=scratch,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    records = json.loads(out.read_text())["records"]
    return {r["operation"]: r["execution"] for r in records if r["variant"] == "repeat"}


def run(progress: Callable[[str], None] = print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bulkhead-ablate-") as tmp:
        scratch = Path(tmp)
        _copy_tree(scratch)
        progress("ablate: baseline")
        baseline = _measure(scratch, "life,protection,liquidations", progress)
        variants = []
        for variant in VARIANTS:
            _copy_tree(scratch)
            path = scratch / variant.path
            text = path.read_text()
            if text.count(variant.old) != 1:
                progress(f"ablate: skipped (patch does not apply): {variant.description}")
                variants.append({"description": variant.description, "skipped": True})
                continue
            path.write_text(text.replace(variant.old, variant.new))
            progress(f"ablate: {variant.description}")
            measured = _measure(scratch, variant.parts, progress)
            variants.append(
                {
                    "description": variant.description,
                    "skipped": False,
                    # None: the variant's scenario does not reach that operation
                    "execution": {op: measured.get(op) for op in OPERATIONS},
                }
            )
    ops = [op for op in OPERATIONS if op in baseline]
    return {
        "market_decimals": 18,
        "operations": ops,
        "baseline": {op: baseline[op] for op in ops},
        "variants": variants,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ablate", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/ablate.json"
    )
    args = parser.parse_args(argv)
    data = run()
    data["command"] = " ".join(
        ["python -m bench.ablate", *(sys.argv[1:] if argv is None else argv)]
    )
    for v in data["variants"]:
        if not v["skipped"]:
            savings = ", ".join(
                f"{op} {data['baseline'][op] - v['execution'][op]:,}"
                for op in data["operations"]
                if v["execution"].get(op) is not None
            )
            print(f"{v['description']}: {savings}")
    if not args.no_write:
        print(f"wrote {write_result('ablate', data)}")


if __name__ == "__main__":
    main()
