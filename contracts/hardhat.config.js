// Hardhat is used only as the local EVM (in-process network) and the mocha runner: the contracts
// are compiled by scripts/compile.js (solc-js 0.8.30) into build/, so `hardhat test` runs with
// --no-compile (see package.json "test").
require("@nomicfoundation/hardhat-ethers");
const path = require("path");

module.exports = {
  networks: {
    hardhat: { chainId: 31337, hardfork: "cancun" },
    localhost: { url: process.env.RPC_URL || "http://127.0.0.1:8545" },
  },
  mocha: {
    // Spec output on the console; JSON results ({stats:{passes,failures,pending,...},tests,...})
    // written to $MOCHA_RESULTS when that variable is set.
    reporter: path.join(__dirname, "scripts", "mocha-reporter.js"),
    timeout: 60000,
  },
};
