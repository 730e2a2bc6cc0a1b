"use strict";
// End-to-end: consent and contribution commitments relayed with signatures, a token-paid job,
// result commitment, finalisation with a Merkle tree built here, every participant claims.
const h = require("./helpers");
const { ethers, assert, eventsOf, signTyped, id, DAY, payoutTree, proofFor } = h;

const E = ethers.parseEther;
const PURPOSE = id("purpose:cardio-study");

describe("Full settlement flow", function () {
  it("consent -> commitments -> pay -> commit -> finalize -> claims, balances exact", async function () {
    const s = await h.loadFixture(h.deploySystem);
    const { registry, market, distributor, token, operator, relayer, researcher, treasury } = s;
    const participants = s.others.slice(0, 5);
    const deadline = BigInt((await h.latest()) + DAY);

    // 1. consent + contribution commitments, relayed in two batches with the participants' signatures
    const consents = [];
    const contribs = [];
    for (const [i, p] of participants.entries()) {
      const c = { participant: p.address, purpose: PURPOSE, granted: true, nonce: 0n, deadline };
      consents.push({ c, sig: await signTyped(p, registry, "Consent", c) });
      const k = {
        participant: p.address,
        contributionId: id(`contribution:${i}`),
        purpose: PURPOSE,
        commitment: id(`sha256-of-ciphertext-${i}`),
        nonce: 1n,
        deadline,
      };
      contribs.push({ k, sig: await signTyped(p, registry, "Contribution", k) });
    }
    await (await registry.connect(relayer).relayConsentBatch(consents.map((x) => x.c), consents.map((x) => x.sig))).wait();
    const rc = await (
      await registry.connect(relayer).relayContributionBatch(contribs.map((x) => x.k), contribs.map((x) => x.sig))
    ).wait();
    assert.equal(eventsOf(rc, registry, "ContributionRecorded").length, participants.length);

    // 2. the researcher pays 100 PHR for the job
    const JOB = id("job:cardio-1");
    const price = E("100");
    await (await token.connect(operator).mint(researcher.address, price)).wait();
    await (await token.connect(researcher).approve(await market.getAddress(), price)).wait();
    await (await market.connect(researcher).payToken(JOB, id("quote"), price, deadline)).wait();

    // 3. result, then settlement: 10 PHR fee, 90 PHR over the contributors (uneven shares)
    await (await market.connect(operator).commitResult(JOB, id("result"), id("metadata"))).wait();
    const shares = [E("30"), E("25"), E("15"), E("12.5"), E("7.5")];
    const entries = participants.map((p, i) => ({ account: p.address, amount: shares[i] }));
    const tree = payoutTree(JOB, entries);
    const fr = await (await market.connect(operator).finalize(JOB, tree.root, E("90"), E("10"))).wait();
    assert.equal(eventsOf(fr, distributor, "JobFunded").length, 1);
    assert.equal(await token.balanceOf(treasury.address), E("10"));
    assert.equal(await token.balanceOf(await distributor.getAddress()), E("90"));

    // 4. each participant claims (first three themselves, the last two in a coordinator batch)
    for (const p of participants.slice(0, 3)) {
      const { proof, amount } = proofFor(tree, p.address);
      await (await distributor.connect(p).claim(JOB, p.address, amount, proof)).wait();
    }
    const rest = participants.slice(3).map((p) => ({ a: p.address, ...proofFor(tree, p.address) }));
    await (
      await distributor.connect(operator).claimBatch(JOB, rest.map((x) => x.a), rest.map((x) => x.amount), rest.map((x) => x.proof))
    ).wait();

    for (const [i, p] of participants.entries()) {
      assert.equal(await token.balanceOf(p.address), shares[i], `participant ${i}`);
      assert.equal(await distributor.claimed(JOB, p.address), true);
    }
    assert.equal(await token.balanceOf(await distributor.getAddress()), 0n);
    assert.equal(await token.balanceOf(await market.getAddress()), 0n);
    assert.equal(await token.balanceOf(researcher.address), 0n);
    const d = await distributor.distribution(JOB);
    assert.equal(d.claimedAmount, d.total);
    assert.equal(await token.totalSupply(), price);
  });
});
