using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using PrivateHealth.Ethereum;

namespace PrivateHealth.Settlement.Tests;

/// <summary>PayoutSplit: exact sum, within one unit of the exact share, deterministic, largest remainder with ties by input order.</summary>
public sealed class PayoutSplitTests
{
    private static readonly Gen<BigInteger> Totals = Gen.OneOf(
        Gen.Choose(0, 1000).Select(i => new BigInteger(i)),
        Gen.Choose(0, int.MaxValue).Select(i => new BigInteger(i) * BigInteger.Pow(10, 9) + 7),
        Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), 32).Select(b => new BigInteger(b, isUnsigned: true)));

    private static readonly Gen<long> Weights = Gen.OneOf(
        Gen.Choose(0, 3).Select(i => (long)i),
        Gen.Choose(0, 1_000_000).Select(i => (long)i),
        Gen.Choose(0, int.MaxValue).Select(i => (long)i * 4_000_000_000L));

    private static readonly Arbitrary<(BigInteger Total, (Address Account, long Weight)[] Weights)> Cases =
        Gen.Zip(Totals, Gen.Choose(1, 60).SelectMany(n => Gen.ArrayOf(Weights, n)))
            .Where(c => c.Item2.Any(w => w > 0))
            .Select(c => (c.Item1, c.Item2.Select((w, i) => (AccountOf(i), w)).ToArray()))
            .ToArbitrary();

    [Fact]
    public void SharesSumToTheTotalExactly()
    {
        Prop.ForAll(Cases, c =>
        {
            IReadOnlyList<PayoutLeaf> split = PayoutSplit.Split(c.Total, c.Weights);
            return split.Aggregate(BigInteger.Zero, (s, l) => s + l.Amount) == c.Total;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void EachShareIsWithinOneOfTheExactProportion()
    {
        Prop.ForAll(Cases, c =>
        {
            IReadOnlyList<PayoutLeaf> split = PayoutSplit.Split(c.Total, c.Weights);
            Dictionary<Address, BigInteger> byAccount = split.ToDictionary(l => l.Account, l => l.Amount);
            BigInteger sumWeights = c.Weights.Aggregate(BigInteger.Zero, (s, w) => s + w.Weight);
            foreach ((Address account, long weight) in c.Weights)
            {
                BigInteger amount = byAccount.GetValueOrDefault(account);

                // |amount - total·w/W| < 1  <=>  |amount·W - total·w| < W
                if (BigInteger.Abs((amount * sumWeights) - (c.Total * weight)) >= sumWeights)
                {
                    return false;
                }

                if (weight == 0 && byAccount.ContainsKey(account))
                {
                    return false;
                }
            }

            // Input order kept, no zero amounts.
            int[] positions = [.. split.Select(l => Array.FindIndex(c.Weights, w => w.Account == l.Account))];
            return split.All(l => l.Amount > 0) && positions.SequenceEqual(positions.Order());
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void SplitIsDeterministic()
    {
        Prop.ForAll(Cases, c =>
            PayoutSplit.Split(c.Total, c.Weights).SequenceEqual(PayoutSplit.Split(c.Total, [.. c.Weights])))
            .QuickCheckThrowOnFailure();
    }

    [Fact]
    public void LargestRemaindersWinAndTiesGoByInputOrder()
    {
        Address a = AccountOf(0), b = AccountOf(1), c = AccountOf(2), d = AccountOf(3);

        // 10 among 1:1:1 -> 3.33 each; one unit left, tie -> the first.
        Assert.Equal([new PayoutLeaf(a, 4), new PayoutLeaf(b, 3), new PayoutLeaf(c, 3)], PayoutSplit.Split(10, [(a, 1), (b, 1), (c, 1)]));

        // 11 among 1:1:1 -> two units left -> first two.
        Assert.Equal([new PayoutLeaf(a, 4), new PayoutLeaf(b, 4), new PayoutLeaf(c, 3)], PayoutSplit.Split(11, [(a, 1), (b, 1), (c, 1)]));

        // 10 among 1:2:0:4 (W=7): exact 1.43, 2.86, 0, 5.71 -> floors 1,2,0,5 (8); remainders 3/7, 6/7, 0, 5/7 -> b then d.
        Assert.Equal([new PayoutLeaf(a, 1), new PayoutLeaf(b, 3), new PayoutLeaf(d, 6)], PayoutSplit.Split(10, [(a, 1), (b, 2), (c, 0), (d, 4)]));

        // A positive weight that earns nothing is left out too (the tree takes amounts > 0 only).
        Assert.Equal([new PayoutLeaf(b, 1)], PayoutSplit.Split(1, [(a, 1), (b, 1_000_000)]));
        Assert.Empty(PayoutSplit.Split(0, [(a, 1)]));
        Assert.Empty(PayoutSplit.Split(0, [(a, 0)]));
    }

    [Fact]
    public void InvalidInputsAreRejected()
    {
        Address a = AccountOf(0), b = AccountOf(1);
        Assert.Throws<ArgumentException>(() => PayoutSplit.Split(-1, [(a, 1)]));
        Assert.Throws<ArgumentException>(() => PayoutSplit.Split(1, [(a, -1), (b, 2)]));
        Assert.Throws<ArgumentException>(() => PayoutSplit.Split(1, [(a, 1), (a, 2)]));
        Assert.Throws<ArgumentException>(() => PayoutSplit.Split(1, [(a, 0)]));
        Assert.Throws<ArgumentException>(() => PayoutSplit.Split(1, []));
    }

    private static Address AccountOf(int i)
    {
        var bytes = new byte[20];
        bytes[0] = 0xAB;
        BitConverter.TryWriteBytes(bytes.AsSpan(16), i);
        return new Address(bytes);
    }
}
