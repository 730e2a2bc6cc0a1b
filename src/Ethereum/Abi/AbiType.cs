using System.Globalization;

namespace PrivateHealth.Ethereum;

/// <summary>The kind of a Solidity ABI type.</summary>
public enum AbiKind
{
    /// <summary>uintN, 8 ≤ N ≤ 256, N % 8 == 0.</summary>
    UInt,

    /// <summary>intN (two's complement).</summary>
    Int,

    /// <summary>address (20 bytes).</summary>
    Address,

    /// <summary>bool.</summary>
    Bool,

    /// <summary>bytesN, 1 ≤ N ≤ 32.</summary>
    FixedBytes,

    /// <summary>bytes (dynamic).</summary>
    Bytes,

    /// <summary>string (dynamic, UTF-8).</summary>
    String,

    /// <summary>T[] (dynamic length).</summary>
    Array,

    /// <summary>T[k].</summary>
    FixedArray,

    /// <summary>(T1,…,Tn).</summary>
    Tuple,
}

/// <summary>
/// A parsed Solidity ABI type such as "uint256", "bytes32[]", "address[3]" or
/// "(uint256,bytes32[])[]". Immutable; <see cref="CanonicalName"/> is the form used in
/// signatures (aliases like "uint" are expanded, tuple component names dropped).
/// </summary>
public sealed class AbiType : IEquatable<AbiType>
{
    private AbiType(AbiKind kind, int size = 0, AbiType? element = null, int length = 0, IReadOnlyList<AbiType>? components = null, IReadOnlyList<string>? componentNames = null)
    {
        Kind = kind;
        Size = size;
        Element = element;
        Length = length;
        Components = components ?? [];
        ComponentNames = componentNames ?? [.. Components.Select(_ => string.Empty)];
        CanonicalName = kind switch
        {
            AbiKind.UInt => $"uint{size}",
            AbiKind.Int => $"int{size}",
            AbiKind.Address => "address",
            AbiKind.Bool => "bool",
            AbiKind.FixedBytes => $"bytes{size}",
            AbiKind.Bytes => "bytes",
            AbiKind.String => "string",
            AbiKind.Array => element!.CanonicalName + "[]",
            AbiKind.FixedArray => element!.CanonicalName + "[" + length.ToString(CultureInfo.InvariantCulture) + "]",
            AbiKind.Tuple => "(" + string.Join(",", Components.Select(c => c.CanonicalName)) + ")",
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        IsDynamic = kind switch
        {
            AbiKind.Bytes or AbiKind.String or AbiKind.Array => true,
            AbiKind.FixedArray => element!.IsDynamic,
            AbiKind.Tuple => Components.Any(c => c.IsDynamic),
            _ => false,
        };
        HeadSize = IsDynamic ? 32 : kind switch
        {
            AbiKind.FixedArray => length * element!.HeadSize,
            AbiKind.Tuple => Components.Sum(c => c.HeadSize),
            _ => 32,
        };
    }

    /// <summary>The kind.</summary>
    public AbiKind Kind { get; }

    /// <summary>Bits for uintN/intN, bytes for bytesN, otherwise 0.</summary>
    public int Size { get; }

    /// <summary>Element type of T[] and T[k].</summary>
    public AbiType? Element { get; }

    /// <summary>k of T[k].</summary>
    public int Length { get; }

    /// <summary>Tuple components.</summary>
    public IReadOnlyList<AbiType> Components { get; }

    /// <summary>Tuple component names (empty strings when unnamed).</summary>
    public IReadOnlyList<string> ComponentNames { get; }

    /// <summary>The canonical type string used in signatures.</summary>
    public string CanonicalName { get; }

    /// <summary>True for bytes, string, T[], and T[k]/tuples containing a dynamic type.</summary>
    public bool IsDynamic { get; }

    /// <summary>Bytes this type occupies in the head of an enclosing encoding.</summary>
    public int HeadSize { get; }

    public static AbiType UInt(int bits) => new(AbiKind.UInt, CheckBits(bits));

    public static AbiType Int(int bits) => new(AbiKind.Int, CheckBits(bits));

    public static AbiType AddressType { get; } = new(AbiKind.Address);

    public static AbiType BoolType { get; } = new(AbiKind.Bool);

    public static AbiType BytesType { get; } = new(AbiKind.Bytes);

    public static AbiType StringType { get; } = new(AbiKind.String);

    public static AbiType FixedBytes(int size) =>
        size is >= 1 and <= 32 ? new(AbiKind.FixedBytes, size) : throw new ArgumentOutOfRangeException(nameof(size), size, "bytesN needs 1 ≤ N ≤ 32.");

    public static AbiType ArrayOf(AbiType element) => new(AbiKind.Array, element: element ?? throw new ArgumentNullException(nameof(element)));

    public static AbiType FixedArrayOf(AbiType element, int length) =>
        length >= 1
            ? new(AbiKind.FixedArray, element: element ?? throw new ArgumentNullException(nameof(element)), length: length)
            : throw new ArgumentOutOfRangeException(nameof(length), length, "A fixed-size array needs at least one element.");

    public static AbiType Tuple(IReadOnlyList<AbiType> components, IReadOnlyList<string>? names = null)
    {
        ArgumentNullException.ThrowIfNull(components);
        if (names is not null && names.Count != components.Count)
        {
            throw new ArgumentException("Tuple component names must match the components one to one.", nameof(names));
        }

        return new(AbiKind.Tuple, components: [.. components], componentNames: names is null ? null : [.. names]);
    }

    /// <summary>Parses a type string, e.g. "uint256", "int24", "bytes32[]", "(uint256,(bool,string)[])[2]".</summary>
    /// <exception cref="FormatException">The string is not a valid ABI type.</exception>
    public static AbiType Parse(string type)
    {
        ArgumentNullException.ThrowIfNull(type);
        string text = type.Replace(" ", string.Empty, StringComparison.Ordinal);
        int position = 0;
        AbiType result = ParseAt(text, ref position, type);
        if (position != text.Length)
        {
            throw new FormatException($"ABI type '{type}': unexpected '{text[position..]}' after '{text[..position]}'.");
        }

        return result;
    }

    private static AbiType ParseAt(string text, ref int position, string original)
    {
        AbiType baseType;
        if (position < text.Length && text[position] == '(')
        {
            position++;
            var components = new List<AbiType>();
            if (position < text.Length && text[position] == ')')
            {
                position++;
            }
            else
            {
                while (true)
                {
                    components.Add(ParseAt(text, ref position, original));
                    if (position >= text.Length)
                    {
                        throw new FormatException($"ABI type '{original}': unclosed '('.");
                    }

                    char c = text[position++];
                    if (c == ')')
                    {
                        break;
                    }

                    if (c != ',')
                    {
                        throw new FormatException($"ABI type '{original}': expected ',' or ')' at position {position - 1}.");
                    }
                }
            }

            baseType = Tuple(components);
        }
        else
        {
            int start = position;
            while (position < text.Length && char.IsAsciiLetterOrDigit(text[position]))
            {
                position++;
            }

            baseType = Elementary(text[start..position], original);
        }

        while (position < text.Length && text[position] == '[')
        {
            int close = text.IndexOf(']', position);
            if (close < 0)
            {
                throw new FormatException($"ABI type '{original}': unclosed '['.");
            }

            string inner = text[(position + 1)..close];
            position = close + 1;
            if (inner.Length == 0)
            {
                baseType = ArrayOf(baseType);
            }
            else if (int.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out int length) && length > 0)
            {
                baseType = FixedArrayOf(baseType, length);
            }
            else
            {
                throw new FormatException($"ABI type '{original}': invalid array length '{inner}'.");
            }
        }

        return baseType;
    }

    private static AbiType Elementary(string name, string original)
    {
        switch (name)
        {
            case "address": return AddressType;
            case "bool": return BoolType;
            case "bytes": return BytesType;
            case "string": return StringType;
            case "uint": return UInt(256);
            case "int": return Int(256);
            case "":
                throw new FormatException($"ABI type '{original}': missing type name.");
        }

        if (TrySuffix(name, "uint", out int bits) && ValidBits(bits))
        {
            return UInt(bits);
        }

        if (TrySuffix(name, "int", out bits) && ValidBits(bits))
        {
            return Int(bits);
        }

        if (TrySuffix(name, "bytes", out int size) && size is >= 1 and <= 32)
        {
            return FixedBytes(size);
        }

        throw new FormatException($"ABI type '{original}': unknown or unsupported type '{name}'.");
    }

    private static bool TrySuffix(string name, string prefix, out int value)
    {
        value = 0;
        return name.StartsWith(prefix, StringComparison.Ordinal)
            && name.Length > prefix.Length
            && name[prefix.Length] != '0'
            && int.TryParse(name.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static bool ValidBits(int bits) => bits is >= 8 and <= 256 && bits % 8 == 0;

    private static int CheckBits(int bits) =>
        ValidBits(bits) ? bits : throw new ArgumentOutOfRangeException(nameof(bits), bits, "Integer types need 8 ≤ N ≤ 256 with N a multiple of 8.");

    public bool Equals(AbiType? other) => other is not null && other.CanonicalName == CanonicalName;

    public override bool Equals(object? obj) => Equals(obj as AbiType);

    public override int GetHashCode() => CanonicalName.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => CanonicalName;
}
