// Cross-check of PrivateHealth.Ethereum against ethers v6.
// Reads one JSON batch on stdin, writes ethers' answers as JSON on stdout.
// ethers is loaded from <repo>/contracts/node_modules (argv[2] = that node_modules folder).
'use strict';
const path = require('path');
const nodeModules = process.argv[2];
if (!nodeModules) {
  console.error('usage: node crosscheck.js <repo>/contracts/node_modules < batch.json');
  process.exit(2);
}
const { ethers } = require(path.join(nodeModules, 'ethers'));

function readStdin() {
  return require('fs').readFileSync(0, 'utf8');
}

// Converts our JSON value form (integers as decimal strings) into what ethers' coder takes.
function abiValue(type, value) {
  if (type.kind === 'int') return BigInt(value);
  if (type.kind === 'array') return value.map((v) => abiValue(type.element, v));
  if (type.kind === 'tuple') return value.map((v, i) => abiValue(type.components[i], v));
  return value;
}

function parseType(t) {
  // t is a ParamType from ethers; map to a small descriptor
  if (t.baseType === 'tuple') return { kind: 'tuple', components: t.components.map(parseType) };
  if (t.baseType === 'array') return { kind: 'array', element: parseType(t.arrayChildren) };
  if (t.baseType.startsWith('uint') || t.baseType.startsWith('int')) return { kind: 'int' };
  return { kind: 'other' };
}

function tx1559(t) {
  const tx = ethers.Transaction.from({
    type: 2,
    chainId: BigInt(t.chainId),
    nonce: Number(t.nonce),
    maxPriorityFeePerGas: BigInt(t.maxPriorityFeePerGas),
    maxFeePerGas: BigInt(t.maxFeePerGas),
    gasLimit: BigInt(t.gasLimit),
    to: t.to,
    value: BigInt(t.value),
    data: t.data,
    accessList: [],
  });
  return sign(tx, t.key);
}

function txLegacy(t) {
  const tx = ethers.Transaction.from({
    type: 0,
    chainId: BigInt(t.chainId),
    nonce: Number(t.nonce),
    gasPrice: BigInt(t.gasPrice),
    gasLimit: BigInt(t.gasLimit),
    to: t.to,
    value: BigInt(t.value),
    data: t.data,
  });
  return sign(tx, t.key);
}

function sign(tx, key) {
  const signingKey = new ethers.SigningKey(key);
  tx.signature = signingKey.sign(tx.unsignedHash);
  return { unsignedHash: tx.unsignedHash, raw: tx.serialized, hash: tx.hash, from: tx.from };
}

function typedValue(types, type, value) {
  if (type.endsWith(']')) {
    const element = type.slice(0, type.lastIndexOf('['));
    return value.map((v) => typedValue(types, element, v));
  }
  if (types[type]) {
    const out = {};
    for (const f of types[type]) out[f.name] = typedValue(types, f.type, value[f.name]);
    return out;
  }
  if (/^u?int\d*$/.test(type)) return BigInt(value);
  return value;
}

function typed(t) {
  const domain = {};
  for (const k of ['name', 'version', 'verifyingContract', 'salt']) if (t.domain[k] !== undefined) domain[k] = t.domain[k];
  if (t.domain.chainId !== undefined) domain.chainId = BigInt(t.domain.chainId);
  const message = typedValue(t.types, t.primaryType, t.message);
  const hash = ethers.TypedDataEncoder.hash(domain, t.types, message);
  const encodedType = ethers.TypedDataEncoder.from(t.types).encodeType(t.primaryType);
  const signature = new ethers.SigningKey(t.key).sign(hash).serialized;
  return { hash, encodedType, primaryType: ethers.TypedDataEncoder.getPrimaryType(t.types), signature };
}

const input = JSON.parse(readStdin());
const coder = ethers.AbiCoder.defaultAbiCoder();
const out = {};
out.addresses = (input.keys || []).map((k) => new ethers.Wallet(k).address);
out.txs1559 = (input.txs1559 || []).map(tx1559);
out.txsLegacy = (input.txsLegacy || []).map(txLegacy);
out.abi = (input.abi || []).map((c) => {
  const params = c.types.map((t) => ethers.ParamType.from(t));
  const values = c.values.map((v, i) => abiValue(parseType(params[i]), v));
  const encoded = coder.encode(params, values);
  const canonical = params.map((p) => p.format('sighash'));
  return { encoded, canonical };
});
out.selectors = (input.selectors || []).map((s) => ethers.id(s).slice(0, 10));
out.typed = (input.typed || []).map(typed);
out.messages = (input.messages || []).map((m) => ({
  hash: ethers.hashMessage(ethers.getBytes(m.message)),
  signature: new ethers.Wallet(m.key).signMessageSync(ethers.getBytes(m.message)),
}));
out.creates = (input.creates || []).map((c) => ethers.getCreateAddress({ from: c.from, nonce: BigInt(c.nonce) }));
out.checksums = (input.checksums || []).map((a) => ethers.getAddress(a));
process.stdout.write(JSON.stringify(out));
