"""Why the keeper did not plan an action, or why one it sent failed: the reasons its skips
and failures carry (in its logs and metrics), and the bucket of a revert reason.
"""

from __future__ import annotations

# why an action was not planned
UNPROFITABLE = "unprofitable"
INSUFFICIENT_BHUSD = "insufficient_bhusd"
INSUFFICIENT_COLLATERAL = "insufficient_collateral"
ORACLE_INVALID = "oracle_invalid"
IN_FLIGHT = "in_flight"  # already handled: a transaction of ours for it is pending
LIQUIDATING = "liquidating"  # a protection is due but the position is liquidated first
CLOSING = "closing"  # a rule is due but a stop-loss closes the position first
NOT_DUE = "not_due"  # the index says healthy or not due (the view was a block behind)
NO_RULE = "no_rule"
ALLOWANCE = "allowance_too_small"
NO_AMOUNT = "no_amount"  # the rule cannot be met (target unreachable, debt below minimum)
UNKNOWN_POSITION = "unknown_position"
# the pool is paused: no liquidation and no boost (borrowing stops); other rules still run
PAUSED = "paused"
# the pool is in its grace window after an unpause: no liquidation until it ends
GRACE_WINDOW = "grace_window"

# why a simulated or sent action failed
LOST_RACE = "lost_race"
REVERTED = "reverted"

# reverts that mean another keeper (or the owner) got there first
RACE_REASONS = frozenset(
    {
        "pool: position is healthy",
        "pool: no debt",
        "automation: protection not due",
        "automation: boost not due",
        "automation: top-up not due",
        "automation: stop-loss not due",  # the price moved back above the owner's
        "automation: no debt",  # the owner repaid it all first
        "automation: no rule",  # another keeper carried it out (a rule is spent) or cleared
        "automation: above allowance",
        "pool: nothing to liquidate",  # liquidate_many: every position in it was taken
    }
)


# reverts of a pool whose liquidations (or, paused, borrowing) are closed
CLOSED_REASONS = {"pool: paused": PAUSED, "pool: grace window": GRACE_WINDOW}


def classify_revert(reason: str) -> str:
    """The failure bucket of a revert reason: lost_race, oracle_invalid, paused, grace_window
    or reverted."""
    reason = reason.strip()
    if reason in RACE_REASONS:
        return LOST_RACE
    if reason in CLOSED_REASONS:
        return CLOSED_REASONS[reason]
    if reason.startswith("oracle:"):
        return ORACLE_INVALID
    return REVERTED
