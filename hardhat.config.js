// Hardhat serves only as a second local node: `npx hardhat node` (chain id 31337), then
// `bulkhead deploy --rpc-url http://127.0.0.1:8545`. Contracts compile with Vyper, not here.
module.exports = {
  networks: {
    hardhat: { chainId: 31337 },
  },
};
