using System.Numerics;

namespace PrivateHealth.Ethereum;

/// <summary>An RLP item: either a byte string (<see cref="RlpString"/>) or a list (<see cref="RlpList"/>).</summary>
public abstract class RlpItem
{
    private protected RlpItem()
    {
    }

    /// <summary>Structural equality: same shape and same bytes.</summary>
    public abstract bool StructurallyEquals(RlpItem other);

    /// <summary>This item as a string, or an <see cref="RlpException"/> naming what was expected.</summary>
    public RlpString AsString(string what = "item") =>
        this as RlpString ?? throw new RlpException($"RLP: expected {what} to be a byte string, found a list.");

    /// <summary>This item as a list, or an <see cref="RlpException"/> naming what was expected.</summary>
    public RlpList AsList(string what = "item") =>
        this as RlpList ?? throw new RlpException($"RLP: expected {what} to be a list, found a byte string.");
}

/// <summary>An RLP byte string.</summary>
public sealed class RlpString(byte[] bytes) : RlpItem
{
    /// <summary>The payload.</summary>
    public byte[] Bytes { get; } = bytes ?? throw new ArgumentNullException(nameof(bytes));

    /// <summary>The payload read as a canonical big-endian unsigned integer (no leading zero byte).</summary>
    /// <exception cref="RlpException">The integer has a leading zero byte.</exception>
    public BigInteger ToBigInteger()
    {
        if (Bytes.Length > 0 && Bytes[0] == 0)
        {
            throw new RlpException("RLP: integer has a leading zero byte (non-canonical).");
        }

        return Hex.FromBigEndian(Bytes);
    }

    public override bool StructurallyEquals(RlpItem other) => other is RlpString s && s.Bytes.AsSpan().SequenceEqual(Bytes);

    public override string ToString() => Hex.Encode(Bytes);
}

/// <summary>An RLP list.</summary>
public sealed class RlpList(IReadOnlyList<RlpItem> items) : RlpItem
{
    /// <summary>The items in order.</summary>
    public IReadOnlyList<RlpItem> Items { get; } = items ?? throw new ArgumentNullException(nameof(items));

    public override bool StructurallyEquals(RlpItem other) =>
        other is RlpList l && l.Items.Count == Items.Count && Items.Zip(l.Items).All(p => p.First.StructurallyEquals(p.Second));

    public override string ToString() => "[" + string.Join(", ", Items) + "]";
}

/// <summary>Invalid, non-canonical or truncated RLP.</summary>
public sealed class RlpException : FormatException
{
    public RlpException(string message)
        : base(message)
    {
    }

    public RlpException()
    {
    }

    public RlpException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Recursive Length Prefix encoding (Ethereum yellow paper, appendix B). The decoder accepts only
/// the canonical encoding: a single byte below 0x80 must be encoded as itself, short forms must be
/// used below 56 bytes, lengths have no leading zeros, and the input must be consumed exactly.
/// </summary>
public static class Rlp
{
    /// <summary>Maximum list nesting accepted by the decoder (guards the stack).</summary>
    public const int MaxDepth = 256;

    /// <summary>A string item.</summary>
    public static RlpString Bytes(ReadOnlySpan<byte> bytes) => new(bytes.ToArray());

    /// <summary>A string item holding a canonical unsigned integer (zero is the empty string).</summary>
    public static RlpString Integer(BigInteger value) => new(Hex.ToMinimalBytes(value));

    /// <summary>A string item holding UTF-8 text.</summary>
    public static RlpString Text(string text) => new(System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>A list item.</summary>
    public static RlpList List(params RlpItem[] items) => new(items);

    /// <summary>Encodes an item.</summary>
    public static byte[] Encode(RlpItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var buffer = new List<byte>();
        EncodeInto(item, buffer);
        return [.. buffer];
    }

    private static void EncodeInto(RlpItem item, List<byte> output)
    {
        switch (item)
        {
            case RlpString s:
                if (s.Bytes.Length == 1 && s.Bytes[0] < 0x80)
                {
                    output.Add(s.Bytes[0]);
                }
                else
                {
                    WriteHeader(0x80, s.Bytes.Length, output);
                    output.AddRange(s.Bytes);
                }

                break;
            case RlpList l:
                var payload = new List<byte>();
                foreach (RlpItem child in l.Items)
                {
                    EncodeInto(child, payload);
                }

                WriteHeader(0xc0, payload.Count, output);
                output.AddRange(payload);
                break;
            default:
                throw new ArgumentException($"Unknown RLP item type {item.GetType().Name}.", nameof(item));
        }
    }

    private static void WriteHeader(byte offset, int length, List<byte> output)
    {
        if (length < 56)
        {
            output.Add((byte)(offset + length));
            return;
        }

        byte[] lengthBytes = Hex.ToMinimalBytes(length);
        output.Add((byte)(offset + 55 + lengthBytes.Length));
        output.AddRange(lengthBytes);
    }

    /// <summary>Decodes exactly one item that spans the whole input.</summary>
    /// <exception cref="RlpException">Empty, truncated, non-canonical input, or trailing bytes.</exception>
    public static RlpItem Decode(ReadOnlySpan<byte> encoded)
    {
        if (encoded.IsEmpty)
        {
            throw new RlpException("RLP: input is empty.");
        }

        int position = 0;
        RlpItem item = DecodeAt(encoded, ref position, 0);
        if (position != encoded.Length)
        {
            throw new RlpException($"RLP: {encoded.Length - position} trailing byte(s) after the item at offset {position}.");
        }

        return item;
    }

    private static RlpItem DecodeAt(ReadOnlySpan<byte> input, ref int position, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new RlpException($"RLP: lists nested deeper than {MaxDepth}.");
        }

        int start = position;
        byte prefix = input[position++];
        if (prefix < 0x80)
        {
            return new RlpString([prefix]);
        }

        bool isList = prefix >= 0xc0;
        int baseOffset = isList ? 0xc0 : 0x80;
        int shortLength = prefix - baseOffset;
        int length;
        if (shortLength <= 55)
        {
            length = shortLength;
        }
        else
        {
            int lengthOfLength = shortLength - 55;
            if (lengthOfLength > input.Length - position)
            {
                throw new RlpException($"RLP: truncated length at offset {start}: needs {lengthOfLength} length byte(s), {input.Length - position} remain.");
            }

            if (input[position] == 0)
            {
                throw new RlpException($"RLP: length at offset {start} has a leading zero byte (non-canonical).");
            }

            if (lengthOfLength > 4)
            {
                throw new RlpException($"RLP: length at offset {start} uses {lengthOfLength} bytes; lengths above 2^31 are not supported.");
            }

            long value = 0;
            for (int i = 0; i < lengthOfLength; i++)
            {
                value = (value << 8) | input[position++];
            }

            if (value > int.MaxValue)
            {
                throw new RlpException($"RLP: length {value} at offset {start} is too large.");
            }

            length = (int)value;
            if (length < 56)
            {
                throw new RlpException($"RLP: long-form length {length} at offset {start} should use the short form (non-canonical).");
            }
        }

        if (length > input.Length - position)
        {
            throw new RlpException($"RLP: truncated {(isList ? "list" : "string")} at offset {start}: declares {length} byte(s), {input.Length - position} remain.");
        }

        if (!isList)
        {
            if (length == 1 && input[position] < 0x80)
            {
                throw new RlpException($"RLP: single byte 0x{input[position]:x2} at offset {start} must be encoded as itself (non-canonical).");
            }

            byte[] bytes = input.Slice(position, length).ToArray();
            position += length;
            return new RlpString(bytes);
        }

        int end = position + length;
        var items = new List<RlpItem>();
        ReadOnlySpan<byte> payload = input[..end];
        while (position < end)
        {
            items.Add(DecodeAt(payload, ref position, depth + 1));
        }

        return new RlpList(items);
    }
}
