# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Mock fee-on-transfer token
@license MIT
@notice ERC-20 that burns `FEE_BPS` of every transfer, so the receiver gets less than was
        sent. Margin pools must refuse it. Local chains and tests only.
@custom:kill Not for production; there is nothing to stop.
"""

FEE_BPS: constant(uint256) = 100  # [bps] burned on every transfer

name: public(String[25])
symbol: public(String[5])
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256


@deploy
def __init__(_decimals: uint8):
    """
    @notice Deploy the token.
    @param _decimals Token decimals.
    """
    self.name = "Fee"
    self.symbol = "FEE"
    self.decimals = _decimals


@external
def mint(_to: address, _amount: uint256):
    """
    @notice Faucet.
    @param _to Receiver.
    @param _amount Amount [token units].
    """
    self.balanceOf[_to] += _amount
    self.totalSupply += _amount
    log Transfer(sender=empty(address), receiver=_to, value=_amount)


@external
def approve(_spender: address, _amount: uint256) -> bool:
    """
    @notice Approve `_spender`.
    @param _spender Spender.
    @param _amount Allowance [token units].
    @return True.
    """
    self.allowance[msg.sender][_spender] = _amount
    log Approval(owner=msg.sender, spender=_spender, value=_amount)
    return True


@external
def transfer(_to: address, _amount: uint256) -> bool:
    """
    @notice Transfer less the fee.
    @param _to Receiver.
    @param _amount Amount sent [token units].
    @return True.
    """
    self._move(msg.sender, _to, _amount)
    return True


@external
def transferFrom(_from: address, _to: address, _amount: uint256) -> bool:
    """
    @notice Transfer with allowance, less the fee.
    @param _from Owner.
    @param _to Receiver.
    @param _amount Amount sent [token units].
    @return True.
    """
    allowed: uint256 = self.allowance[_from][msg.sender]
    if allowed != max_value(uint256):
        self.allowance[_from][msg.sender] = allowed - _amount
    self._move(_from, _to, _amount)
    return True


@internal
def _move(_from: address, _to: address, _amount: uint256):
    fee: uint256 = _amount * FEE_BPS // 10_000
    self.balanceOf[_from] -= _amount
    self.balanceOf[_to] += _amount - fee
    self.totalSupply -= fee
    log Transfer(sender=_from, receiver=_to, value=_amount - fee)
