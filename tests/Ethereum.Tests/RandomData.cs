using System.Numerics;
using System.Text;
using System.Text.Json.Nodes;

namespace PrivateHealth.Ethereum.Tests;

/// <summary>Seeded random ABI types and values (with their JSON form for the ethers cross-check) and deep equality of decoded values.</summary>
internal sealed class RandomData(int seed)
{
    private readonly Random _random = new(seed);

    public Random Random => _random;

    public int Next(int minInclusive, int maxExclusive) => _random.Next(minInclusive, maxExclusive);

    public byte[] Bytes(int length)
    {
        var bytes = new byte[length];
        _random.NextBytes(bytes);
        return bytes;
    }

    public BigInteger UnsignedBits(int bits)
    {
        // Edge values a third of the time.
        return Next(0, 6) switch
        {
            0 => BigInteger.Zero,
            1 => (BigInteger.One << bits) - 1,
            _ => Hex.FromBigEndian(Bytes(bits / 8)) >> Next(0, bits),
        };
    }

    public BigInteger SignedBits(int bits)
    {
        BigInteger half = BigInteger.One << (bits - 1);
        return Next(0, 6) switch
        {
            0 => -half,
            1 => half - 1,
            2 => -1,
            _ => Hex.FromBigEndian(Bytes(bits / 8)) - half,
        };
    }

    public string Text()
    {
        const string alphabet = "abcXYZ 019_-é€😀\u00fc\u4e2d";
        var builder = new StringBuilder();
        int length = Next(0, 40);
        var elements = System.Globalization.StringInfo.GetTextElementEnumerator(alphabet);
        var units = new List<string>();
        while (elements.MoveNext())
        {
            units.Add(elements.GetTextElement());
        }

        for (int i = 0; i < length; i++)
        {
            builder.Append(units[Next(0, units.Count)]);
        }

        return builder.ToString();
    }

    public Address Address() => new(Bytes(20));

    public AbiType Type(int depth)
    {
        int choice = Next(0, depth <= 0 ? 7 : 10);
        return choice switch
        {
            0 => AbiType.UInt(8 * Next(1, 33)),
            1 => AbiType.Int(8 * Next(1, 33)),
            2 => AbiType.AddressType,
            3 => AbiType.BoolType,
            4 => AbiType.FixedBytes(Next(1, 33)),
            5 => AbiType.BytesType,
            6 => AbiType.StringType,
            7 => AbiType.ArrayOf(Type(depth - 1)),
            8 => AbiType.FixedArrayOf(Type(depth - 1), Next(1, 4)),
            _ => AbiType.Tuple([.. Enumerable.Range(0, Next(1, 4)).Select(_ => Type(depth - 1))]),
        };
    }

    public object? Value(AbiType type) => type.Kind switch
    {
        AbiKind.UInt => UnsignedBits(type.Size),
        AbiKind.Int => SignedBits(type.Size),
        AbiKind.Address => Address(),
        AbiKind.Bool => Next(0, 2) == 1,
        AbiKind.FixedBytes => Bytes(type.Size),
        AbiKind.Bytes => Bytes(Next(0, 70)),
        AbiKind.String => Text(),
        AbiKind.Array => Enumerable.Range(0, Next(0, 4)).Select(_ => Value(type.Element!)).ToArray(),
        AbiKind.FixedArray => Enumerable.Range(0, type.Length).Select(_ => Value(type.Element!)).ToArray(),
        AbiKind.Tuple => type.Components.Select(Value).ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>The JSON form crosscheck.js understands: integers as decimal strings, bytes and addresses as hex.</summary>
    public static JsonNode? ToJson(object? value) => value switch
    {
        BigInteger b => JsonValue.Create(b.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        int i => JsonValue.Create(i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Address a => JsonValue.Create(a.ToString()),
        bool f => JsonValue.Create(f),
        byte[] bytes => JsonValue.Create(Hex.Encode(bytes)),
        string s => JsonValue.Create(s),
        object?[] items => new JsonArray([.. items.Select(ToJson)]),
        IReadOnlyDictionary<string, object?> map => new JsonObject(map.Select(kv => KeyValuePair.Create(kv.Key, ToJson(kv.Value)))),
        null => null,
        _ => throw new ArgumentException($"No JSON form for {value.GetType()}."),
    };

    public static bool DeepEquals(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (byte[] x, byte[] y) => x.AsSpan().SequenceEqual(y),
        (object?[] x, object?[] y) => x.Length == y.Length && x.Zip(y).All(p => DeepEquals(p.First, p.Second)),
        (BigInteger x, BigInteger y) => x == y,
        _ => Equals(a, b),
    };
}
