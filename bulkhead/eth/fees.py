"""The package's one fee policy for EIP-1559 transactions: what a new transaction offers,
what a replacement of a stuck one offers, and what either pays in a block.

Every sender uses it (the keeper's `TxManager`, the CLI's `Sender`, the demo, the simulator
and the test helpers): two base fees of headroom plus the tip, so a transaction stays
includable while the base fee doubles, capped where the caller sets a cap.
"""

from __future__ import annotations

import math

BUMP_NUM, BUMP_DEN = 9, 8  # a replacement pays at least 12.5 % more (geth needs 10 %)


def initial_fees(base_fee: int, tip: int, cap: int | None) -> tuple[int, int] | None:
    """(max fee, priority fee) [wei per gas] for a new EIP-1559 transaction.

    Two base fees of headroom plus the tip, capped at `cap`; None when the cap is
    below the base fee (the transaction could not be included now).
    """
    max_fee = 2 * base_fee + tip
    if cap is not None:
        if cap < base_fee:
            return None
        max_fee = min(max_fee, cap)
        tip = min(tip, max_fee)
    return max_fee, tip


def offer(base_fee: int, tip: int) -> tuple[int, int]:
    """(max fee, priority fee) [wei per gas] for a new transaction without a cap."""
    fees = initial_fees(base_fee, tip, None)
    assert fees is not None  # dev: only a cap refuses
    return fees


def bumped_fees(
    old_max: int, old_tip: int, base_fee: int, tip: int, cap: int | None
) -> tuple[int, int] | None:
    """Fees for a replacement of a stuck transaction: both at least 12.5 % above the old ones,
    at least what a new transaction would pay now; None when `cap` does not allow a bump."""
    min_max = max(math.ceil(old_max * BUMP_NUM / BUMP_DEN), old_max + 1)
    min_tip = max(math.ceil(old_tip * BUMP_NUM / BUMP_DEN), old_tip + 1)
    new_tip = max(min_tip, tip)
    new_max = max(min_max, 2 * base_fee + new_tip)
    if cap is not None:
        new_max = min(new_max, cap)
        new_tip = min(new_tip, new_max)
        if new_max < min_max or new_tip < min_tip:
            return None
    return new_max, new_tip


def effective_gas_price(max_fee: int, tip: int, base_fee: int) -> int:
    """[wei per gas] what an EIP-1559 transaction pays in a block with `base_fee`."""
    return min(max_fee, base_fee + tip)
