"use strict";
const h = require("./helpers");
const { ethers, assert, expectRevert, eventsOf, roles, id, DAY, payoutTree, proofFor } = h;

const E = ethers.parseEther;
const JOB = id("job:payout");

/** A finalised native job whose 0.9 ETH payout is split over 6 accounts by a Merkle tree. */
async function fixture() {
  const s = await h.deploySystem();
  const accounts = s.others.slice(0, 6);
  const amounts = [E("0.1"), E("0.2"), E("0.05"), E("0.25"), E("0.15"), E("0.15")];
  const entries = accounts.map((a, i) => ({ account: a.address, amount: amounts[i] }));
  const tree = payoutTree(JOB, entries);
  const deadline = (await h.latest()) + 7 * DAY;
  await (await s.market.connect(s.researcher).payNative(JOB, id("q"), deadline, { value: E("1") })).wait();
  await (await s.market.connect(s.operator).commitResult(JOB, id("r"), id("m"))).wait();
  await (await s.market.connect(s.operator).finalizeWithClaimWindow(JOB, tree.root, E("0.9"), E("0.1"), 30 * DAY)).wait();
  return { ...s, accounts, entries, tree };
}

describe("PayoutDistributor", function () {
  let s, distributor, operator, stranger, treasury, accounts, tree;
  beforeEach(async function () {
    s = await h.loadFixture(fixture);
    ({ distributor, operator, stranger, treasury, accounts, tree } = s);
  });

  it("computes the OpenZeppelin standard leaf", async function () {
    const [jobId, account, amount] = tree.at(0);
    assert.equal(await distributor.leafOf(jobId, account, amount), tree.leafHash([jobId, account, amount]));
    assert.equal(h.leafHash(jobId, account, amount), tree.leafHash([jobId, account, amount]));
  });

  it("anyone may submit a claim; the funds go to the account", async function () {
    const a = accounts[1];
    const { proof, amount } = proofFor(tree, a.address);
    const before = await ethers.provider.getBalance(a.address);
    const r = await (await distributor.connect(stranger).claim(JOB, a.address, amount, proof)).wait();
    assert.equal(await ethers.provider.getBalance(a.address), before + amount);
    const ev = eventsOf(r, distributor, "Claimed")[0];
    assert.equal(ev.args.account, a.address);
    assert.equal(ev.args.amount, amount);
    assert.equal(ev.args.submitter, stranger.address);
    assert.equal(await distributor.claimed(JOB, a.address), true);
    assert.equal(await distributor.claimed(JOB, accounts[0].address), false);
    assert.equal((await distributor.distribution(JOB)).claimedAmount, amount);
  });

  it("rejects a double claim", async function () {
    const a = accounts[0];
    const { proof, amount } = proofFor(tree, a.address);
    await (await distributor.claim(JOB, a.address, amount, proof)).wait();
    await expectRevert(distributor.claim(JOB, a.address, amount, proof), distributor, "AlreadyClaimed", [JOB, a.address]);
  });

  it("rejects a wrong proof, a wrong amount, another account and an unknown job", async function () {
    const a = accounts[0];
    const { proof, amount } = proofFor(tree, a.address);
    const other = proofFor(tree, accounts[1].address);
    await expectRevert(distributor.claim(JOB, a.address, amount, other.proof), distributor, "InvalidProof");
    await expectRevert(distributor.claim(JOB, a.address, amount + 1n, proof), distributor, "InvalidProof", [
      JOB,
      a.address,
      amount + 1n,
    ]);
    await expectRevert(distributor.claim(JOB, stranger.address, amount, proof), distributor, "InvalidProof");
    await expectRevert(distributor.claim(JOB, a.address, amount, []), distributor, "InvalidProof");
    await expectRevert(distributor.claim(id("job:unknown"), a.address, amount, proof), distributor, "UnknownJob", [
      id("job:unknown"),
    ]);
  });

  it("claimBatch pays many accounts, skips the already claimed, and reverts on a bad proof", async function () {
    const first = proofFor(tree, accounts[0].address);
    await (await distributor.claim(JOB, accounts[0].address, first.amount, first.proof)).wait();
    const rows = accounts.map((a) => ({ a: a.address, ...proofFor(tree, a.address) }));
    const befores = await Promise.all(accounts.map((a) => ethers.provider.getBalance(a.address)));

    const bad = rows.map((x) => x.proof);
    bad[3] = rows[2].proof;
    await expectRevert(
      distributor.connect(operator).claimBatch(JOB, rows.map((x) => x.a), rows.map((x) => x.amount), bad),
      distributor,
      "InvalidProof"
    );
    await expectRevert(
      distributor.claimBatch(JOB, rows.map((x) => x.a), rows.map((x) => x.amount), []),
      distributor,
      "LengthMismatch"
    );
    const r = await (
      await distributor.connect(operator).claimBatch(JOB, rows.map((x) => x.a), rows.map((x) => x.amount), rows.map((x) => x.proof))
    ).wait();
    assert.equal(eventsOf(r, distributor, "Claimed").length, accounts.length - 1);
    for (const [i, a] of accounts.entries()) {
      assert.equal(await distributor.claimed(JOB, a.address), true);
      if (i > 0) assert.equal(await ethers.provider.getBalance(a.address), befores[i] + rows[i].amount);
    }
    assert.equal(await ethers.provider.getBalance(await distributor.getAddress()), 0n);
    assert.equal(await distributor.reserved(ethers.ZeroAddress), 0n);
  });

  it("claimMulti pays a set of leaves with one multiproof", async function () {
    const idx = [1, 3, 4];
    const mp = tree.getMultiProof(idx);
    const accountsIn = mp.leaves.map((l) => l[1]);
    const amountsIn = mp.leaves.map((l) => BigInt(l[2]));
    await expectRevert(
      distributor.claimMulti(JOB, accountsIn, amountsIn.map((x) => x + 1n), mp.proof, mp.proofFlags),
      distributor,
      "InvalidProof"
    );
    await (await distributor.claimMulti(JOB, accountsIn, amountsIn, mp.proof, mp.proofFlags)).wait();
    for (const a of accountsIn) assert.equal(await distributor.claimed(JOB, a), true);
    await expectRevert(distributor.claimMulti(JOB, accountsIn, amountsIn, mp.proof, mp.proofFlags), distributor, "AlreadyClaimed");
  });

  it("sweep: not before the window ends, only by the OPERATOR, then claims are closed", async function () {
    const a = accounts[0];
    const { proof, amount } = proofFor(tree, a.address);
    await (await distributor.claim(JOB, a.address, amount, proof)).wait();

    await expectRevert(distributor.connect(operator).sweep(JOB), distributor, "ClaimWindowOpen");
    await h.increase(30 * DAY + 1);
    await expectRevert(distributor.connect(stranger).sweep(JOB), distributor, "AccessControlUnauthorizedAccount", [
      stranger.address,
      roles.OPERATOR,
    ]);
    // claims still work after the deadline until the sweep happens
    const b = proofFor(tree, accounts[1].address);
    await (await distributor.claim(JOB, accounts[1].address, b.amount, b.proof)).wait();

    const before = await ethers.provider.getBalance(treasury.address);
    const r = await (await distributor.connect(operator).sweep(JOB)).wait();
    const rest = E("0.9") - amount - b.amount;
    assert.equal(eventsOf(r, distributor, "Swept")[0].args.amount, rest);
    assert.equal(await ethers.provider.getBalance(treasury.address), before + rest);
    assert.equal(await ethers.provider.getBalance(await distributor.getAddress()), 0n);
    const c = proofFor(tree, accounts[2].address);
    await expectRevert(distributor.claim(JOB, accounts[2].address, c.amount, c.proof), distributor, "AlreadySwept");
    await expectRevert(distributor.connect(operator).sweep(JOB), distributor, "AlreadySwept");
    await expectRevert(distributor.connect(operator).sweep(id("job:unknown")), distributor, "UnknownJob");
  });

  it("a tree paying more than the job's total cannot be drained past it", async function () {
    const J = id("job:overfull");
    const entries = [
      { account: accounts[0].address, amount: E("0.6") },
      { account: accounts[1].address, amount: E("0.6") },
    ];
    const t = payoutTree(J, entries);
    await (await s.market.connect(s.researcher).payNative(J, id("q"), (await h.latest()) + DAY, { value: E("1") })).wait();
    await (await s.market.connect(operator).commitResult(J, id("r"), id("m"))).wait();
    await (await s.market.connect(operator).finalize(J, t.root, E("1"), 0n)).wait();
    const p0 = proofFor(t, accounts[0].address);
    const p1 = proofFor(t, accounts[1].address);
    await (await distributor.claim(J, accounts[0].address, p0.amount, p0.proof)).wait();
    await expectRevert(distributor.claim(J, accounts[1].address, p1.amount, p1.proof), distributor, "ExceedsTotal", [J]);
    // the other job's funds are untouched
    assert.equal(await ethers.provider.getBalance(await distributor.getAddress()), E("0.9") + E("0.4"));
  });

  it("rejects plain ETH transfers and a second funding of the same job", async function () {
    await assert.rejects(stranger.sendTransaction({ to: await distributor.getAddress(), value: 1n }));
    await (await distributor.connect(s.admin).grantRole(roles.FUNDER, s.admin.address)).wait();
    await expectRevert(
      distributor.connect(s.admin).fundJob(JOB, ethers.ZeroAddress, tree.root, 1n, 30 * DAY, { value: 1n }),
      distributor,
      "JobAlreadyFunded"
    );
    await expectRevert(
      distributor.connect(s.admin).fundJob(id("j2"), ethers.ZeroAddress, tree.root, 2n, 30 * DAY, { value: 1n }),
      distributor,
      "WrongValue"
    );
    await expectRevert(
      distributor.connect(s.admin).fundJob(id("j2"), await s.token.getAddress(), tree.root, 2n, 30 * DAY),
      distributor,
      "UnderFunded"
    );
  });
});
