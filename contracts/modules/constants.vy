# pragma version 0.4.3
"""
@title Shared constants
@license MIT
@notice Units and the bounds that more than one contract checks, declared once. Every
        contract imports this module for them (`constants.WAD`); none redeclares them.
"""

WAD: constant(uint256) = 10**18  # one, in [wad] fixed point
BPS: constant(uint256) = 10_000  # one, in [bps]

# the largest debt ceiling a pool can have, so the most bhUSD any amount can mean
MAX_DEBT_CEILING: constant(uint256) = 10**33  # [wad]

# owner rules (`PositionAutomation`): the highest trigger or target health, and how far
# from the owner's target an automated adjustment may land
MAX_RULE_HEALTH: constant(uint256) = 10 * 10**18  # [wad]
RULE_TOLERANCE: constant(uint256) = 10**16  # [wad]

# paginated views: ids looked at, and ids returned, per call
MAX_SCAN: constant(uint256) = 5_000
MAX_PAGE: constant(uint256) = 1_000
