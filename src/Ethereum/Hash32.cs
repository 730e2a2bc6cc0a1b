namespace PrivateHealth.Ethereum;

/// <summary>An immutable 32-byte value: a transaction hash, block hash, log topic or Keccak digest.</summary>
public readonly struct Hash32 : IEquatable<Hash32>
{
    private readonly byte[]? _bytes;

    /// <summary>Wraps a copy of exactly 32 bytes.</summary>
    public Hash32(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 32)
        {
            throw new ArgumentException($"A 32-byte hash needs 32 bytes; got {bytes.Length}.", nameof(bytes));
        }

        _bytes = bytes.ToArray();
    }

    /// <summary>The all-zero hash.</summary>
    public static Hash32 Zero { get; } = new(new byte[32]);

    /// <summary>The bytes (a copy).</summary>
    public byte[] ToArray() => (_bytes ?? new byte[32]).ToArray();

    /// <summary>The bytes without copying.</summary>
    public ReadOnlySpan<byte> Span => _bytes ?? new byte[32];

    /// <summary>Parses "0x" + 64 hex digits.</summary>
    public static Hash32 Parse(string hex)
    {
        byte[] bytes = Hex.Decode(hex);
        if (bytes.Length != 32)
        {
            throw new FormatException($"A 32-byte hash has 64 hex digits; '{hex}' has {bytes.Length * 2}.");
        }

        return new Hash32(bytes);
    }

    /// <summary>Keccak-256 of the data.</summary>
    public static Hash32 Keccak(ReadOnlySpan<byte> data) => new(Keccak256.Hash(data));

    public bool Equals(Hash32 other) => Span.SequenceEqual(other.Span);

    public override bool Equals(object? obj) => obj is Hash32 other && Equals(other);

    public override int GetHashCode() => BitConverter.ToInt32(Span[..4]);

    public static bool operator ==(Hash32 left, Hash32 right) => left.Equals(right);

    public static bool operator !=(Hash32 left, Hash32 right) => !left.Equals(right);

    /// <summary>Lowercase "0x"-prefixed hex.</summary>
    public override string ToString() => Hex.Encode(Span);
}
