using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Planning;

/// <summary>One released block: a combination of the kept dimensions (GROUP BY and HISTOGRAM dimensions).</summary>
/// <param name="Key">Dimension name → value label for each kept dimension, in schema order.</param>
/// <param name="Slot">First slot of the block in the result ciphertext.</param>
/// <param name="Cells">The cells (cell order) whose blocks it sums: kept by WHERE and matching on the kept dimensions.</param>
public sealed record OutputBlock(IReadOnlyDictionary<string, string> Key, int Slot, IReadOnlyList<int> Cells);

/// <summary>A resolved SELECT item.</summary>
/// <param name="Item">The parsed item.</param>
/// <param name="Measures">Measure indices (argument order; for LINREG the regressors).</param>
/// <param name="Target">LINREG: the response's measure index.</param>
/// <param name="Dimension">HISTOGRAM: the dimension index.</param>
public sealed record PlannedItem(SelectItem Item, IReadOnlyList<int> Measures, int Target, int Dimension);

/// <summary>
/// What an analytics query does to the encrypted aggregate: each output block (a combination of the GROUP BY and
/// HISTOGRAM dimensions) is the sum of the blocks of the cells that pass WHERE and match it, summed over the other
/// dimensions. It is a linear map evaluated in diagonal form (one plaintext multiplication, depth 1); everything
/// outside the output blocks is zero, so the researcher sees only what was asked.
/// </summary>
public sealed class QueryPlan
{
    internal QueryPlan(QueryAst query, SlotLayout layout, bool[] keptCells, int[] keptDimensions, int[] summedDimensions,
        IReadOnlyList<OutputBlock> blocks, IReadOnlyList<PlannedItem> items, int[] groupDimensions)
    {
        Query = query;
        Layout = layout;
        KeptCells = keptCells;
        KeptDimensions = keptDimensions;
        SummedDimensions = summedDimensions;
        Blocks = blocks;
        Items = items;
        GroupDimensions = groupDimensions;
    }

    public QueryAst Query { get; }
    public SlotLayout Layout { get; }
    public CohortSchema Schema => Layout.Schema;

    /// <summary>Cells that pass the WHERE clause (cell order of <see cref="CellLayout"/>).</summary>
    public IReadOnlyList<bool> KeptCells { get; }

    /// <summary>GROUP BY plus HISTOGRAM dimensions (schema indices, ascending).</summary>
    public IReadOnlyList<int> KeptDimensions { get; }

    /// <summary>GROUP BY dimensions only.</summary>
    public IReadOnlyList<int> GroupDimensions { get; }

    /// <summary>Dimensions summed away under encryption.</summary>
    public IReadOnlyList<int> SummedDimensions { get; }

    /// <summary>The released blocks, one per combination of kept dimensions.</summary>
    public IReadOnlyList<OutputBlock> Blocks { get; }

    public IReadOnlyList<PlannedItem> Items { get; }

    /// <summary>
    /// The query as a linear map in diagonal form: rotation step k (left, in [0, slots)) → 0/1 plaintext mask, so that
    /// result = Σ_k mask_k ⊙ Rot_k(aggregate). Output block o at slot s_o receives, for each of its cells c, the block
    /// at slot(c): the diagonal k = slot(c) − s_o carries ones on [s_o, s_o + B). Everything else in the result is 0.
    /// </summary>
    /// <param name="slots">Slots of the ciphertext (rotations are cyclic over them).</param>
    /// <param name="blocks">Released blocks (default: all); suppressed blocks are left out of the map, so they are 0.</param>
    /// <param name="countsOnly">Only the count slot of each block (the public noisy-count pass).</param>
    public IReadOnlyDictionary<int, double[]> Diagonals(int slots, IEnumerable<OutputBlock>? blocks = null, bool countsOnly = false)
    {
        var diagonals = new SortedDictionary<int, double[]>();
        int b = countsOnly ? 1 : Layout.Cells.BlockSize;
        foreach (var block in blocks ?? Blocks)
        {
            foreach (int cell in block.Cells)
            {
                int k = ((Layout.SlotOf(Layout.Cells.Coordinates(cell)) - block.Slot) % slots + slots) % slots;
                if (!diagonals.TryGetValue(k, out var mask))
                {
                    diagonals[k] = mask = new double[slots];
                }

                mask.AsSpan(block.Slot, b).Fill(1);
            }
        }

        return diagonals;
    }

    /// <summary>The query on a plaintext slot vector, by definition (the ground truth the encrypted evaluation must match).</summary>
    public double[] EvaluatePlain(ReadOnlySpan<double> slots, IEnumerable<OutputBlock>? blocks = null, bool countsOnly = false)
    {
        var result = new double[Layout.SlotCount];
        int b = countsOnly ? 1 : Layout.Cells.BlockSize;
        foreach (var block in blocks ?? Blocks)
        {
            foreach (int cell in block.Cells)
            {
                int from = Layout.SlotOf(Layout.Cells.Coordinates(cell));
                for (int t = 0; t < b; t++)
                {
                    result[block.Slot + t] += slots[from + t];
                }
            }
        }

        return result;
    }
}
