// Compiles Solidity sources with solc-js from <repo>/contracts/node_modules and prints
// artifacts in the contracts/build format: [{contractName, abi, bytecode}].
// usage: node compile.js <node_modules> <file.sol>...
'use strict';
const fs = require('fs');
const path = require('path');
const [nodeModules, ...files] = process.argv.slice(2);
const solc = require(path.join(nodeModules, 'solc'));
const sources = {};
for (const f of files) sources[path.basename(f)] = { content: fs.readFileSync(f, 'utf8') };
const input = {
  language: 'Solidity',
  sources,
  settings: {
    evmVersion: 'cancun',
    optimizer: { enabled: false },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
if (errors.length > 0) {
  console.error(errors.map((e) => e.formattedMessage).join('\n'));
  process.exit(1);
}
const artifacts = [];
for (const file of Object.keys(output.contracts)) {
  for (const name of Object.keys(output.contracts[file])) {
    const c = output.contracts[file][name];
    artifacts.push({ contractName: name, abi: c.abi, bytecode: '0x' + c.evm.bytecode.object });
  }
}
process.stdout.write(JSON.stringify(artifacts));
