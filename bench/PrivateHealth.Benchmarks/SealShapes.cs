using PrivateHealth.Homomorphic.Ckks;

namespace PrivateHealth.Benchmarks;

/// <summary>
/// The parameter shapes of Microsoft SEAL's own benchmark program (its 128-bit default coefficient moduli),
/// so that every CKKS suite here compares like with like against the SEAL 4.4.3 figures in bench/RESULTS.md:
/// same N, same number and bit sizes of ciphertext primes, one special prime, digits of one prime.
/// </summary>
public static class SealShapes
{
    /// <summary>SEAL's {36, 36, 37}, {43, 43, 44, 44, 44} and {48, 48, 48, 49×6} chains; the last prime is the special prime.</summary>
    public static CkksParametersLiteral Literal(int logN) => logN switch
    {
        12 => new CkksParametersLiteral { LogN = 12, LogQ = [36, 36], LogP = [37], LogDefaultScale = 30 },
        13 => new CkksParametersLiteral { LogN = 13, LogQ = [43, 43, 44, 44], LogP = [44], LogDefaultScale = 40 },
        14 => new CkksParametersLiteral { LogN = 14, LogQ = [48, 48, 48, 49, 49, 49, 49, 49], LogP = [49], LogDefaultScale = 45 },
        _ => throw new ArgumentOutOfRangeException(nameof(logN), logN, "SEAL shapes exist for LogN 12, 13 and 14."),
    };

    public static CkksParameters Parameters(int logN) => CkksParameters.FromLiteral(Literal(logN));

    /// <summary>N/2 reproducible random reals in [−1, 1) (a full slot vector, as SEAL's encode benchmark uses).</summary>
    public static double[] RandomSlots(CkksParameters p, int seed = 12345)
    {
        var rng = new Random(seed);
        var v = new double[p.MaxSlots];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (rng.NextDouble() * 2) - 1;
        }

        return v;
    }
}
