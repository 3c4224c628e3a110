"""The package's one layer that talks to the chain.

- `rpc`: the JSON-RPC client (single requests and batches, revert reasons decoded);
- `abi`: the ABI codec (call data, results, event logs);
- `fees`: the fee policy every sender uses (EIP-1559 offers and replacements);
- `accounts`: the account resolver (dev account, keystore, key, the role's default);
- `send`: many transactions from unlocked dev accounts, in nonce-ordered batches
  (`send_unlocked`: the simulator's `Driver`, the demo);
- `backend`: where the deployment recipe (`bulkhead.deploy.deploy_on`) runs, and its web3
  backend (the fuzzer's titanoboa backend is `tests/fuzz/system.py`).

The two other senders use the same fee policy: `bulkhead.chain.Sender` (one signed
transaction, waiting for its receipt: CLI, deploy, demo) and `bulkhead.keeper.tx.TxManager`
(the keeper's nonces, bumps and replacements).
"""
