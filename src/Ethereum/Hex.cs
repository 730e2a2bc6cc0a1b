using System.Globalization;
using System.Numerics;

namespace PrivateHealth.Ethereum;

/// <summary>
/// Hex helpers in the Ethereum JSON-RPC style: lowercase, "0x"-prefixed; quantities are minimal
/// (no leading zeros, zero is "0x0"), data is an even number of digits.
/// </summary>
public static class Hex
{
    /// <summary>Encodes bytes as lowercase hex, with a "0x" prefix unless <paramref name="prefix"/> is false.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes, bool prefix = true)
    {
        string body = Convert.ToHexStringLower(bytes);
        return prefix ? "0x" + body : body;
    }

    /// <summary>Decodes hex data with or without a "0x" prefix; an odd number of digits is rejected.</summary>
    /// <exception cref="FormatException">The text is not hex or has an odd number of digits.</exception>
    public static byte[] Decode(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        ReadOnlySpan<char> body = Strip(hex);
        if (body.Length % 2 != 0)
        {
            throw new FormatException($"Hex data must have an even number of digits; got {body.Length} in '{Truncate(hex)}'.");
        }

        try
        {
            return Convert.FromHexString(body);
        }
        catch (FormatException)
        {
            throw new FormatException($"'{Truncate(hex)}' is not valid hex.");
        }
    }

    /// <summary>Encodes a non-negative integer as a JSON-RPC quantity ("0x0", "0x1a").</summary>
    public static string EncodeQuantity(BigInteger value)
    {
        if (value.Sign < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "A quantity cannot be negative.");
        }

        if (value.IsZero)
        {
            return "0x0";
        }

        string body = Convert.ToHexStringLower(value.ToByteArray(isUnsigned: true, isBigEndian: true)).TrimStart('0');
        return "0x" + body;
    }

    /// <summary>Decodes a JSON-RPC quantity; leading zeros are tolerated (some nodes emit them).</summary>
    /// <exception cref="FormatException">The text is not a hex quantity.</exception>
    public static BigInteger DecodeQuantity(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        ReadOnlySpan<char> body = Strip(hex);
        if (body.Length == 0)
        {
            throw new FormatException($"'{hex}' is not a hex quantity: no digits.");
        }

        if (!BigInteger.TryParse("0" + body.ToString(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out BigInteger value))
        {
            throw new FormatException($"'{Truncate(hex)}' is not a hex quantity.");
        }

        return value;
    }

    /// <summary>Big-endian, minimal (no leading zero bytes; zero is empty) unsigned encoding, as RLP uses.</summary>
    public static byte[] ToMinimalBytes(BigInteger value)
    {
        if (value.Sign < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "Only non-negative integers have an unsigned encoding.");
        }

        return value.IsZero ? [] : value.ToByteArray(isUnsigned: true, isBigEndian: true);
    }

    /// <summary>Reads big-endian unsigned bytes.</summary>
    public static BigInteger FromBigEndian(ReadOnlySpan<byte> bytes) => new(bytes, isUnsigned: true, isBigEndian: true);

    /// <summary>Left-pads a big-endian unsigned value to exactly <paramref name="length"/> bytes.</summary>
    public static byte[] ToFixedBytes(BigInteger value, int length)
    {
        byte[] minimal = ToMinimalBytes(value);
        if (minimal.Length > length)
        {
            throw new ArgumentOutOfRangeException(nameof(value), $"Value needs {minimal.Length} bytes; only {length} available.");
        }

        var result = new byte[length];
        minimal.CopyTo(result, length - minimal.Length);
        return result;
    }

    private static ReadOnlySpan<char> Strip(string hex) =>
        hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? hex.AsSpan(2) : hex.AsSpan();

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..77] + "...";
}
