using PrivateHealth.Homomorphic.Ring;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.Homomorphic.Multiparty;

/// <summary>
/// Common machinery of the multiparty protocols: share checks, aggregation and noise sampling. Protocols are
/// local state machines with no I/O; the coordinator and custodians only move <see cref="Share"/>s.
/// Not thread-safe (scratch buffers).
/// </summary>
public abstract class ProtocolBase : IDisposable
{
    private readonly long[] _small;
    private readonly ulong[] _tmp;

    protected ProtocolBase(RlweParameters parameters)
    {
        Parameters = parameters;
        Prng = Ring.Prng.CreateRandom();
        _small = new long[parameters.N];
        _tmp = new ulong[parameters.N];
    }

    public RlweParameters Parameters { get; }
    protected Prng Prng { get; }
    protected Span<ulong> Scratch => _tmp;

    /// <summary>Sums two compatible shares (same kind, session, parameters, shape) into <paramref name="destination"/>.</summary>
    public void AggregateShares(Share a, Share b, Share destination)
    {
        if (!a.IsCompatibleWith(b) || !a.IsCompatibleWith(destination))
        {
            throw new ShareRejectedException($"Cannot aggregate a {b.Kind} share of session {b.Session.ToString()[..8]}… into a {a.Kind} share of session {a.Session.ToString()[..8]}…: kind, session, parameters or shape differ.");
        }

        for (int k = 0; k < a.Polys.Length; k++)
        {
            for (int i = 0; i < a.Polys[k].LimbCount; i++)
            {
                RingOps.Add(a.Polys[k].Limb(i), b.Polys[k].Limb(i), destination.Polys[k].Limb(i), Parameters.QP[i].Value);
            }
        }

        destination.Party = 0;
    }

    protected void CheckKey(SecretKey sk)
    {
        if (sk.ParametersId != Parameters.Id)
        {
            throw new ArgumentException("The secret key share belongs to other parameters.");
        }
    }

    /// <summary>A key-switching input must be a size-2 ciphertext of these parameters at the share's level.</summary>
    protected void CheckCiphertext(Ciphertext ciphertext, Share share)
    {
        if (ciphertext.ParametersId != Parameters.Id)
        {
            throw new ArgumentException("The ciphertext belongs to other parameters.");
        }

        if (ciphertext.Size != 2)
        {
            throw new ArgumentException($"Key switching needs a size-2 ciphertext (got {ciphertext.Size}); relinearize first.");
        }

        if (ciphertext.Level != share.Level)
        {
            throw new ShareRejectedException($"The share is at level {share.Level} but the ciphertext at level {ciphertext.Level}.");
        }
    }

    protected static void CheckDestination(Share destination, ShareKind kind)
    {
        if (destination.Kind != kind)
        {
            throw new ShareRejectedException($"Expected a {kind} share, got a {destination.Kind} share.");
        }
    }

    /// <summary>Samples χ (σ = 3.2) into limbs [0, limbs) of <paramref name="destination"/> and transforms it.</summary>
    protected void SampleErrorNtt(Poly destination, int limbs)
    {
        Samplers.Error(Prng, Parameters.ErrorDistribution, Parameters.ErrorSigma, Parameters.ErrorBound, _small);
        SetSignedNtt(destination, limbs);
    }

    /// <summary>Samples the flooding distribution into limbs [0, limbs) and transforms it (zero when disabled).</summary>
    protected void SampleFloodingNtt(NoiseFlooding flooding, Poly destination, int limbs)
    {
        if (flooding.IsDisabled)
        {
            destination.AsSpan(limbs).Clear();
            return;
        }

        Samplers.Gaussian(Prng, flooding.Sigma, flooding.Bound, _small);
        SetSignedNtt(destination, limbs);
    }

    /// <summary>Samples a ternary polynomial into limbs [0, limbs) and transforms it.</summary>
    protected void SampleTernaryNtt(Poly destination, int limbs)
    {
        Samplers.Ternary(Prng, _small);
        SetSignedNtt(destination, limbs);
    }

    private void SetSignedNtt(Poly destination, int limbs)
    {
        for (int i = 0; i < limbs; i++)
        {
            var mod = Parameters.QP[i];
            var limb = destination.Limb(i);
            for (int j = 0; j < limb.Length; j++)
            {
                limb[j] = mod.FromSigned(_small[j]);
            }

            Parameters.QP.Ntt(i).Forward(limb);
        }

        Array.Clear(_small);
    }

    /// <summary>destination −= a·s on limbs [0, limbs).</summary>
    protected void SubtractProduct(Poly a, Poly s, Poly destination, int limbs)
    {
        for (int i = 0; i < limbs; i++)
        {
            var mod = Parameters.QP[i];
            RingOps.Multiply(a.Limb(i), s.Limb(i), _tmp, mod);
            RingOps.Sub(destination.Limb(i), _tmp, destination.Limb(i), mod.Value);
        }
    }

    /// <summary>Adds [P]_{q_i}·s' to the limbs of digit <paramref name="digit"/> (the gadget term of switching keys).</summary>
    protected void AddGadgetTerm(Poly sPrime, int digit, Poly destination)
    {
        var (start, count) = Parameters.DigitRange(digit, Parameters.MaxLevel);
        for (int i = start; i < start + count; i++)
        {
            RingOps.MultiplyScalarAdd(sPrime.Limb(i), Parameters.PModQ[i], destination.Limb(i), Parameters.Q[i]);
        }
    }

    public void Dispose()
    {
        Prng.Dispose();
        GC.SuppressFinalize(this);
    }
}
