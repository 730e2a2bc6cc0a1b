using System.Buffers.Binary;
using System.Security.Cryptography;

namespace PrivateHealth.Homomorphic.Ring;

/// <summary>
/// Deterministic pseudo-random generator: AES-256 in counter mode keyed by a 32-byte seed.
/// Block i of the key stream is AES_seed(LE64(i) ‖ LE64(domain)). The same seed and domain give the
/// same bytes on every platform (AES is a fixed standard, hardware accelerated where available),
/// which is what public expansion (seeded <c>a</c>, common reference polynomials) needs. Secrets are
/// sampled from an instance seeded by <see cref="RandomNumberGenerator"/>.
/// Not thread-safe.
/// </summary>
public sealed class Prng : IDisposable
{
    public const int SeedSize = 32;
    private const int BufferBlocks = 256; // 4 KiB of key stream per refill

    private readonly Aes _aes;
    private ulong _domain;
    private readonly byte[] _counterBlocks = new byte[BufferBlocks * 16];
    private readonly byte[] _buffer = new byte[BufferBlocks * 16];
    private ulong _counter;
    private int _position;

    public Prng(ReadOnlySpan<byte> seed, ulong domain = 0)
    {
        if (seed.Length != SeedSize)
        {
            throw new ArgumentException($"A PRNG seed is {SeedSize} bytes, got {seed.Length}.", nameof(seed));
        }

        _aes = Aes.Create();
        _aes.Key = seed.ToArray();
        _domain = domain;
        _position = _buffer.Length;
    }

    /// <summary>Restarts the key stream for a new seed and domain (reuses the AES instance and buffers).</summary>
    public void Reset(ReadOnlySpan<byte> seed, ulong domain = 0)
    {
        if (seed.Length != SeedSize)
        {
            throw new ArgumentException($"A PRNG seed is {SeedSize} bytes, got {seed.Length}.", nameof(seed));
        }

        _aes.Key = seed.ToArray();
        _domain = domain;
        _counter = 0;
        _position = _buffer.Length;
    }

    /// <summary>A generator seeded from the operating system's CSPRNG.</summary>
    public static Prng CreateRandom()
    {
        Span<byte> seed = stackalloc byte[SeedSize];
        RandomNumberGenerator.Fill(seed);
        var prng = new Prng(seed);
        CryptographicOperations.ZeroMemory(seed);
        return prng;
    }

    /// <summary>A fresh 32-byte seed from the operating system's CSPRNG.</summary>
    public static byte[] NewSeed() => RandomNumberGenerator.GetBytes(SeedSize);

    private void Refill()
    {
        for (int i = 0; i < BufferBlocks; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(_counterBlocks.AsSpan(i * 16), _counter++);
            BinaryPrimitives.WriteUInt64LittleEndian(_counterBlocks.AsSpan((i * 16) + 8), _domain);
        }

        _aes.EncryptEcb(_counterBlocks, _buffer, PaddingMode.None);
        _position = 0;
    }

    public void Fill(Span<byte> destination)
    {
        while (destination.Length > 0)
        {
            if (_position == _buffer.Length)
            {
                Refill();
            }

            int take = Math.Min(destination.Length, _buffer.Length - _position);
            _buffer.AsSpan(_position, take).CopyTo(destination);
            _position += take;
            destination = destination[take..];
        }
    }

    public ulong NextUInt64()
    {
        if (_buffer.Length - _position < 8)
        {
            Span<byte> tmp = stackalloc byte[8];
            Fill(tmp);
            return BinaryPrimitives.ReadUInt64LittleEndian(tmp);
        }

        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(_position));
        _position += 8;
        return v;
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_buffer);
        _aes.Dispose();
    }
}
