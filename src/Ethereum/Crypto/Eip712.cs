using System.Collections;
using System.Numerics;
using System.Text;

namespace PrivateHealth.Ethereum;

/// <summary>A member of an EIP-712 struct type.</summary>
public sealed record Eip712Field(string Name, string Type);

/// <summary>The EIP-712 domain; only the members that are set take part in the domain separator.</summary>
public sealed record Eip712Domain
{
    public string? Name { get; init; }

    public string? Version { get; init; }

    public BigInteger? ChainId { get; init; }

    public Address? VerifyingContract { get; init; }

    /// <summary>32 bytes.</summary>
    public byte[]? Salt { get; init; }
}

/// <summary>
/// EIP-712 typed data. <see cref="Message"/> values: nested structs as
/// IReadOnlyDictionary&lt;string, object?&gt;, arrays as IList, atomic values as for the ABI codec.
/// </summary>
public sealed record TypedData(Eip712Domain Domain, IReadOnlyDictionary<string, IReadOnlyList<Eip712Field>> Types, string PrimaryType, IReadOnlyDictionary<string, object?> Message);

/// <summary>EIP-712 hashing: encodeType, hashStruct, domain separator and the final signing hash.</summary>
public static class Eip712
{
    /// <summary>The signing hash keccak256("\x19\x01" ‖ domainSeparator ‖ hashStruct(message)).</summary>
    public static byte[] Hash(TypedData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Keccak256.Hash([0x19, 0x01, .. DomainSeparator(data.Domain), .. HashStruct(data.PrimaryType, data.Types, data.Message)]);
    }

    /// <summary>hashStruct of the domain with the EIP712Domain type built from the members present.</summary>
    public static byte[] DomainSeparator(Eip712Domain domain)
    {
        ArgumentNullException.ThrowIfNull(domain);
        var fields = new List<Eip712Field>();
        var values = new Dictionary<string, object?>();
        if (domain.Name is not null)
        {
            fields.Add(new("name", "string"));
            values["name"] = domain.Name;
        }

        if (domain.Version is not null)
        {
            fields.Add(new("version", "string"));
            values["version"] = domain.Version;
        }

        if (domain.ChainId is not null)
        {
            fields.Add(new("chainId", "uint256"));
            values["chainId"] = domain.ChainId.Value;
        }

        if (domain.VerifyingContract is not null)
        {
            fields.Add(new("verifyingContract", "address"));
            values["verifyingContract"] = domain.VerifyingContract.Value;
        }

        if (domain.Salt is not null)
        {
            fields.Add(new("salt", "bytes32"));
            values["salt"] = domain.Salt;
        }

        var types = new Dictionary<string, IReadOnlyList<Eip712Field>> { ["EIP712Domain"] = fields };
        return HashStruct("EIP712Domain", types, values);
    }

    /// <summary>encodeType: "Primary(type name,…)" followed by the referenced struct types sorted by name.</summary>
    public static string EncodeType(string primaryType, IReadOnlyDictionary<string, IReadOnlyList<Eip712Field>> types)
    {
        ArgumentNullException.ThrowIfNull(types);
        var found = new SortedSet<string>(StringComparer.Ordinal);
        CollectDependencies(primaryType, types, found);
        found.Remove(primaryType);
        var builder = new StringBuilder();
        foreach (string name in new[] { primaryType }.Concat(found))
        {
            builder.Append(name).Append('(')
                .Append(string.Join(",", Fields(name, types).Select(f => $"{f.Type} {f.Name}")))
                .Append(')');
        }

        return builder.ToString();
    }

    /// <summary>keccak256(encodeType).</summary>
    public static byte[] TypeHash(string primaryType, IReadOnlyDictionary<string, IReadOnlyList<Eip712Field>> types) =>
        Keccak256.Hash(EncodeType(primaryType, types));

    /// <summary>hashStruct(s) = keccak256(typeHash ‖ encodeData(s)).</summary>
    public static byte[] HashStruct(string primaryType, IReadOnlyDictionary<string, IReadOnlyList<Eip712Field>> types, IReadOnlyDictionary<string, object?> value)
    {
        ArgumentNullException.ThrowIfNull(value);
        using var buffer = new MemoryStream();
        buffer.Write(TypeHash(primaryType, types));
        foreach (Eip712Field field in Fields(primaryType, types))
        {
            if (!value.TryGetValue(field.Name, out object? member))
            {
                throw new ArgumentException($"EIP-712 {primaryType}: missing value for member '{field.Name}'.", nameof(value));
            }

            buffer.Write(EncodeValue(field.Type, member, types, $"{primaryType}.{field.Name}"));
        }

        return Keccak256.Hash(buffer.ToArray());
    }

    private static byte[] EncodeValue(string type, object? value, IReadOnlyDictionary<string, IReadOnlyList<Eip712Field>> types, string path)
    {
        if (type.EndsWith(']'))
        {
            int open = type.LastIndexOf('[');
            string elementType = type[..open];
            IList items = value as IList ?? throw new ArgumentException($"EIP-712 {path}: expected an array for {type}.");
            string length = type[(open + 1)..^1];
            if (length.Length > 0 && int.Parse(length, System.Globalization.CultureInfo.InvariantCulture) != items.Count)
            {
                throw new ArgumentException($"EIP-712 {path}: {type} needs {length} elements; got {items.Count}.");
            }

            using var concatenated = new MemoryStream();
            for (int i = 0; i < items.Count; i++)
            {
                concatenated.Write(EncodeValue(elementType, items[i], types, $"{path}[{i}]"));
            }

            return Keccak256.Hash(concatenated.ToArray());
        }

        if (types.ContainsKey(type))
        {
            var nested = value as IReadOnlyDictionary<string, object?> ?? throw new ArgumentException($"EIP-712 {path}: expected a struct value (dictionary) for {type}.");
            return HashStruct(type, types, nested);
        }

        return type switch
        {
            "string" => Keccak256.Hash(Encoding.UTF8.GetBytes(value as string ?? throw new ArgumentException($"EIP-712 {path}: expected a string."))),
            "bytes" => Keccak256.Hash(value as byte[] ?? throw new ArgumentException($"EIP-712 {path}: expected byte[].")),
            _ => AbiCodec.EncodeWord(AbiType.Parse(type), value),
        };
    }

    private static IReadOnlyList<Eip712Field> Fields(string type, IReadOnlyDictionary<string, IReadOnlyList<Eip712Field>> types) =>
        types.TryGetValue(type, out IReadOnlyList<Eip712Field>? fields)
            ? fields
            : throw new ArgumentException($"EIP-712: type '{type}' is not defined.", nameof(types));

    private static void CollectDependencies(string type, IReadOnlyDictionary<string, IReadOnlyList<Eip712Field>> types, SortedSet<string> found)
    {
        string baseType = type.Contains('[', StringComparison.Ordinal) ? type[..type.IndexOf('[', StringComparison.Ordinal)] : type;
        if (!types.ContainsKey(baseType) || !found.Add(baseType))
        {
            return;
        }

        foreach (Eip712Field field in types[baseType])
        {
            CollectDependencies(field.Type, types, found);
        }
    }
}
