namespace PrivateHealth.Ethereum;

/// <summary>
/// A 20-byte Ethereum account address. <see cref="ToString"/> gives the EIP-55 checksummed form;
/// <see cref="Parse"/> accepts all-lowercase, all-uppercase or a correctly checksummed mixed-case
/// form and rejects a mixed-case string whose checksum is wrong (a likely typo).
/// </summary>
public readonly struct Address : IEquatable<Address>
{
    private readonly byte[]? _bytes;

    /// <summary>Wraps a copy of exactly 20 bytes.</summary>
    public Address(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != 20)
        {
            throw new ArgumentException($"An address has 20 bytes; got {bytes.Length}.", nameof(bytes));
        }

        _bytes = bytes.ToArray();
    }

    /// <summary>The zero address 0x0000…0000.</summary>
    public static Address Zero { get; } = new(new byte[20]);

    /// <summary>The bytes without copying.</summary>
    public ReadOnlySpan<byte> Span => _bytes ?? new byte[20];

    /// <summary>The bytes (a copy).</summary>
    public byte[] ToArray() => Span.ToArray();

    /// <summary>Parses "0x" + 40 hex digits, validating the EIP-55 checksum when the case is mixed.</summary>
    /// <exception cref="FormatException">Wrong length, not hex, or a mixed-case checksum mismatch.</exception>
    public static Address Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryParseCore(text, out Address address, out string? error))
        {
            throw new FormatException(error);
        }

        return address;
    }

    /// <summary>Like <see cref="Parse"/> without throwing.</summary>
    public static bool TryParse(string? text, out Address address)
    {
        if (text is null)
        {
            address = default;
            return false;
        }

        return TryParseCore(text, out address, out _);
    }

    private static bool TryParseCore(string text, out Address address, out string? error)
    {
        address = default;
        string body = text.StartsWith("0x", StringComparison.Ordinal) || text.StartsWith("0X", StringComparison.Ordinal) ? text[2..] : text;
        if (body.Length != 40)
        {
            error = $"An address has 40 hex digits; '{text}' has {body.Length}.";
            return false;
        }

        byte[] bytes;
        try
        {
            bytes = Convert.FromHexString(body);
        }
        catch (FormatException)
        {
            error = $"'{text}' is not a hex address.";
            return false;
        }

        var candidate = new Address(bytes);
        bool hasUpper = body.Any(char.IsAsciiLetterUpper);
        bool hasLower = body.Any(char.IsAsciiLetterLower);
        if (hasUpper && hasLower && candidate.ToString()[2..] != body)
        {
            error = $"Address '{text}' has mixed case but an invalid EIP-55 checksum (expected {candidate}).";
            return false;
        }

        address = candidate;
        error = null;
        return true;
    }

    /// <summary>The EIP-55 checksummed form with "0x".</summary>
    public override string ToString()
    {
        string lower = Convert.ToHexStringLower(Span);
        byte[] hash = Keccak256.Hash(System.Text.Encoding.ASCII.GetBytes(lower));
        var chars = new char[42];
        chars[0] = '0';
        chars[1] = 'x';
        for (int i = 0; i < 40; i++)
        {
            int nibble = (hash[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xF;
            chars[i + 2] = nibble >= 8 ? char.ToUpperInvariant(lower[i]) : lower[i];
        }

        return new string(chars);
    }

    /// <summary>Lowercase "0x" hex, as JSON-RPC requests use.</summary>
    public string ToLowerHex() => Hex.Encode(Span);

    public bool Equals(Address other) => Span.SequenceEqual(other.Span);

    public override bool Equals(object? obj) => obj is Address other && Equals(other);

    public override int GetHashCode() => BitConverter.ToInt32(Span[..4]);

    public static bool operator ==(Address left, Address right) => left.Equals(right);

    public static bool operator !=(Address left, Address right) => !left.Equals(right);
}
