#!/usr/bin/env node
// Deploys RewardToken, ContributionRegistry, PayoutDistributor and JobMarket from build/*.json,
// wires the roles and writes a deployment JSON.
//
//   RPC_URL=http://127.0.0.1:8545 node scripts/deploy.js --out deployments/local.json
//
// Environment (all optional):
//   RPC_URL           JSON-RPC endpoint                         (default http://127.0.0.1:8545)
//   DEPLOYER_KEY      private key of the deployer               (default hardhat account 0)
//   OPERATOR_ADDRESS  OPERATOR_ROLE on JobMarket/PayoutDistributor, MINTER_ROLE on RewardToken
//   RELAYER_ADDRESS   RELAYER_ROLE on ContributionRegistry
//   TREASURY_ADDRESS  receives operator fees and swept unclaimed payouts
//   ADMIN_ADDRESS     DEFAULT_ADMIN_ROLE everywhere; if it differs from the deployer, the deployer
//                     hands the role over and renounces it at the end
// Each address defaults to the deployer's.
"use strict";

const fs = require("fs");
const path = require("path");
const { ethers } = require("ethers");

const BUILD = path.join(__dirname, "..", "build");
const HARDHAT_ACCOUNT_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const FUNDER_ROLE = ethers.id("FUNDER_ROLE");
const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;

function artifact(name) {
  return JSON.parse(fs.readFileSync(path.join(BUILD, `${name}.json`), "utf8"));
}

async function deployOne(name, signer, args) {
  const a = artifact(name);
  const factory = new ethers.ContractFactory(a.abi, a.bytecode, signer);
  const c = await factory.deploy(...args);
  const receipt = await c.deploymentTransaction().wait();
  return { contract: c, address: await c.getAddress(), block: receipt.blockNumber, txHash: receipt.hash, gasUsed: receipt.gasUsed };
}

/**
 * Deploys and wires the system with `signer` (an ethers v6 Signer). Returns the contracts and a
 * JSON-ready description. Used by this script and by scripts/gas.js.
 */
async function deploySystem(signer, { operator, relayer, treasury, admin } = {}) {
  const deployer = await signer.getAddress();
  operator = operator || deployer;
  relayer = relayer || deployer;
  treasury = treasury || deployer;
  admin = admin || deployer;

  const token = await deployOne("RewardToken", signer, [deployer, operator]);
  const registry = await deployOne("ContributionRegistry", signer, [deployer, relayer]);
  const distributor = await deployOne("PayoutDistributor", signer, [deployer, operator, treasury]);
  const market = await deployOne("JobMarket", signer, [deployer, operator, treasury, distributor.address, token.address]);
  await (await distributor.contract.grantRole(FUNDER_ROLE, market.address)).wait();

  if (admin.toLowerCase() !== deployer.toLowerCase()) {
    for (const d of [token, registry, distributor, market]) {
      await (await d.contract.grantRole(DEFAULT_ADMIN_ROLE, admin)).wait();
      await (await d.contract.renounceRole(DEFAULT_ADMIN_ROLE, deployer)).wait();
    }
  }

  const provider = signer.provider;
  const network = await provider.getNetwork();
  const all = { RewardToken: token, ContributionRegistry: registry, PayoutDistributor: distributor, JobMarket: market };
  const description = {
    chainId: Number(network.chainId),
    block: token.block, // first deployment block: start scanning events here
    deployer,
    roles: { admin, operator, relayer, treasury },
    addresses: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.address])),
    contracts: Object.fromEntries(
      Object.entries(all).map(([k, v]) => [k, { address: v.address, block: v.block, txHash: v.txHash }])
    ),
    sourceHash: artifact("JobMarket").sourceHash,
    deployedAt: new Date().toISOString(),
  };
  return {
    token: token.contract,
    registry: registry.contract,
    distributor: distributor.contract,
    market: market.contract,
    description,
    gas: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.gasUsed])),
  };
}

function argValue(flag) {
  const i = process.argv.indexOf(flag);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(flag + "="));
  return eq ? eq.slice(flag.length + 1) : undefined;
}

async function main() {
  const out = argValue("--out");
  if (!out) {
    console.error("usage: RPC_URL=... [DEPLOYER_KEY=...] node scripts/deploy.js --out <deployment.json>");
    process.exit(2);
  }
  const provider = new ethers.JsonRpcProvider(process.env.RPC_URL || "http://127.0.0.1:8545");
  const wallet = new ethers.Wallet(process.env.DEPLOYER_KEY || HARDHAT_ACCOUNT_0, provider);
  const signer = new ethers.NonceManager(wallet);
  const env = (k) => (process.env[k] ? ethers.getAddress(process.env[k]) : undefined);
  const { description } = await deploySystem(signer, {
    operator: env("OPERATOR_ADDRESS"),
    relayer: env("RELAYER_ADDRESS"),
    treasury: env("TREASURY_ADDRESS"),
    admin: env("ADMIN_ADDRESS"),
  });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(description, null, 2) + "\n");
  for (const [k, v] of Object.entries(description.addresses)) console.log(`${k.padEnd(22)} ${v}`);
  console.log(`chainId ${description.chainId}, from block ${description.block}; written to ${out}`);
  provider.destroy();
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
}

module.exports = { deploySystem, artifact };
