# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Mock token whose transfer functions return nothing
@license MIT
@notice ERC-20 in the style of USDT: `transfer`, `transferFrom` and `approve` return no
        value. Margin pools must handle it (`default_return_value=True`). Local chains and
        tests only.
@custom:kill Not for production; there is nothing to stop.
"""

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
    self.name = "NoReturn"
    self.symbol = "NORET"
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
def approve(_spender: address, _amount: uint256):
    """
    @notice Approve `_spender`; returns nothing.
    @param _spender Spender.
    @param _amount Allowance [token units].
    """
    self.allowance[msg.sender][_spender] = _amount
    log Approval(owner=msg.sender, spender=_spender, value=_amount)


@external
def transfer(_to: address, _amount: uint256):
    """
    @notice Transfer; returns nothing.
    @param _to Receiver.
    @param _amount Amount [token units].
    """
    self._move(msg.sender, _to, _amount)


@external
def transferFrom(_from: address, _to: address, _amount: uint256):
    """
    @notice Transfer with allowance; returns nothing.
    @param _from Owner.
    @param _to Receiver.
    @param _amount Amount [token units].
    """
    allowed: uint256 = self.allowance[_from][msg.sender]
    if allowed != max_value(uint256):
        self.allowance[_from][msg.sender] = allowed - _amount
    self._move(_from, _to, _amount)


@internal
def _move(_from: address, _to: address, _amount: uint256):
    self.balanceOf[_from] -= _amount
    self.balanceOf[_to] += _amount
    log Transfer(sender=_from, receiver=_to, value=_amount)
