"use strict";
// Reentrancy and hostile receivers, using test-contracts/ReentrantReceiver.sol.
const h = require("./helpers");
const { ethers, assert, expectRevert, eventsOf, id, DAY, payoutTree, proofFor } = h;

const E = ethers.parseEther;
const Mode = { Off: 0, Bubble: 1, Swallow: 2, Reject: 3 };

async function fixture() {
  const s = await h.deploySystem();
  const attacker = await h.deploy("ReentrantReceiver", s.stranger);
  return { ...s, attacker };
}

describe("Reentrancy and hostile receivers", function () {
  let s, market, distributor, operator, attacker, attackerAddr;
  beforeEach(async function () {
    s = await h.loadFixture(fixture);
    ({ market, distributor, operator, attacker } = s);
    attackerAddr = await attacker.getAddress();
  });

  /** A finalised native job paying `amount` to the attacker contract and 0.5 ETH to an honest account. */
  async function jobPayingAttacker(jobId, amount) {
    const honest = s.others[0].address;
    const tree = payoutTree(jobId, [
      { account: attackerAddr, amount },
      { account: honest, amount: E("0.5") },
    ]);
    const total = amount + E("0.5");
    await (await market.connect(s.researcher).payNative(jobId, id("q"), (await h.latest()) + DAY, { value: total })).wait();
    await (await market.connect(operator).commitResult(jobId, id("r"), id("m"))).wait();
    await (await market.connect(operator).finalize(jobId, tree.root, total, 0n)).wait();
    return { tree, honest };
  }

  it("a claim re-entered from the receiver fails (guard) and pays once", async function () {
    const JOB = id("job:reenter-claim");
    const { tree } = await jobPayingAttacker(JOB, E("1"));
    const { proof, amount } = proofFor(tree, attackerAddr);
    const again = distributor.interface.encodeFunctionData("claim", [JOB, attackerAddr, amount, proof]);

    // Swallow: the re-entry fails with the guard's error, the outer claim pays exactly once.
    await (await attacker.arm(Mode.Swallow, await distributor.getAddress(), again)).wait();
    await (await distributor.claim(JOB, attackerAddr, amount, proof)).wait();
    assert.equal(await attacker.reentryAttempts(), 1n);
    assert.equal(await attacker.lastReentrySucceeded(), false);
    const err = distributor.interface.parseError(await attacker.lastReentryError());
    assert.equal(err.name, "ReentrancyGuardReentrantCall");
    assert.equal(await ethers.provider.getBalance(attackerAddr), amount);
    assert.equal(await ethers.provider.getBalance(await distributor.getAddress()), E("0.5"));
    await expectRevert(distributor.claim(JOB, attackerAddr, amount, proof), distributor, "AlreadyClaimed");
  });

  it("a receiver whose re-entry reverts its own receive gets its payout deferred, never twice", async function () {
    const JOB = id("job:reenter-bubble");
    const { tree } = await jobPayingAttacker(JOB, E("1"));
    const { proof, amount } = proofFor(tree, attackerAddr);
    const again = distributor.interface.encodeFunctionData("claim", [JOB, attackerAddr, amount, proof]);
    // Bubble: the re-entry's revert makes the ETH transfer fail; the claim is recorded and the
    // amount is credited to pendingNative instead (no double payment, no blocked claim).
    await (await attacker.arm(Mode.Bubble, await distributor.getAddress(), again)).wait();
    const r = await (await distributor.claim(JOB, attackerAddr, amount, proof)).wait();
    assert.equal(eventsOf(r, distributor, "PayoutDeferred").length, 1);
    assert.equal(await distributor.claimed(JOB, attackerAddr), true);
    assert.equal(await distributor.pendingNative(attackerAddr), amount);
    assert.equal(await ethers.provider.getBalance(attackerAddr), 0n);
    assert.equal(await ethers.provider.getBalance(await distributor.getAddress()), E("1.5"));
  });

  it("a refund re-entering cancel/refundExpired gets nothing more", async function () {
    const JOB = id("job:reenter-refund");
    const deadline = (await h.latest()) + DAY;
    const pay = market.interface.encodeFunctionData("payNative", [JOB, id("q"), deadline]);
    await (await attacker.exec(await market.getAddress(), pay, { value: E("2") })).wait();
    assert.equal((await market.getJob(JOB)).payer, attackerAddr);
    const cancel = market.interface.encodeFunctionData("cancel", [JOB]);

    // Bubble: the guard's revert inside receive makes the refund transfer fail -> the cancel reverts.
    await (await attacker.arm(Mode.Bubble, await market.getAddress(), cancel)).wait();
    await expectRevert(attacker.exec(await market.getAddress(), cancel), market, "NativeTransferFailed", [
      attackerAddr,
      E("2"),
    ]);
    assert.equal(await market.stateOf(JOB), 1n);

    await (await attacker.arm(Mode.Swallow, await market.getAddress(), cancel)).wait();
    await (await attacker.exec(await market.getAddress(), cancel)).wait();
    assert.equal(await attacker.lastReentrySucceeded(), false);
    assert.equal(
      market.interface.parseError(await attacker.lastReentryError()).name,
      "ReentrancyGuardReentrantCall"
    );
    assert.equal(await ethers.provider.getBalance(attackerAddr), E("2"));
    assert.equal(await ethers.provider.getBalance(await market.getAddress()), 0n);
  });

  it("a receiver that rejects ETH cannot block a batch: its payout is deferred to withdrawPending", async function () {
    const JOB = id("job:reject");
    const { tree, honest } = await jobPayingAttacker(JOB, E("1"));
    await (await attacker.arm(Mode.Reject, ethers.ZeroAddress, "0x")).wait();
    const rows = [attackerAddr, honest].map((a) => ({ a, ...proofFor(tree, a) }));
    const honestBefore = await ethers.provider.getBalance(honest);
    const r = await (
      await distributor.connect(operator).claimBatch(JOB, rows.map((x) => x.a), rows.map((x) => x.amount), rows.map((x) => x.proof))
    ).wait();
    const deferred = eventsOf(r, distributor, "PayoutDeferred");
    assert.equal(deferred.length, 1);
    assert.equal(deferred[0].args.account, attackerAddr);
    assert.equal(await ethers.provider.getBalance(honest), honestBefore + E("0.5"));
    assert.equal(await distributor.pendingNative(attackerAddr), E("1"));
    assert.equal(await distributor.claimed(JOB, attackerAddr), true);

    // the account withdraws its credit to another address
    const to = s.others[1].address;
    const toBefore = await ethers.provider.getBalance(to);
    const w = distributor.interface.encodeFunctionData("withdrawPending", [to]);
    await (await attacker.exec(await distributor.getAddress(), w)).wait();
    assert.equal(await ethers.provider.getBalance(to), toBefore + E("1"));
    assert.equal(await distributor.pendingNative(attackerAddr), 0n);
    await expectRevert(attacker.exec(await distributor.getAddress(), w), distributor, "NothingPending");
  });

  it("a reentrant receiver cannot re-enter finalize through the treasury", async function () {
    // the treasury is a hostile contract that tries to finalize a second job while receiving the fee
    await (await market.connect(s.admin).setTreasury(attackerAddr)).wait();
    const J1 = id("job:t1");
    const J2 = id("job:t2");
    for (const j of [J1, J2]) {
      await (await market.connect(s.researcher).payNative(j, id("q"), (await h.latest()) + DAY, { value: E("1") })).wait();
      await (await market.connect(operator).commitResult(j, id("r"), id("m"))).wait();
    }
    const fin = market.interface.encodeFunctionData("finalize", [J2, id("root"), E("0.5"), E("0.5")]);
    await (await attacker.arm(Mode.Swallow, await market.getAddress(), fin)).wait();
    await (await market.connect(operator).finalize(J1, id("root"), E("0.5"), E("0.5"))).wait();
    assert.equal(await attacker.lastReentrySucceeded(), false); // not OPERATOR, and guarded
    assert.equal(await market.stateOf(J2), 2n);
  });
});
