using System.Numerics;
using System.Runtime.CompilerServices;

namespace PrivateHealth.Homomorphic.Ring;

/// <summary>
/// A word-size prime modulus q &lt; 2^61 with the precomputed constants for Barrett reduction of
/// 128-bit products (μ = ⌊2^128/q⌋) and helpers for Shoup multiplication by a fixed operand.
/// All methods take inputs in [0, q) and return results in [0, q) unless documented otherwise.
/// </summary>
public readonly struct Modulus : IEquatable<Modulus>
{
    /// <summary>Largest supported modulus bit length (Harvey's lazy butterflies need 4q &lt; 2^64).</summary>
    public const int MaxBits = 61;

    public ulong Value { get; }
    /// <summary>High word of ⌊2^128/q⌋.</summary>
    public ulong BarrettHi { get; }
    /// <summary>Low word of ⌊2^128/q⌋.</summary>
    public ulong BarrettLo { get; }
    public int BitCount { get; }
    /// <summary>⌊2^(2k)/q⌋ for the bit length k of q (&lt; 2^(k+1)): Barrett's constant for products of two reduced operands.</summary>
    public ulong ProductBarrett { get; }

    public Modulus(ulong value)
    {
        if (value < 2 || value >= 1UL << MaxBits)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"A modulus must be in [2, 2^{MaxBits}).");
        }

        Value = value;
        BitCount = 64 - BitOperations.LeadingZeroCount(value);
        // ⌊2^128/q⌋ = ⌊(2^128 − 1)/q⌋ unless q divides 2^128 (a power of two)
        UInt128 mu = (UInt128.MaxValue / value) + (BitOperations.IsPow2(value) ? UInt128.One : UInt128.Zero);

        BarrettHi = (ulong)(mu >> 64);
        BarrettLo = (ulong)mu;
        ProductBarrett = (ulong)((UInt128.One << (2 * BitCount)) / value);
    }

    /// <summary>Reduces a 128-bit value (hi, lo) modulo q with Barrett reduction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Reduce128(ulong hi, ulong lo) => RingOps.Barrett(hi, lo, Value, BarrettHi, BarrettLo);

    /// <summary>Reduces a 64-bit value modulo q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Reduce(ulong x)
    {
        ulong quotient = Math.BigMul(x, BarrettHi, out _);
        ulong r = x - (quotient * Value);
        return ReduceOnce(r);
    }

    /// <summary>Branch-free conditional subtraction: maps [0, 2q) to [0, q).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong ReduceOnce(ulong x)
    {
        ulong d = x - Value;
        ulong mask = (ulong)((long)d >> 63); // all ones when x < q
        return d + (Value & mask);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Multiply(ulong a, ulong b)
    {
        ulong hi = Math.BigMul(a, b, out ulong lo);
        return Reduce128(hi, lo);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Add(ulong a, ulong b) => ReduceOnce(a + b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Subtract(ulong a, ulong b) => ReduceOnce(a + Value - b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Negate(ulong a)
    {
        ulong mask = (ulong)(-(long)(a != 0 ? 1 : 0));
        return (Value - a) & mask;
    }

    /// <summary>Shoup precomputation ⌊w·2^64/q⌋ for a fixed operand w &lt; q.</summary>
    public ulong ShoupPrecompute(ulong w) => (ulong)(((UInt128)w << 64) / Value);

    /// <summary>w·x mod q in [0, 2q) for any 64-bit x, given wShoup = ShoupPrecompute(w).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong MultiplyShoupLazy(ulong x, ulong w, ulong wShoup)
    {
        ulong qhat = Math.BigMul(x, wShoup, out _);
        return (w * x) - (qhat * Value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong MultiplyShoup(ulong x, ulong w, ulong wShoup) => ReduceOnce(MultiplyShoupLazy(x, w, wShoup));

    public ulong Pow(ulong b, ulong e)
    {
        ulong result = 1 % Value;
        b %= Value;
        while (e != 0)
        {
            if ((e & 1) != 0)
            {
                result = Multiply(result, b);
            }

            b = Multiply(b, b);
            e >>= 1;
        }

        return result;
    }

    /// <summary>Multiplicative inverse modulo the prime q (Fermat).</summary>
    public ulong Inverse(ulong a)
    {
        a %= Value;
        if (a == 0)
        {
            throw new ArithmeticException($"0 has no inverse modulo {Value}.");
        }

        return Pow(a, Value - 2);
    }

    /// <summary>Maps a signed integer to its residue in [0, q).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong FromSigned(long v)
    {
        ulong abs = Reduce((ulong)(v < 0 ? -v : v));
        return v < 0 ? Negate(abs) : abs;
    }

    public bool Equals(Modulus other) => Value == other.Value;
    public override bool Equals(object? obj) => obj is Modulus m && Equals(m);
    public override int GetHashCode() => Value.GetHashCode();
    public override string ToString() => $"0x{Value:x} ({BitCount} bits)";
    public static bool operator ==(Modulus left, Modulus right) => left.Equals(right);
    public static bool operator !=(Modulus left, Modulus right) => !left.Equals(right);
}
