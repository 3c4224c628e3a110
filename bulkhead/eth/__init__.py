"""The package's one layer that talks to the chain.

- `rpc`: the JSON-RPC client (single requests and batches, revert reasons decoded);
- `abi`: the ABI codec (call data, results, event logs);
- `fees`: the fee policy every sender uses (EIP-1559 offers and replacements);
- `accounts`: the account resolver (dev account, keystore, key, the role's default).

Sending lives beside it: `bulkhead.chain.Sender` (one transaction, waiting for its receipt:
CLI, deploy, demo), `bulkhead.keeper.tx.TxManager` (the keeper's nonces, bumps and
replacements) and `bulkhead.simulate.driver.Driver` (many unlocked senders per block).
"""
