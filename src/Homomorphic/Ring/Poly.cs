namespace PrivateHealth.Homomorphic.Ring;

/// <summary>
/// A polynomial of R = Z[X]/(X^N+1) in RNS form: <see cref="LimbCount"/> limbs of N residues, stored
/// limb-major in one contiguous buffer (limb i, coefficient j at i·N + j). The buffer keeps its capacity
/// when the limb count shrinks (dropping levels is a view change).
/// </summary>
public sealed class Poly
{
    private ulong[] _data;

    public int N { get; }
    public int LimbCount { get; private set; }
    public int Capacity => _data.Length / N;

    public Poly(int n, int limbCount)
    {
        if (limbCount < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(limbCount));
        }

        N = n;
        LimbCount = limbCount;
        _data = new ulong[Math.Max(1, limbCount) * n];
    }

    /// <summary>Changes the number of limbs, reallocating only to grow. Existing limbs are preserved.</summary>
    public void Resize(int limbCount)
    {
        if (limbCount > Capacity)
        {
            Array.Resize(ref _data, limbCount * N);
        }

        LimbCount = limbCount;
    }

    public Span<ulong> Limb(int index)
    {
        if ((uint)index >= (uint)LimbCount)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Polynomial has {LimbCount} limbs.");
        }

        return _data.AsSpan(index * N, N);
    }

    public Span<ulong> AsSpan() => _data.AsSpan(0, LimbCount * N);

    /// <summary>The first <paramref name="limbCount"/> limbs.</summary>
    public Span<ulong> AsSpan(int limbCount) => _data.AsSpan(0, limbCount * N);

    public void CopyTo(Poly destination)
    {
        destination.Resize(LimbCount);
        AsSpan().CopyTo(destination.AsSpan());
    }

    public Poly Clone()
    {
        var p = new Poly(N, LimbCount);
        AsSpan().CopyTo(p.AsSpan());
        return p;
    }

    public void Clear() => AsSpan().Clear();

    public bool ContentEquals(Poly other) => LimbCount == other.LimbCount && N == other.N && AsSpan().SequenceEqual(other.AsSpan());
}
