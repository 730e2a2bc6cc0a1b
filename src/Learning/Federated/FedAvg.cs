using System.Numerics.Tensors;

namespace PrivateHealth.Learning.Federated;

/// <summary>
/// Federated averaging (McMahan et al. 2017) of model deltas, weighted by sample count, in a fixed arithmetic
/// order so an encrypted pipeline can reproduce it. With updates (Δ_i, n_i) in list order i = 0 … m−1:
/// <code>
/// u_i   = Δ_i × (double)n_i                         element-wise        (<see cref="Weight(ReadOnlySpan{double}, long)"/>, done by the client)
/// S     = ((u_0 + u_1) + u_2) + … + u_{m−1}        element-wise, list order (<see cref="Accumulate"/>)
/// N     = n_0 + n_1 + … + n_{m−1}                  exact (long)
/// Δ̄     = S / (double)N                              element-wise, one division (<see cref="Average"/>)
/// w_new = w_global + Δ̄                              element-wise        (<see cref="Apply"/>)
/// </code>
/// Every step is element-wise IEEE-754 arithmetic (no reductions), so results are bit-identical on every
/// machine. In the encrypted pipeline each client encrypts u_i (and n_i), the server adds ciphertexts, and
/// decryption of S and N followed by <see cref="Average"/> reproduces Δ̄ up to CKKS precision.
/// </summary>
public static class FedAvg
{
    /// <summary>Weighted average of deltas: Σ Δ_i·n_i / Σ n_i, in the documented order.</summary>
    public static double[] Aggregate(IReadOnlyList<(double[] Delta, long Count)> updates)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (updates.Count == 0)
        {
            throw new ArgumentException("FedAvg needs at least one update.", nameof(updates));
        }

        int length = updates[0].Delta?.Length ?? throw new ArgumentException("Update 0 has no delta.", nameof(updates));
        double[] sum = new double[length];
        double[] weighted = new double[length];
        long total = 0;
        for (int i = 0; i < updates.Count; i++)
        {
            (double[] delta, long count) = updates[i];
            if (delta is null || delta.Length != length)
            {
                throw new ArgumentException($"Update {i} has {delta?.Length ?? 0} values; update 0 has {length}.", nameof(updates));
            }

            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count, nameof(updates));
            total = checked(total + count);
            if (i == 0)
            {
                Weight(delta, count, sum);
            }
            else
            {
                Weight(delta, count, weighted);
                Accumulate(sum, weighted);
            }
        }

        Average(sum, total, sum);
        return sum;
    }

    /// <summary>u = Δ × (double)count, element-wise (the client-side weighting before encryption).</summary>
    public static void Weight(ReadOnlySpan<double> delta, long count, Span<double> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        CheckLengths(delta.Length, destination.Length);
        TensorPrimitives.Multiply(delta, (double)count, destination);
    }

    /// <summary>A new array u = Δ × (double)count.</summary>
    public static double[] Weight(ReadOnlySpan<double> delta, long count)
    {
        double[] weighted = new double[delta.Length];
        Weight(delta, count, weighted);
        return weighted;
    }

    /// <summary>sum ← sum + weighted, element-wise.</summary>
    public static void Accumulate(Span<double> sum, ReadOnlySpan<double> weighted)
    {
        CheckLengths(sum.Length, weighted.Length);
        TensorPrimitives.Add(sum, weighted, sum);
    }

    /// <summary>destination = sum / (double)totalCount, element-wise (one IEEE division per coordinate).</summary>
    public static void Average(ReadOnlySpan<double> sum, long totalCount, Span<double> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalCount);
        CheckLengths(sum.Length, destination.Length);
        TensorPrimitives.Divide(sum, (double)totalCount, destination);
    }

    /// <summary>global ← global + averageDelta, element-wise.</summary>
    public static void Apply(Span<double> globalParameters, ReadOnlySpan<double> averageDelta)
    {
        CheckLengths(globalParameters.Length, averageDelta.Length);
        TensorPrimitives.Add(globalParameters, averageDelta, globalParameters);
    }

    private static void CheckLengths(int expected, int actual)
    {
        if (expected != actual)
        {
            throw new ArgumentException($"Vector lengths differ: {expected} versus {actual}.");
        }
    }
}
