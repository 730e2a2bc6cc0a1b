namespace PrivateHealth.EncryptedQuery.Schema;

/// <summary>
/// The slot layout of one contribution (or aggregate) vector: one block per cell, cells in row-major order of the
/// dimensions (the first dimension varies slowest). With M measures a block holds
/// <c>[count, Σx_0 … Σx_(M−1), Σx_0² … Σx_(M−1)², Σx_a·x_b for a &lt; b]</c>, the pairs in lexicographic order
/// (0,1), (0,2), …, (0,M−1), (1,2), …; so <see cref="BlockSize"/> = 1 + 2M + M(M−1)/2 and slot
/// <c>cell · BlockSize + offset</c> holds a cell's quantity.
/// </summary>
public sealed class CellLayout
{
    /// <summary>Offset of the count in a block.</summary>
    public const int CountOffset = 0;

    private readonly int[] sizes;

    /// <summary>Builds the layout of a schema.</summary>
    /// <exception cref="SchemaException">The schema is invalid.</exception>
    public CellLayout(CohortSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        schema.Validate();
        Schema = schema;
        sizes = [.. schema.Dimensions.Select(d => d.Size)];
        CellCount = sizes.Aggregate(1, (a, b) => a * b);
        MeasureCount = schema.Measures.Count;
        BlockSize = (int)BlockSizeFor(MeasureCount);
        SlotCount = CellCount * BlockSize;
    }

    /// <summary>The schema this layout was built from.</summary>
    public CohortSchema Schema { get; }

    /// <summary>Number of cells: the product of the dimension sizes (1 with no dimensions).</summary>
    public int CellCount { get; }

    /// <summary>Number of measures M.</summary>
    public int MeasureCount { get; }

    /// <summary>Slots per cell: 1 + 2M + M(M−1)/2.</summary>
    public int BlockSize { get; }

    /// <summary>Length of a vector: <see cref="CellCount"/> × <see cref="BlockSize"/>.</summary>
    public int SlotCount { get; }

    /// <summary>The size of each dimension, in schema order.</summary>
    public IReadOnlyList<int> DimensionSizes => sizes;

    /// <summary>1 + 2M + M(M−1)/2.</summary>
    public static long BlockSizeFor(int measures) => 1 + (2L * measures) + ((long)measures * (measures - 1) / 2);

    /// <summary>The cell at these coordinates (one per dimension), row-major with the first dimension slowest.</summary>
    /// <exception cref="ArgumentException">Wrong number of coordinates.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A coordinate outside its dimension.</exception>
    public int CellIndex(ReadOnlySpan<int> coordinates)
    {
        if (coordinates.Length != sizes.Length)
        {
            throw new ArgumentException($"Expected {sizes.Length} coordinates, got {coordinates.Length}.", nameof(coordinates));
        }

        int cell = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            if ((uint)coordinates[i] >= (uint)sizes[i])
            {
                throw new ArgumentOutOfRangeException(
                    nameof(coordinates),
                    $"Coordinate {coordinates[i]} of dimension '{Schema.Dimensions[i].Name}' is outside [0, {sizes[i]}).");
            }

            cell = (cell * sizes[i]) + coordinates[i];
        }

        return cell;
    }

    /// <summary>The coordinates of a cell (inverse of <see cref="CellIndex"/>).</summary>
    public int[] Coordinates(int cell)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cell);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cell, CellCount);
        var result = new int[sizes.Length];
        for (int i = sizes.Length - 1; i >= 0; i--)
        {
            result[i] = cell % sizes[i];
            cell /= sizes[i];
        }

        return result;
    }

    /// <summary>The first slot of a cell's block.</summary>
    public int BlockStart(int cell)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cell);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cell, CellCount);
        return cell * BlockSize;
    }

    /// <summary>Offset of Σx_m in a block: 1 + m.</summary>
    public int SumOffset(int m)
    {
        CheckMeasure(m);
        return 1 + m;
    }

    /// <summary>Offset of Σx_m² in a block: 1 + M + m.</summary>
    public int SumSquaresOffset(int m)
    {
        CheckMeasure(m);
        return 1 + MeasureCount + m;
    }

    /// <summary>Offset of Σx_a·x_b in a block (a ≠ b, either order): after the squares, pairs in lexicographic order.</summary>
    public int ProductOffset(int a, int b)
    {
        CheckMeasure(a);
        CheckMeasure(b);
        if (a == b)
        {
            throw new ArgumentException($"Product of measure {a} with itself is its sum of squares; use SumSquaresOffset.", nameof(b));
        }

        int i = Math.Min(a, b), j = Math.Max(a, b), m = MeasureCount;
        int pair = (i * m) - (i * (i + 1) / 2) + (j - i - 1);
        return 1 + (2 * m) + pair;
    }

    private void CheckMeasure(int m)
    {
        if ((uint)m >= (uint)MeasureCount)
        {
            throw new ArgumentOutOfRangeException(nameof(m), $"Measure index {m} is outside [0, {MeasureCount}).");
        }
    }
}
