using System.Numerics;

namespace PrivateHealth.Ethereum;

/// <summary>A named parameter of a function, event or error.</summary>
/// <param name="Name">The name ("" when unnamed).</param>
/// <param name="Type">The type (tuples carry component names).</param>
/// <param name="Indexed">For event parameters: whether it is a topic.</param>
public sealed record AbiParameter(string Name, AbiType Type, bool Indexed = false);

/// <summary>A contract function.</summary>
public sealed class AbiFunction
{
    /// <summary>Creates a function definition.</summary>
    public AbiFunction(string name, IReadOnlyList<AbiParameter> inputs, IReadOnlyList<AbiParameter>? outputs = null, string stateMutability = "nonpayable")
    {
        Name = string.IsNullOrEmpty(name) ? throw new ArgumentException("A function needs a name.", nameof(name)) : name;
        Inputs = inputs ?? throw new ArgumentNullException(nameof(inputs));
        Outputs = outputs ?? [];
        StateMutability = stateMutability;
        Signature = $"{Name}({string.Join(",", Inputs.Select(p => p.Type.CanonicalName))})";
        Selector = Keccak256.Hash(Signature)[..4];
    }

    public string Name { get; }

    public IReadOnlyList<AbiParameter> Inputs { get; }

    public IReadOnlyList<AbiParameter> Outputs { get; }

    /// <summary>"pure", "view", "nonpayable" or "payable".</summary>
    public string StateMutability { get; }

    /// <summary>True for view and pure functions.</summary>
    public bool IsReadOnly => StateMutability is "view" or "pure";

    /// <summary>The canonical signature, e.g. "transfer(address,uint256)".</summary>
    public string Signature { get; }

    /// <summary>The first four bytes of Keccak-256 of the signature.</summary>
    public byte[] Selector { get; }

    /// <summary>Parses "name(type1,type2)" (outputs unknown).</summary>
    public static AbiFunction FromSignature(string signature)
    {
        (string name, AbiType[] types) = AbiSignature.Parse(signature);
        return new AbiFunction(name, [.. types.Select(t => new AbiParameter(string.Empty, t))]);
    }

    /// <summary>Selector followed by the ABI-encoded arguments.</summary>
    /// <remarks>A single array argument must be wrapped (<c>EncodeCall([array])</c>), or C# spreads it as the params list.</remarks>
    public byte[] EncodeCall(params object?[] arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Length != Inputs.Count)
        {
            throw new ArgumentException($"{Signature} takes {Inputs.Count} argument(s); got {arguments.Length}.", nameof(arguments));
        }

        return [.. Selector, .. AbiCodec.Encode([.. Inputs.Select(p => p.Type)], arguments)];
    }

    /// <summary>Decodes call data (selector + arguments) for this function.</summary>
    public object?[] DecodeCall(ReadOnlySpan<byte> callData)
    {
        if (callData.Length < 4 || !callData[..4].SequenceEqual(Selector))
        {
            throw new AbiDecodingException($"Call data does not start with the selector of {Signature} ({Hex.Encode(Selector)}).");
        }

        return AbiCodec.Decode([.. Inputs.Select(p => p.Type)], callData[4..]);
    }

    /// <summary>Decodes the return data.</summary>
    public object?[] DecodeOutput(ReadOnlySpan<byte> returnData) => AbiCodec.Decode([.. Outputs.Select(p => p.Type)], returnData);

    public override string ToString() => Signature;
}

/// <summary>A custom error ("error InsufficientBalance(uint256 available, uint256 required)").</summary>
public sealed class AbiError
{
    public AbiError(string name, IReadOnlyList<AbiParameter> inputs)
    {
        Name = name;
        Inputs = inputs;
        Signature = $"{Name}({string.Join(",", Inputs.Select(p => p.Type.CanonicalName))})";
        Selector = Keccak256.Hash(Signature)[..4];
    }

    public string Name { get; }

    public IReadOnlyList<AbiParameter> Inputs { get; }

    public string Signature { get; }

    public byte[] Selector { get; }

    /// <summary>Selector followed by the encoded arguments, as a revert would produce.</summary>
    public byte[] Encode(params object?[] arguments) => [.. Selector, .. AbiCodec.Encode([.. Inputs.Select(p => p.Type)], arguments)];

    public override string ToString() => Signature;
}

/// <summary>A decoded event log.</summary>
/// <param name="Event">The matching event definition.</param>
/// <param name="Values">Values in declaration order; indexed dynamic values are the topic <see cref="Hash32"/>.</param>
/// <param name="Log">The log it came from (null when decoded from raw topics and data).</param>
public sealed record DecodedEvent(AbiEvent Event, IReadOnlyList<object?> Values, EthLog? Log = null)
{
    /// <summary>The event name.</summary>
    public string Name => Event.Name;

    /// <summary>A value by parameter name.</summary>
    public object? this[string name]
    {
        get
        {
            for (int i = 0; i < Event.Inputs.Count; i++)
            {
                if (Event.Inputs[i].Name == name)
                {
                    return Values[i];
                }
            }

            throw new KeyNotFoundException($"Event {Event.Signature} has no parameter '{name}'.");
        }
    }
}

/// <summary>An event definition.</summary>
public sealed class AbiEvent
{
    public AbiEvent(string name, IReadOnlyList<AbiParameter> inputs, bool anonymous = false)
    {
        Name = name;
        Inputs = inputs;
        Anonymous = anonymous;
        Signature = $"{Name}({string.Join(",", Inputs.Select(p => p.Type.CanonicalName))})";
        Topic0 = Hash32.Keccak(System.Text.Encoding.UTF8.GetBytes(Signature));
        int indexed = inputs.Count(p => p.Indexed);
        if (indexed > (anonymous ? 4 : 3))
        {
            throw new ArgumentException($"Event {Signature} has {indexed} indexed parameters; at most {(anonymous ? 4 : 3)} are allowed.", nameof(inputs));
        }
    }

    public string Name { get; }

    public IReadOnlyList<AbiParameter> Inputs { get; }

    public bool Anonymous { get; }

    public string Signature { get; }

    /// <summary>Keccak-256 of the signature: the first topic of a non-anonymous event's logs.</summary>
    public Hash32 Topic0 { get; }

    /// <summary>The topic an indexed parameter value produces (the value's word, or Keccak of the encoding for dynamic types).</summary>
    public static Hash32 TopicFor(AbiType type, object? value)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (type.Kind is AbiKind.String)
        {
            return Hash32.Keccak(System.Text.Encoding.UTF8.GetBytes((string)value!));
        }

        if (type.Kind is AbiKind.Bytes)
        {
            return Hash32.Keccak((byte[])value!);
        }

        if (type.IsDynamic || type.HeadSize != 32)
        {
            // Arrays and tuples: Keccak of the in-place encoding (elements padded to 32 bytes, no lengths or offsets).
            using var buffer = new MemoryStream();
            WriteInPlace(type, value, buffer);
            return Hash32.Keccak(buffer.ToArray());
        }

        return new Hash32(AbiCodec.EncodeWord(type, value));
    }

    private static void WriteInPlace(AbiType type, object? value, MemoryStream output)
    {
        switch (type.Kind)
        {
            case AbiKind.String:
            case AbiKind.Bytes:
                byte[] raw = type.Kind == AbiKind.String ? System.Text.Encoding.UTF8.GetBytes((string)value!) : (byte[])value!;
                output.Write(raw);
                output.Write(new byte[(32 - (raw.Length % 32)) % 32]);
                break;
            case AbiKind.Array:
            case AbiKind.FixedArray:
                foreach (object? item in (System.Collections.IList)value!)
                {
                    WriteInPlace(type.Element!, item, output);
                }

                break;
            case AbiKind.Tuple:
                var items = (System.Collections.IList)value!;
                for (int i = 0; i < type.Components.Count; i++)
                {
                    WriteInPlace(type.Components[i], items[i], output);
                }

                break;
            default:
                output.Write(AbiCodec.EncodeWord(type, value));
                break;
        }
    }

    /// <summary>Decodes a log's topics and data.</summary>
    /// <exception cref="AbiDecodingException">Topics or data do not match this event.</exception>
    public DecodedEvent Decode(IReadOnlyList<Hash32> topics, ReadOnlySpan<byte> data, EthLog? log = null)
    {
        ArgumentNullException.ThrowIfNull(topics);
        int topicIndex = 0;
        if (!Anonymous)
        {
            if (topics.Count == 0 || topics[0] != Topic0)
            {
                throw new AbiDecodingException($"Log topic0 {(topics.Count == 0 ? "(none)" : topics[0].ToString())} is not {Signature} ({Topic0}).");
            }

            topicIndex = 1;
        }

        int expectedTopics = topicIndex + Inputs.Count(p => p.Indexed);
        if (topics.Count != expectedTopics)
        {
            throw new AbiDecodingException($"Event {Signature} expects {expectedTopics} topic(s); the log has {topics.Count}.");
        }

        object?[] nonIndexed = AbiCodec.Decode([.. Inputs.Where(p => !p.Indexed).Select(p => p.Type)], data);
        var values = new object?[Inputs.Count];
        int dataIndex = 0;
        for (int i = 0; i < Inputs.Count; i++)
        {
            AbiParameter p = Inputs[i];
            if (!p.Indexed)
            {
                values[i] = nonIndexed[dataIndex++];
                continue;
            }

            Hash32 topic = topics[topicIndex++];
            values[i] = p.Type.IsDynamic || p.Type.HeadSize != 32 || p.Type.Kind is AbiKind.Bytes or AbiKind.String
                ? topic
                : AbiCodec.Decode(p.Type, topic.Span);
        }

        return new DecodedEvent(this, values, log);
    }

    public override string ToString() => Signature;
}

/// <summary>Parses "name(type,…)" signatures.</summary>
public static class AbiSignature
{
    /// <summary>Splits a signature into its name and parameter types.</summary>
    /// <exception cref="FormatException">Not of the form name(types).</exception>
    public static (string Name, AbiType[] Types) Parse(string signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        int open = signature.IndexOf('(', StringComparison.Ordinal);
        if (open <= 0 || !signature.EndsWith(')'))
        {
            throw new FormatException($"'{signature}' is not a signature of the form name(type1,type2).");
        }

        AbiType tuple = AbiType.Parse(signature[open..]);
        if (tuple.Kind != AbiKind.Tuple)
        {
            throw new FormatException($"'{signature}' is not a signature of the form name(type1,type2).");
        }

        return (signature[..open].Trim(), [.. tuple.Components]);
    }

    /// <summary>Selector (four bytes) of a function or error signature.</summary>
    public static byte[] Selector(string signature) => AbiFunction.FromSignature(signature).Selector;

    /// <summary>Topic0 of an event signature.</summary>
    public static Hash32 EventTopic(string signature)
    {
        (string name, AbiType[] types) = Parse(signature);
        return new AbiEvent(name, [.. types.Select(t => new AbiParameter(string.Empty, t))]).Topic0;
    }
}

/// <summary>What a revert carried.</summary>
public enum RevertKind
{
    /// <summary>No data (revert() or out of gas or an invalid opcode without data).</summary>
    Empty,

    /// <summary>Error(string): require/revert with a message.</summary>
    Error,

    /// <summary>Panic(uint256): assert, arithmetic overflow, division by zero, array bounds…</summary>
    Panic,

    /// <summary>A custom error defined in the ABI.</summary>
    Custom,

    /// <summary>Data that matches nothing known.</summary>
    Unknown,
}

/// <summary>A decoded revert reason.</summary>
public sealed record RevertReason(RevertKind Kind, byte[] Data, string? Message = null, BigInteger? PanicCode = null, AbiError? Error = null, IReadOnlyList<object?>? Arguments = null)
{
    /// <summary>The selector of Error(string).</summary>
    public static readonly byte[] ErrorSelector = [0x08, 0xc3, 0x79, 0xa0];

    /// <summary>The selector of Panic(uint256).</summary>
    public static readonly byte[] PanicSelector = [0x4e, 0x48, 0x7b, 0x71];

    /// <summary>Decodes revert data against the standard Error/Panic and the given custom errors.</summary>
    public static RevertReason Decode(ReadOnlySpan<byte> data, IEnumerable<AbiError>? customErrors = null)
    {
        byte[] bytes = data.ToArray();
        if (bytes.Length == 0)
        {
            return new RevertReason(RevertKind.Empty, bytes);
        }

        if (bytes.Length >= 4)
        {
            ReadOnlySpan<byte> selector = bytes.AsSpan(0, 4);
            try
            {
                if (selector.SequenceEqual(ErrorSelector))
                {
                    return new RevertReason(RevertKind.Error, bytes, Message: (string)AbiCodec.Decode([AbiType.StringType], bytes.AsSpan(4))[0]!);
                }

                if (selector.SequenceEqual(PanicSelector))
                {
                    var code = (BigInteger)AbiCodec.Decode([AbiType.UInt(256)], bytes.AsSpan(4))[0]!;
                    return new RevertReason(RevertKind.Panic, bytes, Message: PanicDescription(code), PanicCode: code);
                }

                foreach (AbiError error in customErrors ?? [])
                {
                    if (selector.SequenceEqual(error.Selector))
                    {
                        object?[] args = AbiCodec.Decode([.. error.Inputs.Select(p => p.Type)], bytes.AsSpan(4));
                        return new RevertReason(RevertKind.Custom, bytes, Message: $"{error.Name}({string.Join(", ", args.Select(FormatValue))})", Error: error, Arguments: args);
                    }
                }
            }
            catch (AbiDecodingException)
            {
                // Malformed payload after a known selector: report as unknown below.
            }
        }

        return new RevertReason(RevertKind.Unknown, bytes);
    }

    /// <summary>The meaning of a Solidity panic code.</summary>
    public static string PanicDescription(BigInteger code) => (int)(code > 0xff ? -1 : code) switch
    {
        0x00 => "generic compiler panic (0x00)",
        0x01 => "assertion failed (0x01)",
        0x11 => "arithmetic overflow or underflow (0x11)",
        0x12 => "division or modulo by zero (0x12)",
        0x21 => "invalid enum value (0x21)",
        0x22 => "invalid storage byte array encoding (0x22)",
        0x31 => "pop on an empty array (0x31)",
        0x32 => "array index out of bounds (0x32)",
        0x41 => "out of memory (0x41)",
        0x51 => "call to a zero-initialised internal function (0x51)",
        _ => $"unknown panic code 0x{code:x}",
    };

    /// <summary>A human-readable description.</summary>
    public override string ToString() => Kind switch
    {
        RevertKind.Empty => "reverted without data",
        RevertKind.Error => $"reverted: {Message}",
        RevertKind.Panic => $"panic: {Message}",
        RevertKind.Custom => $"custom error {Message}",
        _ => $"reverted with unrecognised data {Hex.Encode(Data)}",
    };

    internal static string FormatValue(object? value) => value switch
    {
        null => "null",
        byte[] b => Hex.Encode(b),
        string s => "\"" + s + "\"",
        object?[] a => "[" + string.Join(", ", a.Select(FormatValue)) + "]",
        bool b => b ? "true" : "false",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty,
    };
}
