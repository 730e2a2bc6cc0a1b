using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using PrivateHealth.Ethereum;
using PrivateHealth.Ethereum.Tests;

namespace PrivateHealth.Settlement.Tests;

/// <summary>PayoutTree: docs/contracts.md vectors, OpenZeppelin StandardMerkleTree cross-check, verification, large trees.</summary>
public sealed class PayoutTreeTests(ITestOutputHelper output)
{
    private static readonly Hash32 ExampleJob = new(Keccak256.Hash("job:example"));
    private static readonly Address Account1 = Address.Parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    private static readonly Address Account2 = Address.Parse("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");

    [Fact]
    public void DocumentedLeafRootAndProof()
    {
        Assert.Equal(Hash32.Parse("0x9f7f2ac56df334721ea381e374d0f1d095ea73e4169888e4e701bee58fe83eca"), ExampleJob);
        Hash32 leaf = PayoutTree.LeafHash(ExampleJob, Account1, Live.Ether);
        Assert.Equal(Hash32.Parse("0xb8568d4f7f32823496eba46bd623c5a375dfb40a39b9b0a7baa39ff655e44105"), leaf);

        var tree = new PayoutTree(ExampleJob, [new PayoutLeaf(Account1, Live.Ether), new PayoutLeaf(Account2, 2 * Live.Ether)]);
        Assert.Equal(Hash32.Parse("0x2712f46a2ca300f04bb49cf4b8299be827b6e9fd29c3546e59df8a422e0211c9"), tree.Root);
        Assert.Equal([Hash32.Parse("0x6cad9e40df519c48fac90852fbe6ff33be8cc120f6d6ba7a4c731da9dc928afe")], tree.ProofFor(Account1));
        Assert.Equal([leaf], tree.ProofFor(Account2));
        Assert.True(PayoutTree.Verify(tree.Root, leaf, tree.ProofFor(Account1)));
        Assert.Equal(3 * Live.Ether, tree.Total);
        Assert.Equal(2 * Live.Ether, tree.LeafFor(Account2).Amount);
    }

    [Fact]
    public void OneLeafTreeIsItsLeaf()
    {
        var tree = new PayoutTree(ExampleJob, [new PayoutLeaf(Account1, 5)]);
        Assert.Equal(PayoutTree.LeafHash(ExampleJob, Account1, 5), tree.Root);
        Assert.Empty(tree.ProofFor(Account1));
    }

    [Fact]
    public void InvalidLeavesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new PayoutTree(ExampleJob, []));
        Assert.Throws<ArgumentException>(() => new PayoutTree(ExampleJob, [new PayoutLeaf(Account1, 1), new PayoutLeaf(Account1, 2)]));
        Assert.Throws<ArgumentException>(() => new PayoutTree(ExampleJob, [new PayoutLeaf(Account1, 0)]));
        Assert.Throws<ArgumentException>(() => new PayoutTree(ExampleJob, [new PayoutLeaf(Account1, -1)]));
        Assert.Throws<ArgumentException>(() => new PayoutTree(ExampleJob, [new PayoutLeaf(Account1, BigInteger.One << 256)]));
        var tree = new PayoutTree(ExampleJob, [new PayoutLeaf(Account1, 1)]);
        Assert.Throws<KeyNotFoundException>(() => tree.ProofFor(Account2));
    }

    [Fact]
    public async Task SmallTreesMatchOpenZeppelin()
    {
        // Every size 1..40 (all shapes of the last levels), one node process.
        var random = new Random(17);
        await CrossCheckAsync([.. Enumerable.Range(1, 40).Select(n => RandomLeaves(random, n))]);
    }

    [Fact]
    public async Task RandomTreesUpTo300LeavesMatchOpenZeppelin()
    {
        var random = new Random(4242);
        int[] sizes = [.. new[] { 63, 64, 65, 127, 128, 129, 255, 256, 257, 299, 300 }, .. Enumerable.Range(0, 14).Select(_ => random.Next(1, 301))];
        await CrossCheckAsync([.. sizes.Select(n => RandomLeaves(random, n))]);
    }

    [Fact]
    public void VerifyAcceptsTrueProofsAndRejectsTamperedOnes()
    {
        var random = new Random(99);
        foreach (int n in new[] { 2, 3, 5, 8, 33, 100 })
        {
            (Hash32 job, List<PayoutLeaf> leaves) = RandomLeaves(random, n);
            var tree = new PayoutTree(job, leaves);
            foreach (PayoutLeaf leaf in leaves)
            {
                Hash32 hash = PayoutTree.LeafHash(job, leaf.Account, leaf.Amount);
                IReadOnlyList<Hash32> proof = tree.ProofFor(leaf.Account);
                Assert.True(PayoutTree.Verify(tree.Root, hash, proof));

                // Wrong amount, wrong account, wrong job.
                Assert.False(PayoutTree.Verify(tree.Root, PayoutTree.LeafHash(job, leaf.Account, leaf.Amount.IsEven ? leaf.Amount + 1 : leaf.Amount - 1), proof));
                Assert.False(PayoutTree.Verify(tree.Root, PayoutTree.LeafHash(job, RandomAddress(random), leaf.Amount), proof));
                Assert.False(PayoutTree.Verify(tree.Root, PayoutTree.LeafHash(RandomHash(random), leaf.Account, leaf.Amount), proof));

                // One flipped bit in one proof element; a dropped element; an extra element.
                int at = random.Next(proof.Count);
                byte[] flipped = proof[at].ToArray();
                flipped[random.Next(32)] ^= (byte)(1 << random.Next(8));
                Hash32[] tampered = [.. proof];
                tampered[at] = new Hash32(flipped);
                Assert.False(PayoutTree.Verify(tree.Root, hash, tampered));
                Assert.False(PayoutTree.Verify(tree.Root, hash, [.. proof.Skip(1)]));
                Assert.False(PayoutTree.Verify(tree.Root, hash, [.. proof, RandomHash(random)]));

                // Another leaf's proof.
                PayoutLeaf other = leaves[(leaves.IndexOf(leaf) + 1) % leaves.Count];
                Assert.False(PayoutTree.Verify(tree.Root, hash, tree.ProofFor(other.Account)));
            }
        }
    }

    [Fact]
    public void TenThousandLeavesAndAllProofsAreQuick()
    {
        var random = new Random(10_000);
        (Hash32 job, List<PayoutLeaf> leaves) = RandomLeaves(random, 10_000);
        var watch = Stopwatch.StartNew();
        var tree = new PayoutTree(job, leaves);
        TimeSpan build = watch.Elapsed;
        int proofElements = 0;
        foreach (PayoutLeaf leaf in leaves)
        {
            proofElements += tree.ProofFor(leaf.Account).Count;
        }

        watch.Stop();
        output.WriteLine($"10,000-leaf tree: build {build.TotalMilliseconds:0} ms, build + all proofs {watch.Elapsed.TotalMilliseconds:0} ms ({proofElements} proof elements)");

        // Spot-check some proofs (all of them would only repeat the hashing).
        foreach (PayoutLeaf leaf in leaves.Take(200))
        {
            Assert.True(PayoutTree.Verify(tree.Root, PayoutTree.LeafHash(job, leaf.Account, leaf.Amount), tree.ProofFor(leaf.Account)));
        }

        Assert.InRange(tree.ProofFor(leaves[0].Account).Count, 13, 14);
    }

    private static async Task CrossCheckAsync(IReadOnlyList<(Hash32 Job, List<PayoutLeaf> Leaves)> trees)
    {
        NodeTools.RequireNodePackages("@openzeppelin/merkle-tree");
        var input = new JsonObject
        {
            ["trees"] = new JsonArray([.. trees.Select(t => (JsonNode)new JsonArray([.. t.Leaves.Select(l => (JsonNode)new JsonArray(
                t.Job.ToString(), l.Account.ToString(), l.Amount.ToString(CultureInfo.InvariantCulture)))]))]),
        };
        string json = await NodeTools.RunAsync(NodeTools.Script("merkle.js"), input.ToJsonString(), TimeSpan.FromSeconds(60), NodeTools.NodeModules);
        JsonArray results = JsonNode.Parse(json)!.AsArray();
        Assert.Equal(trees.Count, results.Count);
        for (int t = 0; t < trees.Count; t++)
        {
            (Hash32 job, List<PayoutLeaf> leaves) = trees[t];
            var tree = new PayoutTree(job, leaves);
            JsonNode expected = results[t]!;
            Assert.Equal(Hash32.Parse(expected["root"]!.GetValue<string>()), tree.Root);
            for (int i = 0; i < leaves.Count; i++)
            {
                Assert.Equal(Hash32.Parse(expected["leaves"]![i]!.GetValue<string>()), PayoutTree.LeafHash(job, leaves[i].Account, leaves[i].Amount));
                Hash32[] proof = [.. expected["proofs"]![i]!.AsArray().Select(h => Hash32.Parse(h!.GetValue<string>()))];
                Assert.Equal(proof, tree.ProofFor(leaves[i].Account));
            }
        }
    }

    internal static (Hash32 Job, List<PayoutLeaf> Leaves) RandomLeaves(Random random, int n)
    {
        var leaves = new List<PayoutLeaf>(n);
        var seen = new HashSet<Address>();
        while (leaves.Count < n)
        {
            Address account = RandomAddress(random);
            if (!seen.Add(account))
            {
                continue;
            }

            // Amounts from 1 wei to ~2^200, plus the occasional uint256 maximum.
            BigInteger amount = random.Next(50) == 0
                ? (BigInteger.One << 256) - 1
                : BigInteger.One + new BigInteger(RandomBytes(random, random.Next(1, 26)), isUnsigned: true);
            leaves.Add(new PayoutLeaf(account, amount));
        }

        return (RandomHash(random), leaves);
    }

    private static Address RandomAddress(Random random) => new(RandomBytes(random, 20));

    private static Hash32 RandomHash(Random random) => new(RandomBytes(random, 32));

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
