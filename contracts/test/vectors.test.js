"use strict";
// Fixed encoding vectors published in docs/contracts.md for the C# side (no chain needed).
const { ethers, assert } = require("./helpers");
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");

describe("Encoding vectors (docs/contracts.md)", function () {
  const coder = ethers.AbiCoder.defaultAbiCoder();
  const jobId = ethers.id("job:example");
  const alice = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
  const bob = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
  const oneEth = 10n ** 18n;

  it("payout leaf and a two-leaf root", function () {
    assert.equal(jobId, "0x9f7f2ac56df334721ea381e374d0f1d095ea73e4169888e4e701bee58fe83eca");
    const leaf = ethers.keccak256(ethers.keccak256(coder.encode(["bytes32", "address", "uint256"], [jobId, alice, oneEth])));
    assert.equal(leaf, "0xb8568d4f7f32823496eba46bd623c5a375dfb40a39b9b0a7baa39ff655e44105");
    const t = StandardMerkleTree.of(
      [
        [jobId, alice, oneEth],
        [jobId, bob, 2n * oneEth],
      ],
      ["bytes32", "address", "uint256"]
    );
    assert.equal(t.root, "0x2712f46a2ca300f04bb49cf4b8299be827b6e9fd29c3546e59df8a422e0211c9");
    assert.deepEqual(t.getProof(0), ["0x6cad9e40df519c48fac90852fbe6ff33be8cc120f6d6ba7a4c731da9dc928afe"]);
  });

  it("EIP-712 type hashes, domain separator and a Consent digest", function () {
    assert.equal(
      ethers.id("Consent(address participant,bytes32 purpose,bool granted,uint256 nonce,uint256 deadline)"),
      "0xeaf2bae0d2ed30fcfb06ea7f557f34f6d1a65f531389205159565246e82af30e"
    );
    const domain = {
      name: "PrivateHealth ContributionRegistry",
      version: "1",
      chainId: 31337,
      verifyingContract: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
    };
    assert.equal(ethers.TypedDataEncoder.hashDomain(domain), "0xd8218a9912a15ff73b1e3ce188dd320068a1ba175c05b9e8a81bc309601697ba");
    const { EIP712_TYPES } = require("./helpers");
    const v = { participant: alice, purpose: ethers.id("purpose:example"), granted: true, nonce: 0n, deadline: 1893456000n };
    assert.equal(
      ethers.TypedDataEncoder.hash(domain, EIP712_TYPES.Consent, v),
      "0xd8a8d26aa8b6f672914127614e3d6ced806c851c60dca47424952a96f5fa9818"
    );
  });
});
