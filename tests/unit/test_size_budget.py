"""The size budget: every deployable's code at least 4 KB under the EIP-170 limit.

The limit is 24,576 bytes of runtime code per contract. The budget keeps 4,096 of them free
so that the risk controls still to come fit without a redesign. Sizes are read from the chain
after the one deployment recipe ran (`eth_getCode`, immutables included), for every contract
it deploys, for each pool, and for the pool blueprint (`0xFE7100` + the pool's initcode,
which must itself fit under the limit). A failure prints every figure, not just the first.
"""

from __future__ import annotations

CODE_SIZE_LIMIT = 24_576  # [bytes] EIP-170
HEADROOM = 4_096  # [bytes] kept free by the budget
BUDGET = CODE_SIZE_LIMIT - HEADROOM


def _size(chain, address: str) -> int:
    return len(chain.provider.web3.eth.get_code(address))


def _sizes(chain, deployment, factory) -> dict[str, int]:
    sizes = {
        "Stablecoin": _size(chain, deployment.stablecoin),
        "PoolFactory": _size(chain, deployment.factory),
        "PoolLens": _size(chain, deployment.lens),
        "PositionAutomation": _size(chain, deployment.automation),
        "SavingsVault": _size(chain, deployment.vault),
        "MarginPool blueprint": _size(chain, factory.POOL_BLUEPRINT()),
    }
    for pool in deployment.pools:
        sizes[f"MarginPool {pool.name}"] = _size(chain, pool.address)
    return sizes


def test_size_budget__every_deployable__at_least_4_kb_under_the_limit(chain, deployment, factory):
    sizes = _sizes(chain, deployment, factory)
    table = "\n".join(
        f"  {name:<22} {size:>6,} bytes, headroom {CODE_SIZE_LIMIT - size:>6,}"
        for name, size in sorted(sizes.items(), key=lambda item: -item[1])
    )
    over = [name for name, size in sizes.items() if size > BUDGET]
    assert not over, f"over the {BUDGET:,}-byte budget: {', '.join(over)}\n{table}"


def test_size_budget__blueprint__holds_the_pool_initcode_behind_the_erc5202_preamble(
    chain, factory
):
    code = bytes(chain.provider.web3.eth.get_code(factory.POOL_BLUEPRINT()))
    # the preamble says: a blueprint (0xFE71), version 0, no extra data; nothing can call it
    assert code[:3] == bytes.fromhex("fe7100")
    assert len(code) > 3
