#!/usr/bin/env node
// Compiles contracts/src/*.sol with solc-js (standard JSON, optimizer 200 runs, evmVersion cancun)
// and writes contracts/build/<ContractName>.json for each contract defined in src/.
//
//   node scripts/compile.js            compile if the sources changed (else "up to date")
//   node scripts/compile.js --force    compile even if build/ is up to date
//   node scripts/compile.js --check    exit 1 if build/ is missing or stale; compiles nothing
//   node scripts/compile.js --tests    also compile test-contracts/*.sol into build/test/ (not committed)
//
// sourceHash = sha256 of the canonical JSON {compiler, settings, sources} where sources holds every
// source unit fed to solc (ours and the imported OpenZeppelin files, by source unit name, sorted).
"use strict";

const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

const ROOT = path.resolve(__dirname, "..");
const NODE_MODULES = path.join(ROOT, "node_modules");
const COMPILER = "0.8.30";
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

const JOBS = {
  main: { dir: "src", out: path.join(ROOT, "build") },
  tests: { dir: "test-contracts", out: path.join(ROOT, "build", "test") },
};

function readUnit(unitName) {
  // Our own units are named relative to contracts/ ("src/X.sol"); everything else comes from node_modules.
  const local = path.join(ROOT, unitName);
  if (!unitName.startsWith("@") && fs.existsSync(local)) return fs.readFileSync(local, "utf8");
  const dep = path.join(NODE_MODULES, unitName);
  if (fs.existsSync(dep)) return fs.readFileSync(dep, "utf8");
  throw new Error(`cannot resolve import "${unitName}"`);
}

function importsOf(content) {
  const out = [];
  const re = /^\s*import\s+(?:[^;]*?\sfrom\s+)?["']([^"']+)["']\s*;/gm;
  let m;
  while ((m = re.exec(content)) !== null) out.push(m[1]);
  return out;
}

function resolveImport(fromUnit, spec) {
  if (spec.startsWith("./") || spec.startsWith("../")) {
    return path.posix.normalize(path.posix.join(path.posix.dirname(fromUnit), spec));
  }
  return spec;
}

/** Collect every source unit reachable from dir/*.sol. */
function collectSources(dir) {
  const entries = fs
    .readdirSync(path.join(ROOT, dir))
    .filter((f) => f.endsWith(".sol"))
    .sort()
    .map((f) => `${dir}/${f}`);
  const sources = {};
  const queue = [...entries];
  while (queue.length) {
    const unit = queue.shift();
    if (sources[unit]) continue;
    const content = readUnit(unit);
    sources[unit] = { content };
    for (const spec of importsOf(content)) queue.push(resolveImport(unit, spec));
  }
  const sorted = {};
  for (const k of Object.keys(sources).sort()) sorted[k] = sources[k];
  return { entries, sources: sorted };
}

function hashOf(sources) {
  const canonical = JSON.stringify({ compiler: COMPILER, settings: SETTINGS, sources });
  return crypto.createHash("sha256").update(canonical).digest("hex");
}

/** Names of contracts declared in our entry files (not OZ's). */
function ownContractNames(entries, sources) {
  const names = [];
  for (const unit of entries) {
    const re = /^\s*(?:abstract\s+)?contract\s+([A-Za-z_][A-Za-z0-9_]*)/gm;
    let m;
    while ((m = re.exec(sources[unit].content)) !== null) names.push({ unit, name: m[1] });
  }
  return names;
}

function isStale(job, sourceHash, expected) {
  const problems = [];
  for (const { name } of expected) {
    const file = path.join(job.out, `${name}.json`);
    if (!fs.existsSync(file)) {
      problems.push(`${path.relative(ROOT, file)} missing`);
      continue;
    }
    const art = JSON.parse(fs.readFileSync(file, "utf8"));
    if (art.sourceHash !== sourceHash) problems.push(`${path.relative(ROOT, file)} stale (sourceHash differs)`);
    if (art.compiler !== COMPILER) problems.push(`${path.relative(ROOT, file)} built with ${art.compiler}`);
  }
  if (fs.existsSync(job.out)) {
    const names = new Set(expected.map((e) => `${e.name}.json`));
    for (const f of fs.readdirSync(job.out)) {
      if (f.endsWith(".json") && f !== "gas.json" && !names.has(f)) problems.push(`${path.relative(ROOT, job.out)}/${f} has no source`);
    }
  }
  return problems;
}

function compileJob(jobName, { force, check }) {
  const job = JOBS[jobName];
  const { entries, sources } = collectSources(job.dir);
  const sourceHash = hashOf(sources);
  const expected = ownContractNames(entries, sources);
  const problems = isStale(job, sourceHash, expected);

  if (check) {
    if (problems.length) {
      for (const p of problems) console.error(`stale: ${p}`);
      console.error("build/ is stale: run `node scripts/compile.js` and commit contracts/build/*.json");
      return false;
    }
    console.log(`${jobName}: build/ is up to date (${expected.length} contracts, sourceHash ${sourceHash.slice(0, 12)}…)`);
    return true;
  }
  if (!force && problems.length === 0) {
    console.log(`${jobName}: up to date (${expected.length} contracts)`);
    return true;
  }

  const solc = require("solc");
  const version = solc.version();
  if (!version.startsWith(COMPILER + "+")) throw new Error(`solc-js ${version} is not ${COMPILER}`);
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const started = Date.now();
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  let failed = false;
  let hidden = 0;
  for (const e of output.errors || []) {
    const text = e.formattedMessage || e.message;
    // solc warns (2394) about every tstore; the only one is OpenZeppelin's ReentrancyGuardTransient,
    // which clears its slot at the end of each call (see docs/decisions/0014-settlement-contracts.md).
    const file = e.sourceLocation && e.sourceLocation.file;
    if (e.severity === "warning" && e.errorCode === "2394" && file && file.startsWith("@openzeppelin/")) {
      hidden++;
      continue;
    }
    if (e.severity === "error") {
      failed = true;
      console.error(text);
    } else {
      console.warn(text);
    }
  }
  if (hidden) console.log(`  (${hidden} known OpenZeppelin transient-storage warning(s) not shown)`);
  if (failed) return false;

  fs.mkdirSync(job.out, { recursive: true });
  for (const { unit, name } of expected) {
    const c = output.contracts[unit] && output.contracts[unit][name];
    if (!c) throw new Error(`no output for ${unit}:${name}`);
    const artifact = {
      contractName: name,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      compiler: COMPILER,
      sourceHash,
    };
    fs.writeFileSync(path.join(job.out, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
    const size = c.evm.deployedBytecode.object.length / 2;
    console.log(`  ${name}: ${size} bytes deployed${size > 24576 ? " (OVER the 24,576-byte limit)" : ""}`);
  }
  console.log(`${jobName}: compiled ${expected.length} contracts with solc ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

function main() {
  const args = new Set(process.argv.slice(2));
  const opts = { force: args.has("--force"), check: args.has("--check") };
  let ok = compileJob("main", opts);
  if (ok && args.has("--tests")) ok = compileJob("tests", opts);
  process.exit(ok ? 0 : 1);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  }
}

module.exports = { collectSources, hashOf, COMPILER, SETTINGS };
