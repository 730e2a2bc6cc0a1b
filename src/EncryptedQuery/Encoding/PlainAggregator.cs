namespace PrivateHealth.EncryptedQuery.Encoding;

/// <summary>Adds contribution vectors in the clear: the ground truth the encrypted aggregation is tested against.</summary>
public static class PlainAggregator
{
    /// <summary>The element-wise sum, accumulated in enumeration order.</summary>
    /// <exception cref="ArgumentException">No vectors, or vectors of different lengths.</exception>
    public static double[] Sum(IEnumerable<double[]> vectors)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        double[]? total = null;
        int index = 0;
        foreach (var vector in vectors)
        {
            ArgumentNullException.ThrowIfNull(vector, $"vectors[{index}]");
            total ??= new double[vector.Length];
            if (vector.Length != total.Length)
            {
                throw new ArgumentException($"Vector {index} has length {vector.Length}, expected {total.Length}.", nameof(vectors));
            }

            for (int i = 0; i < total.Length; i++)
            {
                total[i] += vector[i];
            }

            index++;
        }

        return total ?? throw new ArgumentException("No vectors to sum.", nameof(vectors));
    }
}
