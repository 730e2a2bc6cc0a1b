#!/usr/bin/env node
// Measures gasUsed of the settlement operations and prints a markdown table; writes build/gas.json.
//
//   npx hardhat run --no-compile scripts/gas.js                      (in-process hardhat network)
//   RPC_URL=http://127.0.0.1:8545 GAS_JSON=/tmp/gas.json npx hardhat run --no-compile --network localhost scripts/gas.js
//
// Payouts go to fresh (never used) addresses, the worst case: a native payout then pays for the
// new account and a PHR payout for a new balance slot.
"use strict";

const fs = require("fs");
const path = require("path");
const hre = require("hardhat");
const { ethers } = hre;
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
const { deploySystem, artifact } = require("./deploy");

const LEAF_TYPES = ["bytes32", "address", "uint256"];
const rows = [];

function freshAddress(tag, i) {
  return ethers.getAddress("0x" + ethers.id(`${tag}:${i}`).slice(-40));
}

async function measure(operation, txPromise, items = 1, note = "") {
  const tx = await txPromise;
  const r = await tx.wait();
  const gas = Number(r.gasUsed);
  rows.push({ operation, gasUsed: gas, items, perItem: Math.round(gas / items), note });
  process.stderr.write(`  ${operation}: ${gas}\n`);
  return r;
}

function buildTree(jobId, n, tag) {
  const started = Date.now();
  const values = [];
  for (let i = 0; i < n; i++) values.push([jobId, freshAddress(tag, i), 1_000_000n + BigInt(i)]);
  const tree = StandardMerkleTree.of(values, LEAF_TYPES);
  process.stderr.write(`  tree of ${n} leaves built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const total = values.reduce((s, v) => s + v[2], 0n);
  return { tree, total };
}

async function main() {
  const id = (s) => ethers.id(s);
  // Trees first: building the 100,000-leaf tree takes ~30-60 s, and a live node may drop an idle
  // keep-alive connection meanwhile.
  const J1 = id("gas:native-1k");
  const J3 = id("gas:phr-1k");
  const J5 = id("gas:phr-10");
  const J2 = id("gas:phr-100k");
  const t1k = buildTree(J1, 1000, "n1k");
  const t1kp = buildTree(J3, 1000, "p1k");
  const t10 = buildTree(J5, 10, "p10");
  const t100k = buildTree(J2, 100_000, "p100k");

  const signers = await ethers.getSigners();
  const [deployer, operator, relayer, treasury, researcher] = signers;
  const sys = await deploySystem(deployer, {
    operator: operator.address,
    relayer: relayer.address,
    treasury: treasury.address,
  });
  const { token, registry, distributor, market } = sys;
  const M = market.connect(researcher);
  const OP = market.connect(operator);
  const now = async () => (await ethers.provider.getBlock("latest")).timestamp;

  for (const [k, v] of Object.entries(sys.gas)) rows.push({ operation: `deploy ${k}`, gasUsed: Number(v), items: 1, perItem: Number(v), note: "" });

  // --- payment, result, finalisation (native) with a 1,000-leaf tree
  await measure("payNative", M.payNative(J1, id("q"), (await now()) + 86400, { value: t1k.total + 1000n }));
  await measure("commitResult", OP.commitResult(J1, id("r"), id("m")));
  await measure("finalize (native, 1,000-leaf root)", OP.finalize(J1, t1k.tree.root, t1k.total, 1000n));

  // --- token path: PHR jobs with 1,000, 10 and 100,000 leaves (the last two measured under the
  //     same conditions: settlement cost does not depend on the number of contributors)
  await (await token.connect(operator).mint(researcher.address, (t1kp.total + t10.total + t100k.total) * 2n)).wait();
  await measure("approve (PHR, separate tx)", token.connect(researcher).approve(await market.getAddress(), ethers.MaxUint256));
  await measure("payToken (PHR)", M.payToken(J3, id("q"), t1kp.total + 1000n, (await now()) + 86400));
  await (await OP.commitResult(J3, id("r"), id("m"))).wait();
  await measure("finalize (PHR, 1,000-leaf root)", OP.finalize(J3, t1kp.tree.root, t1kp.total, 1000n));
  for (const [J, t, label] of [
    [J5, t10, "10-leaf"],
    [J2, t100k, "100,000-leaf"],
  ]) {
    await (await M.payToken(J, id("q"), t.total + 1000n, (await now()) + 86400)).wait();
    await (await OP.commitResult(J, id("r"), id("m"))).wait();
    await measure(`finalize (PHR, ${label} root)`, OP.finalize(J, t.tree.root, t.total, 1000n));
  }

  // --- single claims (submitted by a third party, paid to the leaf's account)
  const D = distributor.connect(relayer);
  const claimOne = async (label, jobId, tree, i) => {
    const [, account, amount] = tree.at(i);
    const proof = tree.getProof(i);
    await measure(`claim (${label}, proof length ${proof.length})`, D.claim(jobId, account, amount, proof));
  };
  await claimOne("native, 1,000 leaves", J1, t1k.tree, 0);
  await claimOne("PHR, 1,000 leaves", J3, t1kp.tree, 0);
  await claimOne("PHR, 100,000 leaves", J2, t100k.tree, 0);

  // --- batches (one proof per entry), from the 1,000-leaf trees
  const batch = async (label, jobId, tree, from, n) => {
    const idx = Array.from({ length: n }, (_, k) => from + k);
    const accounts = idx.map((i) => tree.at(i)[1]);
    const amounts = idx.map((i) => tree.at(i)[2]);
    const proofs = idx.map((i) => tree.getProof(i));
    await measure(`claimBatch ${n} (${label})`, D.claimBatch(jobId, accounts, amounts, proofs), n);
  };
  await batch("native, 1,000 leaves", J1, t1k.tree, 1, 10);
  await batch("native, 1,000 leaves", J1, t1k.tree, 11, 100);
  await batch("PHR, 1,000 leaves", J3, t1kp.tree, 1, 10);
  await batch("PHR, 1,000 leaves", J3, t1kp.tree, 11, 100);
  await batch("PHR, 100,000 leaves", J2, t100k.tree, 1, 100);
  {
    const idx = Array.from({ length: 100 }, (_, k) => 200 + k);
    const mp = t1kp.tree.getMultiProof(idx);
    await measure(
      "claimMulti 100 (PHR, 1,000 leaves, one multiproof)",
      D.claimMulti(J3, mp.leaves.map((l) => l[1]), mp.leaves.map((l) => l[2]), mp.proof, mp.proofFlags),
      100
    );
  }

  // --- consent / contribution relay (participants sign off-chain; they need no ETH)
  const { chainId } = await ethers.provider.getNetwork();
  const domain = { name: "PrivateHealth ContributionRegistry", version: "1", chainId, verifyingContract: await registry.getAddress() };
  const consentTypes = {
    Consent: [
      { name: "participant", type: "address" },
      { name: "purpose", type: "bytes32" },
      { name: "granted", type: "bool" },
      { name: "nonce", type: "uint256" },
      { name: "deadline", type: "uint256" },
    ],
  };
  const contribTypes = {
    Contribution: [
      { name: "participant", type: "address" },
      { name: "contributionId", type: "bytes32" },
      { name: "purpose", type: "bytes32" },
      { name: "commitment", type: "bytes32" },
      { name: "nonce", type: "uint256" },
      { name: "deadline", type: "uint256" },
    ],
  };
  const purpose = id("purpose:gas");
  const deadline = BigInt((await now()) + 86400);
  const wallets = Array.from({ length: 51 }, (_, i) => new ethers.Wallet(ethers.id(`gas-participant:${i}`)));
  const consentOf = async (w) => {
    const v = { participant: w.address, purpose, granted: true, nonce: 0n, deadline };
    return { v, sig: await w.signTypedData(domain, consentTypes, v) };
  };
  const contribOf = async (w, i) => {
    const v = { participant: w.address, contributionId: id(`gas-contribution:${i}`), purpose, commitment: id(`c:${i}`), nonce: 1n, deadline };
    return { v, sig: await w.signTypedData(domain, contribTypes, v) };
  };
  const R = registry.connect(relayer);
  const c0 = await consentOf(wallets[0]);
  await measure("relayConsent (single)", R.relayConsent(c0.v, c0.sig));
  const cs = await Promise.all(wallets.slice(1).map(consentOf));
  await measure("relayConsentBatch 50", R.relayConsentBatch(cs.map((x) => x.v), cs.map((x) => x.sig)), 50);
  const k0 = await contribOf(wallets[0], 0);
  await measure("relayContribution (single)", R.relayContribution(k0.v, k0.sig));
  const ks = await Promise.all(wallets.slice(1).map((w, i) => contribOf(w, i + 1)));
  await measure("relayContributionBatch 50", R.relayContributionBatch(ks.map((x) => x.v), ks.map((x) => x.sig)), 50);

  // --- print and write
  const fmt = (n) => n.toLocaleString("en-US");
  const lines = [
    "| operation | gasUsed (tx) | per item |",
    "| --- | ---: | ---: |",
    ...rows.map((r) => `| ${r.operation} | ${fmt(r.gasUsed)} | ${r.items > 1 ? fmt(r.perItem) : ""} |`),
  ];
  console.log(lines.join("\n"));
  const out = {
    network: hre.network.name,
    chainId: Number(chainId),
    hardfork: hre.network.config.hardfork || null,
    compiler: artifact("JobMarket").compiler,
    sourceHash: artifact("JobMarket").sourceHash,
    note: "payouts to fresh addresses (worst case); per item = gasUsed / items, tx base cost included",
    rows,
  };
  // GAS_JSON overrides the output path (e.g. for a run against a live node).
  fs.writeFileSync(process.env.GAS_JSON || path.join(__dirname, "..", "build", "gas.json"), JSON.stringify(out, null, 2) + "\n");
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
