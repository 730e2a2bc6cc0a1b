namespace PrivateHealth.Homomorphic.Rlwe;

/// <summary>
/// 32-byte identity of a parameter set: SHA-256 of its canonical encoding. Every plaintext, ciphertext,
/// key and share carries the id of the parameters it was made under; anything else is rejected.
/// </summary>
public readonly struct ParametersId : IEquatable<ParametersId>
{
    public const int Size = 32;
    private readonly byte[]? _bytes;

    public ParametersId(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new ArgumentException($"A parameters id is {Size} bytes.", nameof(bytes));
        }

        _bytes = bytes.ToArray();
    }

    public ReadOnlySpan<byte> Bytes => _bytes ?? new byte[Size];

    public bool Equals(ParametersId other) => Bytes.SequenceEqual(other.Bytes);
    public override bool Equals(object? obj) => obj is ParametersId other && Equals(other);
    public override int GetHashCode() => BitConverter.ToInt32(Bytes);
    public override string ToString() => Convert.ToHexStringLower(Bytes);
    public static bool operator ==(ParametersId left, ParametersId right) => left.Equals(right);
    public static bool operator !=(ParametersId left, ParametersId right) => !left.Equals(right);
}
