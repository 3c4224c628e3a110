# pragma version 0.4.3
"""
@title Mock collateral token with a transfer hook
@license MIT
@notice ERC-20 that, when armed, calls an arbitrary target with arbitrary data in the middle
        of `transfer` and `transferFrom` (after the balances moved), like an ERC-777 hook.
        Used to prove that a margin pool cannot be re-entered through its collateral.
        Local chains and tests only.
@dev The hook fires once per arming and never reverts the transfer: the result of the call
     is recorded in `hook_succeeded` and its revert data in `hook_return`.
@custom:kill Not for production; there is nothing to stop.
"""

# ---------------------------------------------------------------- storage

name: public(String[25])
symbol: public(String[5])
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])

hook_target: public(address)
hook_data: public(Bytes[256])
hook_called: public(bool)
hook_succeeded: public(bool)
hook_return: public(Bytes[256])

# ----------------------------------------------------------------- events

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
    self.name = "Hook"
    self.symbol = "HOOK"
    self.decimals = _decimals


@external
def arm(_target: address, _data: Bytes[256]):
    """
    @notice Call `_target` with `_data` during the next transfer.
    @param _target Contract to call.
    @param _data Calldata.
    """
    self.hook_target = _target
    self.hook_data = _data
    self.hook_called = False
    self.hook_succeeded = False


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
    @notice Transfer, then run the hook if armed.
    @param _to Receiver.
    @param _amount Amount [token units].
    @return True.
    """
    self._move(msg.sender, _to, _amount)
    return True


@external
def transferFrom(_from: address, _to: address, _amount: uint256) -> bool:
    """
    @notice Transfer with allowance, then run the hook if armed.
    @param _from Owner.
    @param _to Receiver.
    @param _amount Amount [token units].
    @return True.
    """
    allowed: uint256 = self.allowance[_from][msg.sender]
    if allowed != max_value(uint256):
        self.allowance[_from][msg.sender] = allowed - _amount
    self._move(_from, _to, _amount)
    return True


@internal
def _move(_from: address, _to: address, _amount: uint256):
    self.balanceOf[_from] -= _amount
    self.balanceOf[_to] += _amount
    log Transfer(sender=_from, receiver=_to, value=_amount)
    target: address = self.hook_target
    if target != empty(address):
        self.hook_target = empty(address)
        ok: bool = False
        response: Bytes[256] = b""
        ok, response = raw_call(target, self.hook_data, max_outsize=256, revert_on_failure=False)
        self.hook_called = True
        self.hook_succeeded = ok
        self.hook_return = response
