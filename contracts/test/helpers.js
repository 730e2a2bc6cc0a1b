// Shared test helpers: artifacts from build/, deployment, snapshots, revert decoding, Merkle trees.
"use strict";
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const hre = require("hardhat");
const { ethers } = hre;
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

const BUILD = path.join(__dirname, "..", "build");
const LEAF_TYPES = ["bytes32", "address", "uint256"];
const DAY = 24 * 60 * 60;

function artifact(name) {
  for (const dir of [BUILD, path.join(BUILD, "test")]) {
    const f = path.join(dir, `${name}.json`);
    if (fs.existsSync(f)) return JSON.parse(fs.readFileSync(f, "utf8"));
  }
  throw new Error(`no artifact ${name}: run node scripts/compile.js --tests`);
}

async function deploy(name, signer, ...args) {
  const a = artifact(name);
  const factory = new ethers.ContractFactory(a.abi, a.bytecode, signer);
  const c = await factory.deploy(...args);
  await c.waitForDeployment();
  return c;
}

const id = (s) => ethers.id(s); // keccak256 of a UTF-8 label -> bytes32
const roles = {
  DEFAULT_ADMIN: ethers.ZeroHash,
  OPERATOR: id("OPERATOR_ROLE"),
  RELAYER: id("RELAYER_ROLE"),
  MINTER: id("MINTER_ROLE"),
  FUNDER: id("FUNDER_ROLE"),
};

/** Deploys and wires the four contracts the way scripts/deploy.js does. */
async function deploySystem() {
  const [admin, operator, relayer, treasury, researcher, stranger, ...others] = await ethers.getSigners();
  const token = await deploy("RewardToken", admin, admin.address, operator.address);
  const registry = await deploy("ContributionRegistry", admin, admin.address, relayer.address);
  const distributor = await deploy("PayoutDistributor", admin, admin.address, operator.address, treasury.address);
  const market = await deploy(
    "JobMarket",
    admin,
    admin.address,
    operator.address,
    treasury.address,
    await distributor.getAddress(),
    await token.getAddress()
  );
  await (await distributor.grantRole(roles.FUNDER, await market.getAddress())).wait();
  return { admin, operator, relayer, treasury, researcher, stranger, others, token, registry, distributor, market };
}

// ------------------------------------------------------------------ snapshots

const fixtures = new Map();
/** Like hardhat-network-helpers' loadFixture: run once, then revert to a snapshot on every later call. */
async function loadFixture(fn) {
  const cached = fixtures.get(fn);
  if (cached) {
    await hre.network.provider.send("evm_revert", [cached.snapshot]);
    cached.snapshot = await hre.network.provider.send("evm_snapshot", []);
    return cached.value;
  }
  const value = await fn();
  const snapshot = await hre.network.provider.send("evm_snapshot", []);
  fixtures.set(fn, { value, snapshot });
  return value;
}

// ----------------------------------------------------------------------- time

async function latest() {
  const b = await ethers.provider.getBlock("latest");
  return b.timestamp;
}
async function increase(seconds) {
  await hre.network.provider.send("evm_increaseTime", [seconds]);
  await hre.network.provider.send("evm_mine", []);
}

// --------------------------------------------------------------------- reverts

function revertData(e) {
  for (let x = e, i = 0; x && i < 6; x = x.error || x.info?.error || x.cause, i++) {
    if (typeof x.data === "string" && x.data.startsWith("0x")) return x.data;
    if (x.data && typeof x.data.data === "string") return x.data.data;
  }
  return undefined;
}

/**
 * Awaits `promise` (a tx or call) and asserts it reverted with custom error `name` of `contract`'s
 * ABI (OpenZeppelin errors included, as they are in the ABI). `args`, if given, are compared too.
 */
async function expectRevert(promise, contract, name, args) {
  let err;
  try {
    const tx = await promise;
    if (tx && typeof tx.wait === "function") await tx.wait();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected revert ${name}, but it succeeded`);
  const data = revertData(err);
  assert.ok(data, `expected revert ${name}, got an error without revert data: ${err.message}`);
  const parsed = contract.interface.parseError(data);
  assert.ok(parsed, `expected revert ${name}, got unknown revert data ${data} (${err.message})`);
  assert.equal(parsed.name, name, `expected revert ${name}, got ${parsed.name}`);
  if (args) {
    const norm = (v) => String(v).toLowerCase();
    assert.deepEqual(parsed.args.toArray().map(norm), args.map(norm), `${name} arguments`);
  }
  return parsed;
}

/** Returns the parsed logs of `receipt` emitted by `contract` with event `name`. */
function eventsOf(receipt, contract, name) {
  const addr = contract.target.toLowerCase();
  const out = [];
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== addr) continue;
    const p = contract.interface.parseLog(log);
    if (p && p.name === name) out.push(p);
  }
  return out;
}

// ---------------------------------------------------------------------- Merkle

/** Standard OpenZeppelin tree over (jobId, account, amount) leaves. */
function payoutTree(jobId, entries) {
  return StandardMerkleTree.of(
    entries.map((e) => [jobId, e.account, e.amount]),
    LEAF_TYPES
  );
}
function proofFor(tree, account) {
  for (const [i, v] of tree.entries()) {
    if (v[1].toLowerCase() === account.toLowerCase()) return { proof: tree.getProof(i), amount: BigInt(v[2]) };
  }
  throw new Error(`no leaf for ${account}`);
}
/** The leaf exactly as the contract computes it. */
function leafHash(jobId, account, amount) {
  const inner = ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(LEAF_TYPES, [jobId, account, amount]));
  return ethers.keccak256(inner);
}

// ---------------------------------------------------------------------- EIP-712

async function registryDomain(registry) {
  const { chainId } = await ethers.provider.getNetwork();
  return {
    name: "PrivateHealth ContributionRegistry",
    version: "1",
    chainId,
    verifyingContract: await registry.getAddress(),
  };
}
const EIP712_TYPES = {
  Consent: {
    Consent: [
      { name: "participant", type: "address" },
      { name: "purpose", type: "bytes32" },
      { name: "granted", type: "bool" },
      { name: "nonce", type: "uint256" },
      { name: "deadline", type: "uint256" },
    ],
  },
  Contribution: {
    Contribution: [
      { name: "participant", type: "address" },
      { name: "contributionId", type: "bytes32" },
      { name: "purpose", type: "bytes32" },
      { name: "commitment", type: "bytes32" },
      { name: "nonce", type: "uint256" },
      { name: "deadline", type: "uint256" },
    ],
  },
  ContributionRevocation: {
    ContributionRevocation: [
      { name: "participant", type: "address" },
      { name: "contributionId", type: "bytes32" },
      { name: "nonce", type: "uint256" },
      { name: "deadline", type: "uint256" },
    ],
  },
};
async function signTyped(signer, registry, kind, value) {
  return signer.signTypedData(await registryDomain(registry), EIP712_TYPES[kind], value);
}

module.exports = {
  ethers,
  hre,
  assert,
  artifact,
  deploy,
  deploySystem,
  loadFixture,
  latest,
  increase,
  expectRevert,
  eventsOf,
  payoutTree,
  proofFor,
  leafHash,
  registryDomain,
  signTyped,
  EIP712_TYPES,
  roles,
  id,
  DAY,
  LEAF_TYPES,
};
