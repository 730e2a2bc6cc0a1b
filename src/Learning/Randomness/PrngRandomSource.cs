using PrivateHealth.Homomorphic.Ring;

namespace PrivateHealth.Learning.Randomness;

/// <summary>
/// Adapter over the homomorphic library's AES-CTR <see cref="Prng"/>, for when a seed is shared with the CKKS
/// layer (e.g. a seeded noise stream that must be reproducible across parties). The caller owns the Prng.
/// </summary>
public sealed class PrngRandomSource : RandomSource
{
    private readonly Prng _prng;

    public PrngRandomSource(Prng prng)
    {
        ArgumentNullException.ThrowIfNull(prng);
        _prng = prng;
    }

    /// <inheritdoc />
    public override ulong NextUInt64() => _prng.NextUInt64();
}
