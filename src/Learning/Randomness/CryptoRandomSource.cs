using System.Buffers.Binary;
using System.Security.Cryptography;

namespace PrivateHealth.Learning.Randomness;

/// <summary>
/// Uniform words from a <see cref="RandomNumberGenerator"/> (the operating system's CSPRNG by default), read
/// 512 bytes at a time. This is the source to give <see cref="GaussianSampler"/> when the noise protects real
/// data. The caller keeps ownership of a generator passed in; <see cref="Dispose"/> only wipes the buffer.
/// </summary>
public sealed class CryptoRandomSource : RandomSource, IDisposable
{
    private readonly RandomNumberGenerator? _generator;
    private readonly byte[] _buffer = new byte[512];
    private int _position;

    /// <summary>Reads from the shared system CSPRNG (<see cref="RandomNumberGenerator.Fill"/>).</summary>
    public CryptoRandomSource()
    {
        _position = _buffer.Length;
    }

    /// <summary>Reads from the given generator, which the caller disposes.</summary>
    public CryptoRandomSource(RandomNumberGenerator generator)
    {
        ArgumentNullException.ThrowIfNull(generator);
        _generator = generator;
        _position = _buffer.Length;
    }

    /// <inheritdoc />
    public override ulong NextUInt64()
    {
        if (_position == _buffer.Length)
        {
            if (_generator is null)
            {
                RandomNumberGenerator.Fill(_buffer);
            }
            else
            {
                _generator.GetBytes(_buffer);
            }

            _position = 0;
        }

        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(_position));
        _position += 8;
        return value;
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_buffer);
        _position = _buffer.Length;
    }
}
