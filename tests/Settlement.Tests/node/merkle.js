// Cross-check of PrivateHealth.Settlement.PayoutTree against @openzeppelin/merkle-tree.
// stdin: {"trees": [[[jobId, account, amount(decimal string)], ...], ...]}
// stdout: [{"root": "0x..", "proofs": [[...], ...]  (per value, input order), "leaves": ["0x..", ...]}, ...]
// argv[2] = <repo>/contracts/node_modules
'use strict';
const path = require('path');
const nodeModules = process.argv[2];
if (!nodeModules) {
  console.error('usage: node merkle.js <repo>/contracts/node_modules < trees.json');
  process.exit(2);
}
const { StandardMerkleTree } = require(path.join(nodeModules, '@openzeppelin', 'merkle-tree'));
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = input.trees.map((values) => {
  const tree = StandardMerkleTree.of(values, ['bytes32', 'address', 'uint256']);
  return {
    root: tree.root,
    proofs: values.map((_, i) => tree.getProof(i)),
    leaves: values.map((v) => tree.leafHash(v)),
  };
});
process.stdout.write(JSON.stringify(out));
