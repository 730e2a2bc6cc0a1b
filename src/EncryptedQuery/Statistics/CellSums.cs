using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Statistics;

/// <summary>Adds the blocks of chosen cells of an aggregate vector (in the clear).</summary>
public static class CellSums
{
    /// <summary>Σ of the chosen cells' blocks (length <see cref="CellLayout.BlockSize"/>); each cell may be chosen once.</summary>
    /// <exception cref="ArgumentException">The vector is not <see cref="CellLayout.SlotCount"/> long, or a cell is repeated.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A cell outside [0, CellCount).</exception>
    public static double[] SumCells(CellLayout layout, ReadOnlySpan<double> vector, IEnumerable<int> cells)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(cells);
        if (vector.Length != layout.SlotCount)
        {
            throw new ArgumentException($"The vector has {vector.Length} slots, the layout {layout.SlotCount}.", nameof(vector));
        }

        var sum = new double[layout.BlockSize];
        var seen = new HashSet<int>();
        foreach (int cell in cells)
        {
            int start = layout.BlockStart(cell);
            if (!seen.Add(cell))
            {
                throw new ArgumentException($"Cell {cell} is listed twice.", nameof(cells));
            }

            var block = vector.Slice(start, layout.BlockSize);
            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] += block[i];
            }
        }

        return sum;
    }
}
