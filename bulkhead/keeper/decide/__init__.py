"""What the keeper does, decided without a chain.

Everything here is pure: it takes a snapshot of the pools (price, rate, risk parameters),
the positions and rules from the keeper's index, the keeper's balances and the cost of
gas, and returns actions to send and skips with their reason. The amounts come from
`bulkhead.risk`, the integer mirror of the contracts, so an action that this module
plans is the one the pool would accept in the same block.

Its parts: `keeper.reasons` (why an action was skipped or failed), `keeper.model` (the
records the decisions pass and the gas table), and the decide functions by kind in this
package: `liquidate` (liquidations), `rules` (the owner's deleverage, boost and top-up) and
`stops` (the owner's stop-loss); `kinds.TABLE` points at each. This `__init__`
gathers their names under one path for the tests and the documentation; the keeper
itself imports each name from where it lives.

Units: [wad] = 1e18; bhUSD is valued at 1 USD; collateral at the pool's oracle price;
gas at `gas price x gas units x native coin price`.
"""

from bulkhead.keeper.decide.liquidate import liquidation
from bulkhead.keeper.decide.rules import boost, deleverage, top_up
from bulkhead.keeper.decide.stops import stop_loss
from bulkhead.keeper.model import (
    ADJUSTMENTS,
    BATCH_BLOCK_SHARE_BPS,
    DEFAULT_GAS,
    KINDS,
    MAX_BATCH,
    Action,
    Batch,
    Costs,
    Decision,
    Kind,
    PoolState,
    Position,
    Rule,
    Skip,
    batch_capacity,
    batch_gas,
    gas_cost_usd,
)
from bulkhead.keeper.reasons import (
    ALLOWANCE,
    CLOSED_REASONS,
    CLOSING,
    GRACE_WINDOW,
    IN_FLIGHT,
    INSUFFICIENT_BHUSD,
    INSUFFICIENT_COLLATERAL,
    LIQUIDATING,
    LOST_RACE,
    NO_AMOUNT,
    NO_RULE,
    NOT_DUE,
    ORACLE_INVALID,
    PAUSED,
    RACE_REASONS,
    REVERTED,
    UNKNOWN_POSITION,
    UNPROFITABLE,
    classify_revert,
)

__all__ = [
    "ADJUSTMENTS",
    "ALLOWANCE",
    "BATCH_BLOCK_SHARE_BPS",
    "CLOSED_REASONS",
    "CLOSING",
    "DEFAULT_GAS",
    "GRACE_WINDOW",
    "IN_FLIGHT",
    "INSUFFICIENT_BHUSD",
    "INSUFFICIENT_COLLATERAL",
    "KINDS",
    "LIQUIDATING",
    "LOST_RACE",
    "MAX_BATCH",
    "NOT_DUE",
    "NO_AMOUNT",
    "NO_RULE",
    "ORACLE_INVALID",
    "PAUSED",
    "RACE_REASONS",
    "REVERTED",
    "UNKNOWN_POSITION",
    "UNPROFITABLE",
    "Action",
    "Batch",
    "Costs",
    "Decision",
    "Kind",
    "PoolState",
    "Position",
    "Rule",
    "Skip",
    "batch_capacity",
    "batch_gas",
    "boost",
    "classify_revert",
    "deleverage",
    "gas_cost_usd",
    "liquidation",
    "stop_loss",
    "top_up",
]
