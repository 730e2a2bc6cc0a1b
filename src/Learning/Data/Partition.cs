using PrivateHealth.Learning.Randomness;

namespace PrivateHealth.Learning.Data;

/// <summary>
/// Splits a dataset among simulated federated clients. Every method is deterministic in its seed, gives
/// every client at least one row, uses each row exactly once and returns each client's rows in ascending
/// original order. The <c>…Indices</c> variants return the row indices, the others the client datasets.
/// </summary>
public static class Partition
{
    /// <summary>IID: a <see cref="SeededRandom"/>(seed) permutation of the rows, dealt round-robin (position p → client p mod K).</summary>
    public static IReadOnlyList<int[]> IidIndices(int rowCount, int clients, ulong seed)
    {
        Validate(rowCount, clients);
        int[] permutation = new SeededRandom(seed).Permutation(rowCount);
        var parts = new List<int>[clients];
        for (int k = 0; k < clients; k++)
        {
            parts[k] = new List<int>((rowCount / clients) + 1);
        }

        for (int p = 0; p < rowCount; p++)
        {
            parts[p % clients].Add(permutation[p]);
        }

        return Finish(parts);
    }

    /// <inheritdoc cref="IidIndices"/>
    public static IReadOnlyList<Dataset> Iid(Dataset dataset, int clients, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return Materialize(dataset, IidIndices(dataset.Count, clients, seed));
    }

    /// <summary>
    /// Non-IID by label, Dirichlet(α): for each class in ascending order, its rows (ascending) are shuffled,
    /// client proportions p ~ Dirichlet(α, …, α) are drawn (normalised Gamma(α, 1) variates) and client k gets
    /// the contiguous slice [round(n_c·P_{k−1}), round(n_c·P_k)) with P the cumulative proportions (the last
    /// client takes the rest). Small α (e.g. 0.1) gives clients dominated by one class; large α approaches
    /// IID. Repair afterwards: while a client is empty, the largest client (lowest index on ties) gives its
    /// most recently assigned row to the lowest-index empty client. All draws come from one
    /// <see cref="SeededRandom"/>(seed), in the order described.
    /// </summary>
    public static IReadOnlyList<int[]> DirichletByLabelIndices(ReadOnlySpan<int> classLabels, int clients, double alpha, ulong seed)
    {
        Validate(classLabels.Length, clients);
        if (!(alpha > 0) || double.IsInfinity(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "The Dirichlet concentration must be positive and finite.");
        }

        var random = new SeededRandom(seed);
        var gaussian = new GaussianSampler(random);
        var parts = new List<int>[clients];
        for (int k = 0; k < clients; k++)
        {
            parts[k] = [];
        }

        int classCount = 0;
        foreach (int label in classLabels)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(label, nameof(classLabels));
            classCount = Math.Max(classCount, label + 1);
        }

        double[] proportions = new double[clients];
        for (int c = 0; c < classCount; c++)
        {
            var memberList = new List<int>();
            for (int i = 0; i < classLabels.Length; i++)
            {
                if (classLabels[i] == c)
                {
                    memberList.Add(i);
                }
            }

            if (memberList.Count == 0)
            {
                continue;
            }

            int[] members = [.. memberList];
            random.Shuffle(members.AsSpan());
            double total = 0;
            for (int k = 0; k < clients; k++)
            {
                proportions[k] = gaussian.NextGamma(alpha);
                total += proportions[k];
            }

            if (!(total > 0))
            {
                // All Gamma variates underflowed (only for extremely small α): give the class to one client.
                Array.Clear(proportions);
                proportions[random.NextInt(clients)] = 1;
                total = 1;
            }

            int n = members.Length;
            int start = 0;
            double cumulative = 0;
            for (int k = 0; k < clients; k++)
            {
                cumulative += proportions[k] / total;
                int end = k == clients - 1 ? n : Math.Clamp((int)Math.Round(cumulative * n, MidpointRounding.ToEven), start, n);
                parts[k].AddRange(members.AsSpan(start, end - start));
                start = end;
            }
        }

        while (true)
        {
            int empty = parts.ToList().FindIndex(p => p.Count == 0);
            if (empty < 0)
            {
                break;
            }

            int donor = 0;
            for (int k = 1; k < clients; k++)
            {
                if (parts[k].Count > parts[donor].Count)
                {
                    donor = k;
                }
            }

            parts[empty].Add(parts[donor][^1]);
            parts[donor].RemoveAt(parts[donor].Count - 1);
        }

        return Finish(parts);
    }

    /// <inheritdoc cref="DirichletByLabelIndices"/>
    public static IReadOnlyList<Dataset> DirichletByLabel(Dataset dataset, int clients, double alpha, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return Materialize(dataset, DirichletByLabelIndices(dataset.ClassLabels(), clients, alpha, seed));
    }

    /// <summary>
    /// Non-IID by label, sorted shards (McMahan et al. 2017): rows sorted by (label, index) are cut into
    /// S = K·shardsPerClient contiguous shards, shard j = [⌊j·n/S⌋, ⌊(j+1)·n/S⌋); a <see cref="SeededRandom"/>(seed)
    /// permutation π of the shards gives client k the shards π[k·s … k·s + s − 1]. With two shards per client
    /// most clients see one or two classes. Needs n ≥ S.
    /// </summary>
    public static IReadOnlyList<int[]> LabelShardsIndices(ReadOnlySpan<int> classLabels, int clients, int shardsPerClient, ulong seed)
    {
        Validate(classLabels.Length, clients);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shardsPerClient);
        int n = classLabels.Length;
        long shardCount = (long)clients * shardsPerClient;
        if (shardCount > n)
        {
            throw new ArgumentException($"{clients} clients × {shardsPerClient} shards need at least {shardCount} rows; there are {n}.", nameof(shardsPerClient));
        }

        int[] sorted = new int[n];
        for (int i = 0; i < n; i++)
        {
            sorted[i] = i;
        }

        int[] labels = classLabels.ToArray();
        Array.Sort(sorted, (a, b) => labels[a] != labels[b] ? labels[a].CompareTo(labels[b]) : a.CompareTo(b));

        int s = (int)shardCount;
        int[] shardOrder = new SeededRandom(seed).Permutation(s);
        var parts = new List<int>[clients];
        for (int k = 0; k < clients; k++)
        {
            parts[k] = [];
            for (int t = 0; t < shardsPerClient; t++)
            {
                int shard = shardOrder[(k * shardsPerClient) + t];
                int from = (int)((long)shard * n / s);
                int to = (int)((long)(shard + 1) * n / s);
                parts[k].AddRange(sorted.AsSpan(from, to - from));
            }
        }

        return Finish(parts);
    }

    /// <inheritdoc cref="LabelShardsIndices"/>
    public static IReadOnlyList<Dataset> LabelShards(Dataset dataset, int clients, int shardsPerClient, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return Materialize(dataset, LabelShardsIndices(dataset.ClassLabels(), clients, shardsPerClient, seed));
    }

    private static void Validate(int rowCount, int clients)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clients);
        if (rowCount < clients)
        {
            throw new ArgumentException($"{rowCount} rows cannot give each of {clients} clients at least one row.", nameof(clients));
        }
    }

    private static int[][] Finish(List<int>[] parts)
    {
        int[][] result = new int[parts.Length][];
        for (int k = 0; k < parts.Length; k++)
        {
            result[k] = [.. parts[k]];
            Array.Sort(result[k]);
        }

        return result;
    }

    private static Dataset[] Materialize(Dataset dataset, IReadOnlyList<int[]> parts) =>
        [.. parts.Select(indices => dataset.Subset(indices))];
}
