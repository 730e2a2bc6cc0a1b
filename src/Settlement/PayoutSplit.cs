using System.Numerics;
using PrivateHealth.Ethereum;

namespace PrivateHealth.Settlement;

/// <summary>Proportional split of a payout among weighted accounts (largest-remainder method).</summary>
public static class PayoutSplit
{
    /// <summary>
    /// Splits <paramref name="total"/> proportionally to the weights: every account first gets
    /// floor(total·w/W); the units left over (fewer than the number of accounts) go one each to the
    /// largest remainders (total·w mod W), ties broken by input order. The amounts sum to
    /// <paramref name="total"/> exactly and each is within 1 of total·w/W. Entries whose amount is 0
    /// (every zero weight, and a positive weight too small to earn a unit) are left out, so the result
    /// feeds <see cref="PayoutTree"/> directly; the order is the input order.
    /// </summary>
    /// <exception cref="ArgumentException">A negative total or weight, a duplicate account, or a positive total with no positive weight.</exception>
    public static IReadOnlyList<PayoutLeaf> Split(BigInteger total, IReadOnlyList<(Address Account, long Weight)> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (total.Sign < 0)
        {
            throw new ArgumentException($"The total must not be negative; got {total}.", nameof(total));
        }

        var seen = new HashSet<Address>();
        BigInteger sumWeights = BigInteger.Zero;
        foreach ((Address account, long weight) in weights)
        {
            if (weight < 0)
            {
                throw new ArgumentException($"Weight of {account} is negative ({weight}).", nameof(weights));
            }

            if (!seen.Add(account))
            {
                throw new ArgumentException($"Account {account} appears more than once; sum its weights first.", nameof(weights));
            }

            sumWeights += weight;
        }

        if (sumWeights.IsZero)
        {
            return total.IsZero ? [] : throw new ArgumentException($"Cannot split {total} among no positive weight.", nameof(weights));
        }

        int n = weights.Count;
        var amounts = new BigInteger[n];
        var remainders = new BigInteger[n];
        BigInteger assigned = BigInteger.Zero;
        for (int i = 0; i < n; i++)
        {
            amounts[i] = BigInteger.DivRem(total * weights[i].Weight, sumWeights, out remainders[i]);
            assigned += amounts[i];
        }

        // total - assigned = sum(remainders) / W < n: hand out one unit each, largest remainder first.
        int leftover = (int)(total - assigned);
        if (leftover > 0)
        {
            int[] order = [.. Enumerable.Range(0, n).Where(i => weights[i].Weight > 0)];
            Array.Sort(order, (a, b) =>
            {
                int byRemainder = remainders[b].CompareTo(remainders[a]);
                return byRemainder != 0 ? byRemainder : a.CompareTo(b);
            });
            for (int k = 0; k < leftover; k++)
            {
                amounts[order[k]] += 1;
            }
        }

        var result = new List<PayoutLeaf>(n);
        for (int i = 0; i < n; i++)
        {
            if (!amounts[i].IsZero)
            {
                result.Add(new PayoutLeaf(weights[i].Account, amounts[i]));
            }
        }

        return result;
    }
}
