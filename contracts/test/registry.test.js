"use strict";
const h = require("./helpers");
const { ethers, assert, expectRevert, eventsOf, signTyped, roles, id } = h;

const PURPOSE = id("purpose:diabetes-cohort-2025");
const OTHER_PURPOSE = id("purpose:other");

async function fixture() {
  const s = await h.deploySystem();
  return s;
}

describe("ContributionRegistry", function () {
  let s, registry, relayer, alice, bob, stranger;
  beforeEach(async function () {
    s = await h.loadFixture(fixture);
    ({ registry, relayer, stranger } = s);
    [alice, bob] = s.others;
  });

  async function consentReq(signer, granted, overrides = {}) {
    const value = {
      participant: signer.address,
      purpose: PURPOSE,
      granted,
      nonce: await registry.nonces(signer.address),
      deadline: BigInt((await h.latest()) + 3600),
      ...overrides,
    };
    return { value, sig: await signTyped(signer, registry, "Consent", value) };
  }
  async function contributionReq(signer, contributionId, overrides = {}) {
    const value = {
      participant: signer.address,
      contributionId,
      purpose: PURPOSE,
      commitment: id(`commitment:${contributionId}`),
      nonce: await registry.nonces(signer.address),
      deadline: BigInt((await h.latest()) + 3600),
      ...overrides,
    };
    return { value, sig: await signTyped(signer, registry, "Contribution", value) };
  }

  describe("direct calls", function () {
    it("records consent grant and revocation with timestamps and events", async function () {
      const r1 = await (await registry.connect(alice).setConsent(PURPOSE, true)).wait();
      const ev = eventsOf(r1, registry, "ConsentChanged");
      assert.equal(ev.length, 1);
      assert.equal(ev[0].args.participant, alice.address);
      assert.equal(ev[0].args.granted, true);
      assert.equal(ev[0].args.submitter, alice.address);
      let c = await registry.consentOf(alice.address, PURPOSE);
      assert.equal(c.granted, true);
      assert.ok(c.grantedAt > 0n);
      assert.equal(c.revokedAt, 0n);
      assert.equal(await registry.hasConsent(alice.address, PURPOSE), true);

      await (await registry.connect(alice).setConsent(PURPOSE, false)).wait();
      c = await registry.consentOf(alice.address, PURPOSE);
      assert.equal(c.granted, false);
      assert.ok(c.revokedAt >= c.grantedAt);
      assert.equal(await registry.nonces(alice.address), 2n, "direct changes consume nonces");
    });

    it("rejects an unchanged consent", async function () {
      await expectRevert(registry.connect(alice).setConsent(PURPOSE, false), registry, "ConsentUnchanged");
      await (await registry.connect(alice).setConsent(PURPOSE, true)).wait();
      await expectRevert(registry.connect(alice).setConsent(PURPOSE, true), registry, "ConsentUnchanged");
    });

    it("records a contribution commitment only with consent, once per id, and lets the participant revoke it", async function () {
      const cid = id("contribution:1");
      await expectRevert(
        registry.connect(alice).recordContribution(cid, PURPOSE, id("c")),
        registry,
        "ConsentNotGranted",
        [alice.address, PURPOSE]
      );
      await (await registry.connect(alice).setConsent(PURPOSE, true)).wait();
      const r = await (await registry.connect(alice).recordContribution(cid, PURPOSE, id("c"))).wait();
      assert.equal(eventsOf(r, registry, "ContributionRecorded").length, 1);
      const rec = await registry.contributionOf(cid);
      assert.equal(rec.participant, alice.address);
      assert.equal(rec.purpose, PURPOSE);
      assert.equal(rec.commitment, id("c"));
      assert.equal(await registry.isActiveContribution(cid), true);

      await expectRevert(registry.connect(alice).recordContribution(cid, PURPOSE, id("d")), registry, "ContributionExists");
      await (await registry.connect(bob).setConsent(PURPOSE, true)).wait();
      await expectRevert(registry.connect(bob).recordContribution(cid, PURPOSE, id("d")), registry, "ContributionExists");
      await expectRevert(registry.connect(bob).revokeContribution(cid), registry, "NotContributor");
      await expectRevert(registry.connect(bob).revokeContribution(id("nope")), registry, "UnknownContribution");

      const rv = await (await registry.connect(alice).revokeContribution(cid)).wait();
      assert.equal(eventsOf(rv, registry, "ContributionRevoked").length, 1);
      assert.equal(await registry.isActiveContribution(cid), false);
      await expectRevert(registry.connect(alice).revokeContribution(cid), registry, "ContributionAlreadyRevoked");
    });

    it("has no transfer function (records are bound to the participant)", async function () {
      const names = registry.interface.fragments.filter((f) => f.type === "function").map((f) => f.name);
      assert.ok(!names.some((n) => /transfer|approve/i.test(n)), names.join(","));
    });
  });

  describe("relayed calls (EIP-712)", function () {
    it("relays consent and contribution with the participant's signature", async function () {
      const c = await consentReq(alice, true);
      const r = await (await registry.connect(relayer).relayConsent(c.value, c.sig)).wait();
      const ev = eventsOf(r, registry, "ConsentChanged")[0];
      assert.equal(ev.args.participant, alice.address);
      assert.equal(ev.args.submitter, relayer.address);
      assert.equal(await registry.hasConsent(alice.address, PURPOSE), true);

      const cid = id("contribution:relayed");
      const k = await contributionReq(alice, cid);
      await (await registry.connect(relayer).relayContribution(k.value, k.sig)).wait();
      assert.equal((await registry.contributionOf(cid)).participant, alice.address);

      const rvValue = {
        participant: alice.address,
        contributionId: cid,
        nonce: await registry.nonces(alice.address),
        deadline: BigInt((await h.latest()) + 60),
      };
      const rvSig = await signTyped(alice, registry, "ContributionRevocation", rvValue);
      await (await registry.connect(relayer).relayRevocation(rvValue, rvSig)).wait();
      assert.equal(await registry.isActiveContribution(cid), false);
      assert.equal(await registry.nonces(alice.address), 3n);
    });

    it("computes the same digest as ethers' TypedDataEncoder", async function () {
      const c = await consentReq(alice, true);
      const domain = await h.registryDomain(registry);
      const expected = ethers.TypedDataEncoder.hash(domain, h.EIP712_TYPES.Consent, c.value);
      assert.equal(await registry.hashConsent(c.value), expected);
      assert.equal(await registry.domainSeparator(), ethers.TypedDataEncoder.hashDomain(domain));
      const k = await contributionReq(alice, id("x"));
      assert.equal(
        await registry.hashContribution(k.value),
        ethers.TypedDataEncoder.hash(domain, h.EIP712_TYPES.Contribution, k.value)
      );
    });

    it("rejects a replayed signature", async function () {
      const c = await consentReq(alice, true);
      await (await registry.connect(relayer).relayConsent(c.value, c.sig)).wait();
      await (await registry.connect(alice).setConsent(PURPOSE, false)).wait();
      await expectRevert(registry.connect(relayer).relayConsent(c.value, c.sig), registry, "InvalidAccountNonce", [
        alice.address,
        2n,
      ]);
    });

    it("a direct change cancels signatures handed out earlier", async function () {
      const c = await consentReq(alice, true); // nonce 0, not yet relayed
      await (await registry.connect(alice).cancelPendingSignatures()).wait();
      await expectRevert(registry.connect(relayer).relayConsent(c.value, c.sig), registry, "InvalidAccountNonce");
    });

    it("rejects an expired signature", async function () {
      const c = await consentReq(alice, true, { deadline: BigInt((await h.latest()) + 10) });
      await h.increase(20);
      await expectRevert(registry.connect(relayer).relayConsent(c.value, c.sig), registry, "SignatureExpired", [
        c.value.deadline,
      ]);
    });

    it("rejects a signature by the wrong signer or over other values", async function () {
      const value = {
        participant: alice.address,
        purpose: PURPOSE,
        granted: true,
        nonce: 0n,
        deadline: BigInt((await h.latest()) + 3600),
      };
      const bySomeoneElse = await signTyped(bob, registry, "Consent", value);
      await expectRevert(registry.connect(relayer).relayConsent(value, bySomeoneElse), registry, "InvalidSignature", [
        alice.address,
      ]);
      const good = await signTyped(alice, registry, "Consent", value);
      await expectRevert(
        registry.connect(relayer).relayConsent({ ...value, purpose: OTHER_PURPOSE }, good),
        registry,
        "InvalidSignature"
      );
      await expectRevert(registry.connect(relayer).relayConsent(value, "0x1234"), registry, "InvalidSignature");
    });

    it("only a RELAYER may relay", async function () {
      const c = await consentReq(alice, true);
      await expectRevert(
        registry.connect(stranger).relayConsent(c.value, c.sig),
        registry,
        "AccessControlUnauthorizedAccount",
        [stranger.address, roles.RELAYER]
      );
      await expectRevert(registry.connect(alice).relayConsentBatch([c.value], [c.sig]), registry, "AccessControlUnauthorizedAccount");
      await expectRevert(
        registry.connect(stranger).grantRole(roles.RELAYER, stranger.address),
        registry,
        "AccessControlUnauthorizedAccount",
        [stranger.address, roles.DEFAULT_ADMIN]
      );
    });

    it("relays a batch of consents and contributions atomically", async function () {
      const people = s.others.slice(0, 8);
      const consents = [];
      for (const p of people) consents.push(await consentReq(p, true));
      const r = await (
        await registry.connect(relayer).relayConsentBatch(
          consents.map((c) => c.value),
          consents.map((c) => c.sig)
        )
      ).wait();
      assert.equal(eventsOf(r, registry, "ConsentChanged").length, people.length);

      const contribs = [];
      for (const [i, p] of people.entries()) contribs.push(await contributionReq(p, id(`batch:${i}`)));
      // one bad entry (already used id) makes the whole batch revert
      const bad = await contributionReq(people[0], id("batch:1"), { nonce: 2n });
      await expectRevert(
        registry.connect(relayer).relayContributionBatch(
          [...contribs.map((c) => c.value), bad.value],
          [...contribs.map((c) => c.sig), bad.sig]
        ),
        registry,
        "ContributionExists"
      );
      assert.equal((await registry.contributionOf(id("batch:0"))).participant, ethers.ZeroAddress);
      await expectRevert(
        registry.connect(relayer).relayContributionBatch([contribs[0].value], []),
        registry,
        "LengthMismatch"
      );
      await (
        await registry.connect(relayer).relayContributionBatch(
          contribs.map((c) => c.value),
          contribs.map((c) => c.sig)
        )
      ).wait();
      for (const [i, p] of people.entries()) {
        assert.equal((await registry.contributionOf(id(`batch:${i}`))).participant, p.address);
      }
    });
  });
});
