"""Bytecode size of every deployed contract, against the EIP-170 and EIP-3860 limits.

Runtime sizes are read from the chain (`eth_getCode` after `bulkhead.deploy.deploy`), so
they include the immutables Vyper appends at deploy time. Initcode sizes come from the
compiler output that the deploy function sends. `MarginPool` is deployed from an ERC-5202
blueprint: the code stored at the blueprint address is `0xFE7100` + the pool's initcode, and
that stored code is what must fit under 24,576 bytes; each pool it creates must fit too.

    python -m bench.sizes
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bench.common import CODE_SIZE_LIMIT, INITCODE_SIZE_LIMIT, Node, finish
from bulkhead import artifacts


def _code_size(node: Node, address: str) -> int:
    code = node.rpc.request("eth_getCode", [address, "latest"])
    return (len(code) - 2) // 2


def _initcode_size(name: str) -> int:
    return (len(artifacts.load(name).bytecode) - 2) // 2


def run(progress: Callable[[str], None] = print) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with Node() as node:
        d = node.deployment
        deployed = {
            "Stablecoin": d.stablecoin,
            "PoolFactory": d.factory,
            "PoolLens": d.lens,
            "PositionAutomation": d.automation,
            "SavingsVault": getattr(d, "vault", None),
            "MarginPool": d.pools[0].address,
            "MockToken": d.pools[0].collateral,
            "MockAggregator": d.pools[0].feed,
        }
        for name, address in deployed.items():
            if not address or name not in artifacts.DEPLOYABLE:
                continue  # not part of this deployment (yet)
            runtime = _code_size(node, address)
            rows.append(
                {
                    "contract": name,
                    "what": "runtime code (on chain, immutables included)",
                    "bytes": runtime,
                    "limit": CODE_SIZE_LIMIT,
                    "initcode": _initcode_size(name),
                    "initcode_limit": INITCODE_SIZE_LIMIT,
                }
            )
        blueprint = _code_size(node, d.pool_blueprint)
        code = node.rpc.request("eth_getCode", [d.pool_blueprint, "latest"])
        assert code.startswith("0xfe7100"), "sizes: the blueprint lacks the ERC-5202 preamble"
        rows.append(
            {
                "contract": "MarginPool blueprint",
                "what": "code at the blueprint address (0xFE7100 + pool initcode)",
                "bytes": blueprint,
                "limit": CODE_SIZE_LIMIT,
                "initcode": None,
                "initcode_limit": None,
            }
        )
        pool_sizes = {p.name: _code_size(node, p.address) for p in d.pools}
    for row in rows:
        row["headroom"] = row["limit"] - row["bytes"]
        progress(
            f"size {row['contract']:<22} {row['bytes']:>6,} bytes  headroom {row['headroom']:>6,}"
        )
        assert row["headroom"] >= 0, f"sizes: {row['contract']} is above the limit"
    return {"rows": rows, "pool_runtime_by_pool": pool_sizes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sizes", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/sizes.json"
    )
    args = parser.parse_args(argv)
    data = run()
    finish("sizes", data, argv, args.no_write)


if __name__ == "__main__":
    main()
