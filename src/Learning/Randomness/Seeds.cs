namespace PrivateHealth.Learning.Randomness;

/// <summary>Seed derivation: independent-looking 64-bit seeds for (round, client, purpose) from one root seed.</summary>
public static class Seeds
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>One SplitMix64 step: advances <paramref name="state"/> by the golden gamma and returns the mixed output.</summary>
    public static ulong SplitMix64(ref ulong state)
    {
        state += Golden;
        return Mix(state);
    }

    /// <summary>
    /// Derives a seed from a root and a path of components: h = root; for each component c,
    /// h = Mix(h ⊕ Mix(c + golden)) with the SplitMix64 finaliser as Mix. Different paths give unrelated seeds.
    /// </summary>
    public static ulong Derive(ulong root, params ReadOnlySpan<ulong> path)
    {
        ulong h = Mix(root ^ Golden);
        foreach (ulong component in path)
        {
            h = Mix(h ^ Mix(component + Golden));
        }

        return h;
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
