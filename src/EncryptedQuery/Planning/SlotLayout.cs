using System.Numerics;
using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Planning;

/// <summary>
/// Where each cell's block lives in the encrypted slot vector. Every dimension's size is padded to a power of two
/// and each block occupies a power-of-two stride, so summing along a dimension is log2(padded size) rotations by
/// powers of two and the total of an axis lands at that axis's coordinate 0 without touching other cells' blocks
/// (docs/decisions/0012).
/// </summary>
public sealed class SlotLayout
{
    public SlotLayout(CohortSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        Schema = schema;
        Cells = new CellLayout(schema);
        Stride = (int)BitOperations.RoundUpToPowerOf2((uint)Cells.BlockSize);
        int[] padded = [.. schema.Dimensions.Select(d => (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, d.Size)))];
        var strides = new int[padded.Length];
        long stride = Stride;
        for (int d = padded.Length - 1; d >= 0; d--)
        {
            strides[d] = checked((int)stride);
            stride *= padded[d];
        }

        PaddedSizes = padded;
        AxisStrides = strides;

        SlotCount = checked((int)stride);
    }

    public CohortSchema Schema { get; }
    public CellLayout Cells { get; }

    /// <summary>Slots per cell block: the block size rounded up to a power of two.</summary>
    public int Stride { get; }

    /// <summary>Dimension sizes rounded up to powers of two.</summary>
    public IReadOnlyList<int> PaddedSizes { get; }

    /// <summary>Slot distance between neighbouring coordinates of each dimension.</summary>
    public IReadOnlyList<int> AxisStrides { get; }

    /// <summary>Slots used (a power of two).</summary>
    public int SlotCount { get; }

    /// <summary>First slot of the block of the cell with these coordinates.</summary>
    public int SlotOf(ReadOnlySpan<int> coordinates)
    {
        int slot = 0;
        for (int d = 0; d < coordinates.Length; d++)
        {
            slot += coordinates[d] * AxisStrides[d];
        }

        return slot;
    }

    /// <summary>Maps a contribution (or aggregate) in cell order (<see cref="CellLayout"/>) to the slot vector.</summary>
    public double[] Place(ReadOnlySpan<double> cellVector)
    {
        if (cellVector.Length != Cells.SlotCount)
        {
            throw new ArgumentException($"A contribution of this schema has {Cells.SlotCount} values; got {cellVector.Length}.", nameof(cellVector));
        }

        var slots = new double[SlotCount];
        int b = Cells.BlockSize;
        for (int cell = 0; cell < Cells.CellCount; cell++)
        {
            cellVector.Slice(cell * b, b).CopyTo(slots.AsSpan(SlotOf(Cells.Coordinates(cell)), b));
        }

        return slots;
    }

    /// <summary>The block at <paramref name="slot"/> of a decoded slot vector.</summary>
    public double[] BlockAt(ReadOnlySpan<double> slots, int slot) => slots.Slice(slot, Cells.BlockSize).ToArray();

    /// <summary>Rotation steps the evaluator may need: every power of two below <paramref name="maxSlots"/>.</summary>
    public static IReadOnlyList<int> RotationSteps(int maxSlots) =>
        [.. Enumerable.Range(0, BitOperations.Log2((uint)maxSlots)).Select(k => 1 << k)];
}
