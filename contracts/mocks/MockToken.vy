# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Mock collateral token
@license MIT
@notice ERC-20 with chosen decimals and an open `mint` (a faucet). Local chains and tests only.
@dev Built on snekmate's `erc20`; `mint` is open to anyone on purpose.
@custom:kill Not for production; there is nothing to stop.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.balanceOf,
    erc20.allowance,
    erc20.totalSupply,
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
)


@deploy
def __init__(_name: String[25], _symbol: String[5], _decimals: uint8):
    """
    @notice Deploy a mock token.
    @param _name Token name.
    @param _symbol Token symbol.
    @param _decimals Token decimals (6, 8 and 18 are what pools are tested with).
    """
    ownable.__init__()
    erc20.__init__(_name, _symbol, _decimals, _name, "1")


@external
def mint(_to: address, _amount: uint256):
    """
    @notice Faucet: mint `_amount` [token units] to `_to`. Anyone may call it.
    @param _to Receiver.
    @param _amount Amount [token units].
    """
    erc20._mint(_to, _amount)
