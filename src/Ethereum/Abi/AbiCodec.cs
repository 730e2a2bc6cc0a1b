using System.Collections;
using System.Numerics;
using System.Text;

namespace PrivateHealth.Ethereum;

/// <summary>
/// Solidity ABI encoding and decoding of values.
/// Values: <see cref="BigInteger"/> (or any .NET integer) for uintN/intN, <see cref="Address"/>
/// for address, bool, byte[] for bytes and bytesN, string, and object?[] (any IList when
/// encoding) for arrays and tuples. Decoding returns exactly those types and validates ranges,
/// padding of numbers, offsets and lengths.
/// </summary>
public static class AbiCodec
{
    /// <summary>Encodes values as the tuple of <paramref name="types"/> (the encoding of call arguments).</summary>
    public static byte[] Encode(IReadOnlyList<AbiType> types, IReadOnlyList<object?> values)
    {
        ArgumentNullException.ThrowIfNull(types);
        ArgumentNullException.ThrowIfNull(values);
        return Encode(AbiType.Tuple(types), values);
    }

    /// <summary>Encodes one value of <paramref name="type"/>.</summary>
    /// <exception cref="ArgumentException">The value does not fit the type.</exception>
    public static byte[] Encode(AbiType type, object? value)
    {
        ArgumentNullException.ThrowIfNull(type);
        using var stream = new MemoryStream();
        EncodeInto(type, value, stream, type.CanonicalName);
        return stream.ToArray();
    }

    /// <summary>Decodes data as the tuple of <paramref name="types"/>.</summary>
    /// <exception cref="AbiDecodingException">The data is malformed for these types.</exception>
    public static object?[] Decode(IReadOnlyList<AbiType> types, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(types);
        return (object?[])Decode(AbiType.Tuple(types), data)!;
    }

    /// <summary>Decodes one value of <paramref name="type"/> that starts at offset 0.</summary>
    /// <exception cref="AbiDecodingException">The data is malformed for this type.</exception>
    public static object? Decode(AbiType type, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(type);
        return DecodeAt(type, data.ToArray(), 0, 0);
    }

    /// <summary>Encodes one static value into a 32-byte word (used for indexed event topics and EIP-712).</summary>
    internal static byte[] EncodeWord(AbiType type, object? value)
    {
        if (type.IsDynamic || type.HeadSize != 32)
        {
            throw new ArgumentException($"{type} does not fit in one 32-byte word.", nameof(type));
        }

        return Encode(type, value);
    }

    private static void EncodeInto(AbiType type, object? value, MemoryStream output, string path)
    {
        switch (type.Kind)
        {
            case AbiKind.UInt:
            case AbiKind.Int:
                output.Write(EncodeInteger(type, ToBigInteger(value, type, path), path));
                break;
            case AbiKind.Address:
                Address address = value switch
                {
                    Address a => a,
                    string s => Address.Parse(s),
                    _ => throw Mismatch(type, value, path),
                };
                output.Write(new byte[12]);
                output.Write(address.Span);
                break;
            case AbiKind.Bool:
                bool flag = value as bool? ?? throw Mismatch(type, value, path);
                var word = new byte[32];
                word[31] = flag ? (byte)1 : (byte)0;
                output.Write(word);
                break;
            case AbiKind.FixedBytes:
                byte[] fixedBytes = value as byte[] ?? throw Mismatch(type, value, path);
                if (fixedBytes.Length != type.Size)
                {
                    throw new ArgumentException($"ABI {path}: {type} needs exactly {type.Size} bytes; got {fixedBytes.Length}.");
                }

                output.Write(PadRight(fixedBytes));
                break;
            case AbiKind.Bytes:
            case AbiKind.String:
                byte[] payload = type.Kind == AbiKind.String
                    ? Encoding.UTF8.GetBytes(value as string ?? throw Mismatch(type, value, path))
                    : value as byte[] ?? throw Mismatch(type, value, path);
                output.Write(Hex.ToFixedBytes(payload.Length, 32));
                output.Write(PadRight(payload));
                break;
            case AbiKind.Array:
            {
                IList items = value as IList ?? throw Mismatch(type, value, path);
                output.Write(Hex.ToFixedBytes(items.Count, 32));
                EncodeSequence(Enumerable.Repeat(type.Element!, items.Count).ToList(), items, output, path);
                break;
            }

            case AbiKind.FixedArray:
            {
                IList items = value as IList ?? throw Mismatch(type, value, path);
                if (items.Count != type.Length)
                {
                    throw new ArgumentException($"ABI {path}: {type} needs {type.Length} elements; got {items.Count}.");
                }

                EncodeSequence(Enumerable.Repeat(type.Element!, items.Count).ToList(), items, output, path);
                break;
            }

            case AbiKind.Tuple:
            {
                IList items = value as IList ?? throw Mismatch(type, value, path);
                if (items.Count != type.Components.Count)
                {
                    throw new ArgumentException($"ABI {path}: {type} has {type.Components.Count} component(s); got {items.Count} value(s).");
                }

                EncodeSequence(type.Components, items, output, path);
                break;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(type), type.Kind, "Unknown ABI kind.");
        }
    }

    private static void EncodeSequence(IReadOnlyList<AbiType> types, IList values, MemoryStream output, string path)
    {
        int headLength = types.Sum(t => t.HeadSize);
        using var tails = new MemoryStream();
        for (int i = 0; i < types.Count; i++)
        {
            string childPath = $"{path}[{i}]";
            if (types[i].IsDynamic)
            {
                output.Write(Hex.ToFixedBytes(headLength + tails.Length, 32));
                EncodeInto(types[i], values[i], tails, childPath);
            }
            else
            {
                EncodeInto(types[i], values[i], output, childPath);
            }
        }

        tails.Position = 0;
        tails.CopyTo(output);
    }

    private static byte[] EncodeInteger(AbiType type, BigInteger value, string path)
    {
        BigInteger min = type.Kind == AbiKind.UInt ? BigInteger.Zero : -(BigInteger.One << (type.Size - 1));
        BigInteger max = type.Kind == AbiKind.UInt ? (BigInteger.One << type.Size) - 1 : (BigInteger.One << (type.Size - 1)) - 1;
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(nameof(type), $"ABI {path}: {value} is out of range for {type}.");
        }

        BigInteger word = value.Sign < 0 ? (BigInteger.One << 256) + value : value;
        return Hex.ToFixedBytes(word, 32);
    }

    private static BigInteger ToBigInteger(object? value, AbiType type, string path) => value switch
    {
        BigInteger b => b,
        int i => i,
        long l => l,
        uint u => u,
        ulong ul => ul,
        short s => s,
        ushort us => us,
        byte by => by,
        sbyte sb => sb,
        _ => throw Mismatch(type, value, path),
    };

    private static byte[] PadRight(byte[] data)
    {
        int padded = (data.Length + 31) / 32 * 32;
        var result = new byte[padded];
        data.CopyTo(result, 0);
        return result;
    }

    private static ArgumentException Mismatch(AbiType type, object? value, string path) =>
        new($"ABI {path}: cannot encode {(value is null ? "null" : value.GetType().Name)} as {type}.");

    private static object DecodeAt(AbiType type, byte[] data, int offset, int depth)
    {
        if (depth > 64)
        {
            throw new AbiDecodingException("ABI data nests deeper than 64 levels.");
        }

        switch (type.Kind)
        {
            case AbiKind.UInt:
            case AbiKind.Int:
                return DecodeInteger(type, Word(data, offset, type));
            case AbiKind.Address:
            {
                ReadOnlySpan<byte> word = Word(data, offset, type);
                if (word[..12].ContainsAnyExcept((byte)0))
                {
                    throw new AbiDecodingException($"ABI address at offset {offset} has non-zero high bytes.");
                }

                return new Address(word[12..]);
            }

            case AbiKind.Bool:
            {
                BigInteger value = Hex.FromBigEndian(Word(data, offset, type));
                return value > 1
                    ? throw new AbiDecodingException($"ABI bool at offset {offset} is {value}, not 0 or 1.")
                    : !value.IsZero;
            }

            case AbiKind.FixedBytes:
                return Word(data, offset, type)[..type.Size].ToArray();
            case AbiKind.Bytes:
            case AbiKind.String:
            {
                int length = ReadLength(data, offset, "bytes length");
                if (length > data.Length - offset - 32)
                {
                    throw new AbiDecodingException($"ABI {type} at offset {offset} declares {length} bytes; only {data.Length - offset - 32} remain.");
                }

                byte[] bytes = data.AsSpan(offset + 32, length).ToArray();
                if (type.Kind == AbiKind.Bytes)
                {
                    return bytes;
                }

                try
                {
                    return new UTF8Encoding(false, true).GetString(bytes);
                }
                catch (DecoderFallbackException ex)
                {
                    throw new AbiDecodingException($"ABI string at offset {offset} is not valid UTF-8.", ex);
                }
            }

            case AbiKind.Array:
            {
                int count = ReadLength(data, offset, "array length");
                long minimum = (long)count * type.Element!.HeadSize;
                if (minimum > data.Length - offset - 32)
                {
                    throw new AbiDecodingException($"ABI {type} at offset {offset} declares {count} elements; the data is too short.");
                }

                return DecodeSequence(Enumerable.Repeat(type.Element, count).ToList(), data, offset + 32, depth);
            }

            case AbiKind.FixedArray:
                return DecodeSequence(Enumerable.Repeat(type.Element!, type.Length).ToList(), data, offset, depth);
            case AbiKind.Tuple:
                return DecodeSequence(type.Components, data, offset, depth);
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type.Kind, "Unknown ABI kind.");
        }
    }

    private static object?[] DecodeSequence(IReadOnlyList<AbiType> types, byte[] data, int start, int depth)
    {
        var values = new object?[types.Count];
        int head = start;
        for (int i = 0; i < types.Count; i++)
        {
            if (types[i].IsDynamic)
            {
                int relative = ReadLength(data, head, "offset");
                long target = (long)start + relative;
                if (target > data.Length)
                {
                    throw new AbiDecodingException($"ABI offset {relative} at {head} points past the end of the data ({data.Length} bytes).");
                }

                values[i] = DecodeAt(types[i], data, (int)target, depth + 1);
            }
            else
            {
                values[i] = DecodeAt(types[i], data, head, depth + 1);
            }

            head += types[i].HeadSize;
        }

        return values;
    }

    private static ReadOnlySpan<byte> Word(byte[] data, int offset, AbiType type)
    {
        if (offset < 0 || offset > data.Length - 32)
        {
            throw new AbiDecodingException($"ABI data too short: {type} at offset {offset} needs 32 bytes, the data has {data.Length}.");
        }

        return data.AsSpan(offset, 32);
    }

    private static int ReadLength(byte[] data, int offset, string what)
    {
        if (offset < 0 || offset > data.Length - 32)
        {
            throw new AbiDecodingException($"ABI data too short: {what} at offset {offset} needs 32 bytes, the data has {data.Length}.");
        }

        BigInteger value = Hex.FromBigEndian(data.AsSpan(offset, 32));
        if (value > data.Length)
        {
            throw new AbiDecodingException($"ABI {what} {value} at offset {offset} exceeds the data length {data.Length}.");
        }

        return (int)value;
    }

    private static BigInteger DecodeInteger(AbiType type, ReadOnlySpan<byte> word)
    {
        BigInteger unsigned = Hex.FromBigEndian(word);
        if (type.Kind == AbiKind.UInt)
        {
            if (unsigned >> type.Size != 0)
            {
                throw new AbiDecodingException($"ABI value {unsigned} does not fit {type}.");
            }

            return unsigned;
        }

        BigInteger signed = unsigned >> 255 == 1 ? unsigned - (BigInteger.One << 256) : unsigned;
        BigInteger limit = BigInteger.One << (type.Size - 1);
        if (signed < -limit || signed >= limit)
        {
            throw new AbiDecodingException($"ABI value {signed} does not fit {type}.");
        }

        return signed;
    }
}

/// <summary>ABI-encoded data that does not match the expected types.</summary>
public sealed class AbiDecodingException : FormatException
{
    public AbiDecodingException(string message)
        : base(message)
    {
    }

    public AbiDecodingException()
    {
    }

    public AbiDecodingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
