using System.Text.Json;

namespace PrivateHealth.Ethereum;

/// <summary>
/// A contract ABI loaded from solc's JSON form (an array of
/// {type, name, inputs[{name, type, components, indexed}], outputs, stateMutability, anonymous}).
/// Encodes calls by function name, decodes outputs, logs and revert data.
/// </summary>
public sealed class ContractAbi
{
    private ContractAbi(IReadOnlyList<AbiFunction> functions, IReadOnlyList<AbiEvent> events, IReadOnlyList<AbiError> errors, IReadOnlyList<AbiParameter> constructorInputs, bool constructorPayable)
    {
        Functions = functions;
        Events = events;
        Errors = errors;
        ConstructorInputs = constructorInputs;
        ConstructorPayable = constructorPayable;
    }

    public IReadOnlyList<AbiFunction> Functions { get; }

    public IReadOnlyList<AbiEvent> Events { get; }

    public IReadOnlyList<AbiError> Errors { get; }

    /// <summary>Constructor parameters (empty when the ABI has no constructor).</summary>
    public IReadOnlyList<AbiParameter> ConstructorInputs { get; }

    public bool ConstructorPayable { get; }

    /// <summary>Parses ABI JSON text (the array).</summary>
    /// <exception cref="FormatException">The JSON is not a valid ABI.</exception>
    public static ContractAbi Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using JsonDocument document = JsonDocument.Parse(json);
        return FromJson(document.RootElement);
    }

    /// <summary>Reads an ABI from a parsed JSON array.</summary>
    /// <exception cref="FormatException">The JSON is not a valid ABI.</exception>
    public static ContractAbi FromJson(JsonElement abi)
    {
        if (abi.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException($"A contract ABI is a JSON array; got {abi.ValueKind}.");
        }

        var functions = new List<AbiFunction>();
        var events = new List<AbiEvent>();
        var errors = new List<AbiError>();
        IReadOnlyList<AbiParameter> constructorInputs = [];
        bool constructorPayable = false;
        foreach (JsonElement entry in abi.EnumerateArray())
        {
            string type = entry.TryGetProperty("type", out JsonElement t) ? t.GetString() ?? "function" : "function";
            string name = entry.TryGetProperty("name", out JsonElement n) ? n.GetString() ?? string.Empty : string.Empty;
            IReadOnlyList<AbiParameter> inputs = Parameters(entry, "inputs", name);
            string mutability = entry.TryGetProperty("stateMutability", out JsonElement m) ? m.GetString() ?? "nonpayable" : "nonpayable";
            switch (type)
            {
                case "function":
                    functions.Add(new AbiFunction(name, inputs, Parameters(entry, "outputs", name), mutability));
                    break;
                case "event":
                    bool anonymous = entry.TryGetProperty("anonymous", out JsonElement a) && a.ValueKind == JsonValueKind.True;
                    events.Add(new AbiEvent(name, inputs, anonymous));
                    break;
                case "error":
                    errors.Add(new AbiError(name, inputs));
                    break;
                case "constructor":
                    constructorInputs = inputs;
                    constructorPayable = mutability == "payable";
                    break;
                case "fallback":
                case "receive":
                    break;
                default:
                    throw new FormatException($"ABI entry '{name}' has unknown type '{type}'.");
            }
        }

        return new ContractAbi(functions, events, errors, constructorInputs, constructorPayable);
    }

    private static List<AbiParameter> Parameters(JsonElement entry, string property, string owner)
    {
        var result = new List<AbiParameter>();
        if (!entry.TryGetProperty(property, out JsonElement list) || list.ValueKind != JsonValueKind.Array)
        {
            return result;
        }

        foreach (JsonElement p in list.EnumerateArray())
        {
            string name = p.TryGetProperty("name", out JsonElement n) ? n.GetString() ?? string.Empty : string.Empty;
            bool indexed = p.TryGetProperty("indexed", out JsonElement i) && i.ValueKind == JsonValueKind.True;
            result.Add(new AbiParameter(name, ParameterType(p, owner), indexed));
        }

        return result;
    }

    private static AbiType ParameterType(JsonElement parameter, string owner)
    {
        string type = parameter.TryGetProperty("type", out JsonElement t) ? t.GetString() ?? string.Empty : string.Empty;
        if (!type.StartsWith("tuple", StringComparison.Ordinal))
        {
            try
            {
                return AbiType.Parse(type);
            }
            catch (FormatException ex)
            {
                throw new FormatException($"ABI entry '{owner}': {ex.Message}", ex);
            }
        }

        if (!parameter.TryGetProperty("components", out JsonElement components) || components.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException($"ABI entry '{owner}': tuple parameter without components.");
        }

        var names = new List<string>();
        var types = new List<AbiType>();
        foreach (JsonElement c in components.EnumerateArray())
        {
            names.Add(c.TryGetProperty("name", out JsonElement n) ? n.GetString() ?? string.Empty : string.Empty);
            types.Add(ParameterType(c, owner));
        }

        AbiType result = AbiType.Tuple(types, names);
        string suffix = type["tuple".Length..];

        // Apply array suffixes ("[]", "[3]", "[][2]") to the tuple by parsing them against a placeholder.
        AbiType shape = AbiType.Parse("bool" + suffix);
        var dims = new Stack<(bool Dynamic, int Length)>();
        for (AbiType s = shape; s.Kind is AbiKind.Array or AbiKind.FixedArray; s = s.Element!)
        {
            dims.Push((s.Kind == AbiKind.Array, s.Length));
        }

        while (dims.Count > 0)
        {
            (bool dynamic, int length) = dims.Pop();
            result = dynamic ? AbiType.ArrayOf(result) : AbiType.FixedArrayOf(result, length);
        }

        return result;
    }

    /// <summary>The function with this name, or with this exact signature when the name is overloaded.</summary>
    /// <exception cref="KeyNotFoundException">No such function, or an ambiguous overloaded name.</exception>
    public AbiFunction GetFunction(string nameOrSignature)
    {
        ArgumentNullException.ThrowIfNull(nameOrSignature);
        if (nameOrSignature.Contains('(', StringComparison.Ordinal))
        {
            string canonical = AbiFunction.FromSignature(nameOrSignature).Signature;
            return Functions.FirstOrDefault(f => f.Signature == canonical)
                ?? throw new KeyNotFoundException($"The ABI has no function {canonical}.");
        }

        AbiFunction[] matches = [.. Functions.Where(f => f.Name == nameOrSignature)];
        return matches.Length switch
        {
            1 => matches[0],
            0 => throw new KeyNotFoundException($"The ABI has no function '{nameOrSignature}'. Functions: {string.Join(", ", Functions.Select(f => f.Signature))}."),
            _ => throw new KeyNotFoundException($"Function '{nameOrSignature}' is overloaded ({string.Join(", ", matches.Select(f => f.Signature))}); pass the full signature."),
        };
    }

    /// <summary>The event with this name.</summary>
    public AbiEvent GetEvent(string name) =>
        Events.FirstOrDefault(e => e.Name == name || e.Signature == name)
        ?? throw new KeyNotFoundException($"The ABI has no event '{name}'.");

    /// <summary>Call data for a function by name.</summary>
    public byte[] EncodeCall(string function, params object?[] arguments) => GetFunction(function).EncodeCall(arguments);

    /// <summary>Decodes a function's return data.</summary>
    public object?[] DecodeOutput(string function, ReadOnlySpan<byte> returnData) => GetFunction(function).DecodeOutput(returnData);

    /// <summary>The ABI-encoded constructor arguments (appended to the creation bytecode).</summary>
    public byte[] EncodeConstructor(params object?[] arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        if (arguments.Length != ConstructorInputs.Count)
        {
            throw new ArgumentException($"The constructor takes {ConstructorInputs.Count} argument(s); got {arguments.Length}.", nameof(arguments));
        }

        return AbiCodec.Encode([.. ConstructorInputs.Select(p => p.Type)], arguments);
    }

    /// <summary>Decodes revert data using Error/Panic and this ABI's custom errors.</summary>
    public RevertReason DecodeRevert(ReadOnlySpan<byte> data) => RevertReason.Decode(data, Errors);

    /// <summary>Decodes a log if its topic0 matches one of this ABI's events; null otherwise.</summary>
    public DecodedEvent? TryDecodeLog(EthLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (log.Topics.Count == 0)
        {
            return null;
        }

        AbiEvent? match = Events.FirstOrDefault(e => !e.Anonymous && e.Topic0 == log.Topics[0]);
        return match?.Decode(log.Topics, log.Data, log);
    }
}
