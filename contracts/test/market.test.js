"use strict";
const h = require("./helpers");
const { ethers, assert, expectRevert, eventsOf, roles, id, DAY } = h;

const State = { None: 0n, Escrowed: 1n, ResultCommitted: 2n, Finalized: 3n, Refunded: 4n };
const E = ethers.parseEther;

async function fixture() {
  const s = await h.deploySystem();
  // fund the researcher with PHR for token payments
  await (await s.token.connect(s.operator).mint(s.researcher.address, E("1000"))).wait();
  return s;
}

describe("JobMarket", function () {
  let s, market, token, distributor, operator, researcher, stranger, treasury, admin;
  const JOB = id("job:1");
  const QUOTE = id("quote:1");
  const ROOT = id("some-root");

  beforeEach(async function () {
    s = await h.loadFixture(fixture);
    ({ market, token, distributor, operator, researcher, stranger, treasury, admin } = s);
  });

  async function payNative(amount = E("1"), ttl = 7 * DAY, jobId = JOB) {
    const deadline = BigInt((await h.latest()) + ttl);
    await (await market.connect(researcher).payNative(jobId, QUOTE, deadline, { value: amount })).wait();
    return deadline;
  }

  describe("payment", function () {
    it("escrows native payment with an event and the job record", async function () {
      const deadline = BigInt((await h.latest()) + DAY);
      const r = await (await market.connect(researcher).payNative(JOB, QUOTE, deadline, { value: E("2") })).wait();
      const ev = eventsOf(r, market, "JobPaid")[0];
      assert.equal(ev.args.jobId, JOB);
      assert.equal(ev.args.payer, researcher.address);
      assert.equal(ev.args.asset, ethers.ZeroAddress);
      assert.equal(ev.args.amount, E("2"));
      const j = await market.getJob(JOB);
      assert.equal(j.state, State.Escrowed);
      assert.equal(j.amount, E("2"));
      assert.equal(j.deadline, deadline);
      assert.equal(j.quoteHash, QUOTE);
      assert.equal(await ethers.provider.getBalance(await market.getAddress()), E("2"));
    });

    it("escrows a RewardToken payment via approve + payToken", async function () {
      const deadline = BigInt((await h.latest()) + DAY);
      await (await token.connect(researcher).approve(await market.getAddress(), E("10"))).wait();
      await (await market.connect(researcher).payToken(JOB, QUOTE, E("10"), deadline)).wait();
      const j = await market.getJob(JOB);
      assert.equal(j.asset, await token.getAddress());
      assert.equal(await token.balanceOf(await market.getAddress()), E("10"));
      assert.equal(await token.balanceOf(researcher.address), E("990"));
    });

    it("accepts other ERC-20s only once the admin allows them", async function () {
      const other = await h.deploy("RewardToken", admin, admin.address, admin.address);
      await (await other.mint(researcher.address, E("5"))).wait();
      await (await other.connect(researcher).approve(await market.getAddress(), E("5"))).wait();
      const deadline = BigInt((await h.latest()) + DAY);
      await expectRevert(
        market.connect(researcher).payWithToken(JOB, QUOTE, await other.getAddress(), E("5"), deadline),
        market,
        "TokenNotAllowed"
      );
      await expectRevert(
        market.connect(stranger).setTokenAllowed(await other.getAddress(), true),
        market,
        "AccessControlUnauthorizedAccount",
        [stranger.address, roles.DEFAULT_ADMIN]
      );
      await (await market.connect(admin).setTokenAllowed(await other.getAddress(), true)).wait();
      await (await market.connect(researcher).payWithToken(JOB, QUOTE, await other.getAddress(), E("5"), deadline)).wait();
      assert.equal((await market.getJob(JOB)).asset, await other.getAddress());
    });

    it("reverts a second payment for the same job id (double pay)", async function () {
      await payNative();
      const deadline = BigInt((await h.latest()) + DAY);
      await expectRevert(
        market.connect(stranger).payNative(JOB, QUOTE, deadline, { value: 1n }),
        market,
        "JobExists",
        [JOB]
      );
      await (await token.connect(researcher).approve(await market.getAddress(), E("1"))).wait();
      await expectRevert(market.connect(researcher).payToken(JOB, QUOTE, E("1"), deadline), market, "JobExists");
    });

    it("reverts a payment whose deadline has passed, and zero payments", async function () {
      const now = await h.latest();
      await expectRevert(
        market.connect(researcher).payNative(JOB, QUOTE, now - 1, { value: 1n }),
        market,
        "DeadlinePassed"
      );
      await expectRevert(market.connect(researcher).payNative(JOB, QUOTE, now + DAY, { value: 0n }), market, "ZeroAmount");
      await expectRevert(market.connect(researcher).payToken(JOB, QUOTE, 0n, now + DAY), market, "ZeroAmount");
    });

    it("reverts a token payment without allowance (SafeERC20)", async function () {
      const deadline = BigInt((await h.latest()) + DAY);
      await expectRevert(market.connect(researcher).payToken(JOB, QUOTE, E("1"), deadline), token, "ERC20InsufficientAllowance");
    });
  });

  describe("result and finalisation", function () {
    it("only the OPERATOR commits results and finalises", async function () {
      await payNative();
      await expectRevert(
        market.connect(stranger).commitResult(JOB, id("r"), id("m")),
        market,
        "AccessControlUnauthorizedAccount",
        [stranger.address, roles.OPERATOR]
      );
      await (await market.connect(operator).commitResult(JOB, id("r"), id("m"))).wait();
      await expectRevert(
        market.connect(researcher).finalize(JOB, ROOT, E("1"), 0n),
        market,
        "AccessControlUnauthorizedAccount",
        [researcher.address, roles.OPERATOR]
      );
      await expectRevert(market.connect(stranger).reject(JOB), market, "AccessControlUnauthorizedAccount");
    });

    it("reverts commitResult twice, for an unknown job, or after the deadline", async function () {
      await expectRevert(market.connect(operator).commitResult(JOB, id("r"), id("m")), market, "WrongState", [
        JOB,
        State.None,
      ]);
      await payNative(E("1"), DAY);
      const r = await (await market.connect(operator).commitResult(JOB, id("r"), id("m"))).wait();
      const ev = eventsOf(r, market, "ResultCommitted")[0];
      assert.equal(ev.args.resultHash, id("r"));
      assert.equal(ev.args.metadataHash, id("m"));
      await expectRevert(market.connect(operator).commitResult(JOB, id("r2"), id("m")), market, "WrongState", [
        JOB,
        State.ResultCommitted,
      ]);
      const JOB2 = id("job:2");
      await payNative(E("1"), DAY, JOB2);
      await h.increase(DAY + 1);
      await expectRevert(market.connect(operator).commitResult(JOB2, id("r"), id("m")), market, "JobExpired");
    });

    it("reverts finalize before a result, with a wrong split, or with a zero root", async function () {
      await payNative(E("1"));
      await expectRevert(market.connect(operator).finalize(JOB, ROOT, E("0.9"), E("0.1")), market, "WrongState", [
        JOB,
        State.Escrowed,
      ]);
      await (await market.connect(operator).commitResult(JOB, id("r"), id("m"))).wait();
      await expectRevert(market.connect(operator).finalize(JOB, ROOT, E("0.9"), E("0.2")), market, "AmountMismatch", [
        E("1"),
        E("0.9"),
        E("0.2"),
      ]);
      await expectRevert(market.connect(operator).finalize(JOB, ROOT, E("0.8"), E("0.1")), market, "AmountMismatch");
      await expectRevert(market.connect(operator).finalize(JOB, ethers.ZeroHash, E("0.9"), E("0.1")), market, "ZeroRoot");
    });

    it("finalises native: fee to treasury, payout + root to the distributor", async function () {
      await payNative(E("1"));
      await (await market.connect(operator).commitResult(JOB, id("r"), id("m"))).wait();
      const before = await ethers.provider.getBalance(treasury.address);
      const r = await (await market.connect(operator).finalize(JOB, ROOT, E("0.9"), E("0.1"))).wait();
      assert.equal(await ethers.provider.getBalance(treasury.address), before + E("0.1"));
      assert.equal(await ethers.provider.getBalance(await distributor.getAddress()), E("0.9"));
      assert.equal(await ethers.provider.getBalance(await market.getAddress()), 0n);
      const ev = eventsOf(r, market, "JobFinalized")[0];
      assert.equal(ev.args.payoutRoot, ROOT);
      const d = await distributor.distribution(JOB);
      assert.equal(d.root, ROOT);
      assert.equal(d.total, E("0.9"));
      assert.equal(d.asset, ethers.ZeroAddress);
      const block = await ethers.provider.getBlock(r.blockNumber);
      assert.equal(d.claimDeadline, BigInt(block.timestamp + 365 * DAY));
      assert.equal(await market.stateOf(JOB), State.Finalized);
      await expectRevert(market.connect(operator).finalize(JOB, ROOT, E("0.9"), E("0.1")), market, "WrongState");
    });

    it("finalises tokens with an explicit claim window; all-fee jobs skip the distributor", async function () {
      const deadline = BigInt((await h.latest()) + DAY);
      await (await token.connect(researcher).approve(await market.getAddress(), E("11"))).wait();
      await (await market.connect(researcher).payToken(JOB, QUOTE, E("10"), deadline)).wait();
      await (await market.connect(operator).commitResult(JOB, id("r"), id("m"))).wait();
      await expectRevert(
        market.connect(operator).finalizeWithClaimWindow(JOB, ROOT, E("9"), E("1"), 60),
        distributor,
        "InvalidClaimWindow"
      );
      await (await market.connect(operator).finalizeWithClaimWindow(JOB, ROOT, E("9"), E("1"), 30 * DAY)).wait();
      assert.equal(await token.balanceOf(treasury.address), E("1"));
      assert.equal(await token.balanceOf(await distributor.getAddress()), E("9"));
      assert.equal(await distributor.reserved(await token.getAddress()), E("9"));

      const JOB2 = id("job:fee-only");
      await (await market.connect(researcher).payToken(JOB2, QUOTE, E("1"), deadline)).wait();
      await (await market.connect(operator).commitResult(JOB2, id("r"), id("m"))).wait();
      await (await market.connect(operator).finalize(JOB2, ethers.ZeroHash, 0n, E("1"))).wait();
      assert.equal(await token.balanceOf(treasury.address), E("2"));
    });

    it("the distributor accepts funding only from the JobMarket (FUNDER_ROLE)", async function () {
      await expectRevert(
        distributor.connect(operator).fundJob(JOB, ethers.ZeroAddress, ROOT, 1n, 30 * DAY, { value: 1n }),
        distributor,
        "AccessControlUnauthorizedAccount",
        [operator.address, roles.FUNDER]
      );
    });
  });

  describe("cancel and refunds", function () {
    it("the payer cancels before a result and is refunded", async function () {
      await payNative(E("3"));
      await expectRevert(market.connect(stranger).cancel(JOB), market, "NotPayer", [JOB, stranger.address]);
      const before = await ethers.provider.getBalance(researcher.address);
      const r = await (await market.connect(researcher).cancel(JOB)).wait();
      const gas = r.gasUsed * r.gasPrice;
      assert.equal(await ethers.provider.getBalance(researcher.address), before + E("3") - gas);
      const ev = eventsOf(r, market, "JobRefunded")[0];
      assert.equal(ev.args.reason, 0n); // Cancelled
      assert.equal(await market.stateOf(JOB), State.Refunded);
      await expectRevert(market.connect(researcher).cancel(JOB), market, "WrongState", [JOB, State.Refunded]);
      await expectRevert(market.connect(operator).commitResult(JOB, id("r"), id("m")), market, "WrongState");
    });

    it("cancel after a result commitment reverts", async function () {
      await payNative();
      await (await market.connect(operator).commitResult(JOB, id("r"), id("m"))).wait();
      await expectRevert(market.connect(researcher).cancel(JOB), market, "WrongState", [JOB, State.ResultCommitted]);
    });

    it("refundExpired: not before the deadline, by anyone after it, never after finalize", async function () {
      await payNative(E("1"), DAY);
      await expectRevert(market.connect(stranger).refundExpired(JOB), market, "DeadlineNotReached");
      await (await market.connect(operator).commitResult(JOB, id("r"), id("m"))).wait();
      await h.increase(DAY + 1);
      await expectRevert(market.connect(operator).finalize(JOB, ROOT, E("1"), 0n), market, "JobExpired");
      const before = await ethers.provider.getBalance(researcher.address);
      const r = await (await market.connect(stranger).refundExpired(JOB)).wait();
      assert.equal(eventsOf(r, market, "JobRefunded")[0].args.reason, 2n); // Expired
      assert.equal(await ethers.provider.getBalance(researcher.address), before + E("1"));
      await expectRevert(market.connect(stranger).refundExpired(JOB), market, "WrongState", [JOB, State.Refunded]);

      const JOB2 = id("job:2");
      await payNative(E("1"), DAY, JOB2);
      await (await market.connect(operator).commitResult(JOB2, id("r"), id("m"))).wait();
      await (await market.connect(operator).finalize(JOB2, ROOT, E("1"), 0n)).wait();
      await h.increase(DAY + 1);
      await expectRevert(market.connect(stranger).refundExpired(JOB2), market, "WrongState", [JOB2, State.Finalized]);
      await expectRevert(market.connect(researcher).cancel(JOB2), market, "WrongState", [JOB2, State.Finalized]);
      await expectRevert(market.connect(operator).reject(JOB2), market, "WrongState", [JOB2, State.Finalized]);
    });

    it("refunds token payments to the payer; the operator may reject a job", async function () {
      const deadline = BigInt((await h.latest()) + DAY);
      await (await token.connect(researcher).approve(await market.getAddress(), E("10"))).wait();
      await (await market.connect(researcher).payToken(JOB, QUOTE, E("10"), deadline)).wait();
      const r = await (await market.connect(operator).reject(JOB)).wait();
      assert.equal(eventsOf(r, market, "JobRefunded")[0].args.reason, 1n); // Rejected
      assert.equal(await token.balanceOf(researcher.address), E("1000"));
    });
  });

  describe("admin", function () {
    it("only the admin changes treasury, default token and claim window", async function () {
      await expectRevert(market.connect(operator).setTreasury(stranger.address), market, "AccessControlUnauthorizedAccount");
      await expectRevert(market.connect(operator).setDefaultToken(stranger.address), market, "AccessControlUnauthorizedAccount");
      await expectRevert(market.connect(operator).setDefaultClaimWindow(DAY), market, "AccessControlUnauthorizedAccount");
      await expectRevert(distributor.connect(operator).setTreasury(stranger.address), distributor, "AccessControlUnauthorizedAccount");
      await expectRevert(token.connect(stranger).mint(stranger.address, 1n), token, "AccessControlUnauthorizedAccount", [
        stranger.address,
        roles.MINTER,
      ]);
      await expectRevert(market.connect(admin).setTreasury(ethers.ZeroAddress), market, "ZeroAddress");
      const r = await (await market.connect(admin).setTreasury(stranger.address)).wait();
      assert.equal(eventsOf(r, market, "TreasuryChanged").length, 1);
      assert.equal(await market.treasury(), stranger.address);
    });

    it("RewardToken metadata", async function () {
      assert.equal(await token.name(), "PrivateHealth Reward");
      assert.equal(await token.symbol(), "PHR");
      assert.equal(await token.decimals(), 18n);
    });
  });
});
