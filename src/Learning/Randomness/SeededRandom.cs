namespace PrivateHealth.Learning.Randomness;

/// <summary>
/// Deterministic, platform-independent generator for simulations and tests: xoshiro256** whose 256-bit state
/// is filled by four SplitMix64 outputs from the 64-bit seed. Not cryptographic: use
/// <see cref="CryptoRandomSource"/> for differential-privacy noise in production.
/// </summary>
public sealed class SeededRandom : RandomSource
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    public SeededRandom(ulong seed)
    {
        ulong x = seed;
        _s0 = Seeds.SplitMix64(ref x);
        _s1 = Seeds.SplitMix64(ref x);
        _s2 = Seeds.SplitMix64(ref x);
        _s3 = Seeds.SplitMix64(ref x);
    }

    /// <inheritdoc />
    public override ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }
}
