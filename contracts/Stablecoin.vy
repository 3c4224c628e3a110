# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Bulkhead stablecoin (bhUSD)
@license MIT
@notice ERC-20 with EIP-2612 permit. Only minters (the margin pools that the factory
        registers) can mint, and they burn only for the account that calls them.
@dev snekmate's `erc20` with `ownable_2step`: ownership moves in two steps through
     snekmate's own `transfer_ownership` and `accept_ownership`, which leave the minter
     roles alone (erc20's ownership functions would make the new owner a minter, so they
     are not exported). The owner is the `PoolFactory`; it adds and removes minters and
     never mints itself.
@custom:kill The owner removes every pool with `set_minter(pool, False)`; existing holders
             keep their balances and transfers stay open.
"""

from interfaces import IStablecoin
from snekmate.auth import ownable
from snekmate.auth import ownable_2step
from snekmate.tokens import erc20

implements: IStablecoin

initializes: ownable
initializes: ownable_2step[ownable := ownable]
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
    erc20.burn,
    erc20.burn_from,
    erc20.mint,
    erc20.is_minter,
    erc20.set_minter,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


@deploy
def __init__():
    """
    @notice Deploys bhUSD with 18 decimals; the deployer owns it and is not a minter.
    """
    ownable.__init__()
    ownable_2step.__init__()
    erc20.__init__("Bulkhead USD", "bhUSD", 18, "Bulkhead USD", "1")
    # the deployer (the factory) governs minters but never mints itself
    erc20.is_minter[msg.sender] = False
    log erc20.RoleMinterChanged(minter=msg.sender, status=False)


@external
def pool_burn(_account: address, _amount: uint256):
    """
    @notice Burn `_amount` of `_account`'s bhUSD without an allowance.
    @dev Only minters (margin pools) call this, and a pool passes only the account that
         called the pool itself (the repayer or the liquidator).
    @param _account Account whose balance is burned.
    @param _amount Amount to burn [wad].
    """
    assert erc20.is_minter[msg.sender], "bhusd: caller is not a minter"
    erc20._burn(_account, _amount)
