using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PrivateHealth.Ethereum.Tests;

/// <summary>
/// Byte-for-byte comparison with ethers 6 (contracts/node_modules) on seeded random inputs. Each
/// test sends one batch to one node process (node/crosscheck.js). Missing node or packages fail the test.
/// </summary>
public sealed class EthersCrossCheckTests
{
    private static async Task<JsonNode> EthersAsync(JsonObject batch)
    {
        NodeTools.RequireNodePackages("ethers");
        string output = await NodeTools.RunAsync(NodeTools.Script("crosscheck.js"), batch.ToJsonString(), TimeSpan.FromSeconds(60), NodeTools.NodeModules);
        return JsonNode.Parse(output) ?? throw new InvalidOperationException("crosscheck.js printed nothing.");
    }

    private static EthKey RandomKey(RandomData random) => new(Keccak256.Hash(random.Bytes(32)));

    private static string Q(BigInteger value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task KeysTransactionsAndContractAddressesMatchEthers()
    {
        var random = new RandomData(20251);
        var keys = Enumerable.Range(0, 20).Select(_ => RandomKey(random)).ToList();
        var txs1559 = new List<Eip1559Transaction>();
        var legacy = new List<LegacyTransaction>();
        var txKeys1559 = new List<EthKey>();
        var txKeysLegacy = new List<EthKey>();
        for (int i = 0; i < 40; i++)
        {
            Address? to = i % 4 == 0 ? null : random.Address();
            byte[] data = random.Bytes(i % 5 == 0 ? 0 : random.Next(1, 120));
            BigInteger maxFee = random.UnsignedBits(64);
            txs1559.Add(new Eip1559Transaction
            {
                ChainId = random.UnsignedBits(32) + 1,
                Nonce = random.Next(0, int.MaxValue),
                MaxFeePerGas = maxFee,
                MaxPriorityFeePerGas = maxFee.IsZero ? 0 : maxFee / random.Next(1, 10),
                GasLimit = random.UnsignedBits(32),
                To = to,
                Value = random.UnsignedBits(96),
                Data = data,
            });
            txKeys1559.Add(keys[random.Next(0, keys.Count)]);
            legacy.Add(new LegacyTransaction
            {
                ChainId = random.UnsignedBits(32) + 1,
                Nonce = random.Next(0, int.MaxValue),
                GasPrice = random.UnsignedBits(64),
                GasLimit = random.UnsignedBits(32),
                To = to,
                Value = random.UnsignedBits(96),
                Data = data,
            });
            txKeysLegacy.Add(keys[random.Next(0, keys.Count)]);
        }

        var creates = Enumerable.Range(0, 20).Select(i => (From: random.Address(), Nonce: i < 5 ? new BigInteger(i) : random.UnsignedBits(i < 12 ? 16 : 48))).ToList();
        var batch = new JsonObject
        {
            ["keys"] = new JsonArray([.. keys.Select(k => (JsonNode)Hex.Encode(k.PrivateKeyBytes()))]),
            ["txs1559"] = new JsonArray([.. txs1559.Select((t, i) => (JsonNode)new JsonObject
            {
                ["key"] = Hex.Encode(txKeys1559[i].PrivateKeyBytes()),
                ["chainId"] = Q(t.ChainId),
                ["nonce"] = Q(t.Nonce),
                ["maxPriorityFeePerGas"] = Q(t.MaxPriorityFeePerGas),
                ["maxFeePerGas"] = Q(t.MaxFeePerGas),
                ["gasLimit"] = Q(t.GasLimit),
                ["to"] = t.To?.ToString(),
                ["value"] = Q(t.Value),
                ["data"] = Hex.Encode(t.Data),
            })]),
            ["txsLegacy"] = new JsonArray([.. legacy.Select((t, i) => (JsonNode)new JsonObject
            {
                ["key"] = Hex.Encode(txKeysLegacy[i].PrivateKeyBytes()),
                ["chainId"] = Q(t.ChainId!.Value),
                ["nonce"] = Q(t.Nonce),
                ["gasPrice"] = Q(t.GasPrice),
                ["gasLimit"] = Q(t.GasLimit),
                ["to"] = t.To?.ToString(),
                ["value"] = Q(t.Value),
                ["data"] = Hex.Encode(t.Data),
            })]),
            ["creates"] = new JsonArray([.. creates.Select(c => (JsonNode)new JsonObject { ["from"] = c.From.ToString(), ["nonce"] = Q(c.Nonce) })]),
            ["checksums"] = new JsonArray([.. Enumerable.Range(0, 30).Select(_ => (JsonNode)random.Address().ToLowerHex())]),
        };

        JsonNode ethers = await EthersAsync(batch);

        for (int i = 0; i < keys.Count; i++)
        {
            Assert.Equal(ethers["addresses"]![i]!.GetValue<string>(), keys[i].Address.ToString());
        }

        for (int i = 0; i < txs1559.Count; i++)
        {
            SignedTransaction ours = txs1559[i].Sign(txKeys1559[i]);
            JsonNode theirs = ethers["txs1559"]![i]!;
            Assert.Equal(theirs["unsignedHash"]!.GetValue<string>(), Hex.Encode(txs1559[i].SigningHash()));
            Assert.Equal(theirs["raw"]!.GetValue<string>(), ours.RawHex);
            Assert.Equal(theirs["hash"]!.GetValue<string>(), ours.Hash.ToString());
            Assert.Equal(theirs["from"]!.GetValue<string>(), txKeys1559[i].Address.ToString());
        }

        for (int i = 0; i < legacy.Count; i++)
        {
            SignedTransaction ours = legacy[i].Sign(txKeysLegacy[i]);
            JsonNode theirs = ethers["txsLegacy"]![i]!;
            Assert.Equal(theirs["unsignedHash"]!.GetValue<string>(), Hex.Encode(legacy[i].SigningHash()));
            Assert.Equal(theirs["raw"]!.GetValue<string>(), ours.RawHex);
            Assert.Equal(theirs["hash"]!.GetValue<string>(), ours.Hash.ToString());
        }

        for (int i = 0; i < creates.Count; i++)
        {
            Assert.Equal(ethers["creates"]![i]!.GetValue<string>(), ContractAddress.Create(creates[i].From, creates[i].Nonce).ToString());
        }

        JsonArray checksums = batch["checksums"]!.AsArray();
        for (int i = 0; i < checksums.Count; i++)
        {
            Assert.Equal(ethers["checksums"]![i]!.GetValue<string>(), Address.Parse(checksums[i]!.GetValue<string>()).ToString());
        }
    }

    [Fact]
    public async Task AbiEncodingsAndSelectorsMatchEthers()
    {
        var random = new RandomData(4242);
        var cases = new List<(AbiType[] Types, object?[] Values)>();
        for (int i = 0; i < 80; i++)
        {
            AbiType[] types = [.. Enumerable.Range(0, random.Next(1, 5)).Select(_ => random.Type(i % 3 + 1))];
            cases.Add((types, [.. types.Select(random.Value)]));
        }

        // Always include the shapes the brief names explicitly.
        AbiType[] named = [AbiType.Parse("(uint256,bytes32[])[]"), AbiType.Parse("address[3]"), AbiType.Parse("int24"), AbiType.Parse("string"), AbiType.Parse("bytes")];
        cases.Add((named, [.. named.Select(random.Value)]));

        string[] signatures = [.. cases.Select((c, i) => $"f{i}({string.Join(",", c.Types.Select(t => t.CanonicalName))})")];
        var batch = new JsonObject
        {
            ["abi"] = new JsonArray([.. cases.Select(c => (JsonNode)new JsonObject
            {
                ["types"] = new JsonArray([.. c.Types.Select(t => (JsonNode)t.CanonicalName)]),
                ["values"] = new JsonArray([.. c.Values.Select(RandomData.ToJson)]),
            })]),
            ["selectors"] = new JsonArray([.. signatures.Select(s => (JsonNode)s)]),
        };

        JsonNode ethers = await EthersAsync(batch);
        for (int i = 0; i < cases.Count; i++)
        {
            JsonNode theirs = ethers["abi"]![i]!;
            string types = string.Join(",", cases[i].Types.Select(t => t.CanonicalName));
            Assert.Equal(string.Join(",", theirs["canonical"]!.AsArray().Select(n => n!.GetValue<string>())), types);
            byte[] ours = AbiCodec.Encode(cases[i].Types, cases[i].Values);
            Assert.True(theirs["encoded"]!.GetValue<string>() == Hex.Encode(ours), $"ABI encoding of ({types}) differs from ethers (case {i}).");
            Assert.True(RandomData.DeepEquals(cases[i].Values, AbiCodec.Decode(cases[i].Types, Hex.Decode(theirs["encoded"]!.GetValue<string>()))), $"Decoding ethers' encoding of ({types}) differs (case {i}).");
            Assert.Equal(ethers["selectors"]![i]!.GetValue<string>(), Hex.Encode(AbiSignature.Selector(signatures[i])));
        }
    }

    private static readonly string[] Eip712Atomic = ["uint256", "uint8", "uint64", "int256", "int16", "address", "bool", "bytes32", "bytes4", "bytes", "string"];

    private static (Dictionary<string, IReadOnlyList<Eip712Field>> Types, Dictionary<string, object?> Message, Eip712Domain Domain) RandomTypedData(RandomData random)
    {
        var types = new Dictionary<string, IReadOnlyList<Eip712Field>>();
        List<Eip712Field> Atomic(string prefix, int count) =>
            [.. Enumerable.Range(0, count).Select(i => new Eip712Field($"{prefix}{i}", Eip712Atomic[random.Next(0, Eip712Atomic.Length)]))];

        bool withAlpha = random.Next(0, 2) == 0;
        if (withAlpha)
        {
            types["Alpha"] = Atomic("a", random.Next(1, 3));
        }

        types["Scope"] = [new("id", "uint256"), .. Atomic("s", random.Next(0, 3)), .. (withAlpha ? new[] { new Eip712Field("meta", "Alpha") } : [])];
        types["Person"] = [new("name", "string"), new("wallet", "address"), .. Atomic("p", random.Next(0, 2))];
        types["Consent"] =
        [
            new("participant", "Person"),
            new("scopes", "Scope[]"),
            new("tags", Eip712Atomic[random.Next(0, Eip712Atomic.Length)] + "[]"),
            new("pair", "uint16[2]"),
            .. Atomic("c", random.Next(0, 4)),
        ];

        object? Value(string type)
        {
            if (type.EndsWith(']'))
            {
                int open = type.LastIndexOf('[');
                string inner = type[(open + 1)..^1];
                int count = inner.Length == 0 ? random.Next(0, 4) : int.Parse(inner, System.Globalization.CultureInfo.InvariantCulture);
                return Enumerable.Range(0, count).Select(_ => Value(type[..open])).ToArray();
            }

            if (types.TryGetValue(type, out IReadOnlyList<Eip712Field>? fields))
            {
                return (IReadOnlyDictionary<string, object?>)fields.ToDictionary(f => f.Name, f => Value(f.Type));
            }

            return random.Value(AbiType.Parse(type));
        }

        var message = types["Consent"].ToDictionary(f => f.Name, f => Value(f.Type));
        int mask = random.Next(1, 32);
        var domain = new Eip712Domain
        {
            Name = (mask & 1) != 0 ? "PrivateHealth " + random.Text() : null,
            Version = (mask & 2) != 0 ? "1" : null,
            ChainId = (mask & 4) != 0 ? random.UnsignedBits(32) : null,
            VerifyingContract = (mask & 8) != 0 ? random.Address() : null,
            Salt = (mask & 16) != 0 ? random.Bytes(32) : null,
        };
        return (types, message, domain);
    }

    [Fact]
    public async Task TypedDataAndPersonalMessagesMatchEthers()
    {
        var random = new RandomData(712);
        var typed = Enumerable.Range(0, 25).Select(_ => (Data: RandomTypedData(random), Key: RandomKey(random))).ToList();
        var messages = Enumerable.Range(0, 25).Select(i => (Message: i % 2 == 0 ? System.Text.Encoding.UTF8.GetBytes(random.Text()) : random.Bytes(random.Next(0, 200)), Key: RandomKey(random))).ToList();

        static JsonObject DomainJson(Eip712Domain d)
        {
            var json = new JsonObject();
            if (d.Name is not null)
            {
                json["name"] = d.Name;
            }

            if (d.Version is not null)
            {
                json["version"] = d.Version;
            }

            if (d.ChainId is not null)
            {
                json["chainId"] = Q(d.ChainId.Value);
            }

            if (d.VerifyingContract is not null)
            {
                json["verifyingContract"] = d.VerifyingContract.Value.ToString();
            }

            if (d.Salt is not null)
            {
                json["salt"] = Hex.Encode(d.Salt);
            }

            return json;
        }

        var batch = new JsonObject
        {
            ["typed"] = new JsonArray([.. typed.Select(t => (JsonNode)new JsonObject
            {
                ["key"] = Hex.Encode(t.Key.PrivateKeyBytes()),
                ["domain"] = DomainJson(t.Data.Domain),
                ["types"] = new JsonObject(t.Data.Types.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonArray([.. kv.Value.Select(f => (JsonNode)new JsonObject { ["name"] = f.Name, ["type"] = f.Type })])))),
                ["primaryType"] = "Consent",
                ["message"] = RandomData.ToJson(t.Data.Message),
            })]),
            ["messages"] = new JsonArray([.. messages.Select(m => (JsonNode)new JsonObject { ["key"] = Hex.Encode(m.Key.PrivateKeyBytes()), ["message"] = Hex.Encode(m.Message) })]),
        };

        JsonNode ethers = await EthersAsync(batch);
        for (int i = 0; i < typed.Count; i++)
        {
            var data = new TypedData(typed[i].Data.Domain, typed[i].Data.Types, "Consent", typed[i].Data.Message);
            JsonNode theirs = ethers["typed"]![i]!;
            Assert.Equal("Consent", theirs["primaryType"]!.GetValue<string>());
            Assert.Equal(theirs["encodedType"]!.GetValue<string>(), Eip712.EncodeType("Consent", data.Types));
            Assert.Equal(theirs["hash"]!.GetValue<string>(), Hex.Encode(Eip712.Hash(data)));
            EthSignature signature = typed[i].Key.SignTypedData(data);
            Assert.Equal(theirs["signature"]!.GetValue<string>(), signature.ToHex());
            Assert.Equal(typed[i].Key.Address, Secp256k1.RecoverAddress(Eip712.Hash(data), EthSignature.FromBytes(Hex.Decode(theirs["signature"]!.GetValue<string>()))));
        }

        for (int i = 0; i < messages.Count; i++)
        {
            JsonNode theirs = ethers["messages"]![i]!;
            Assert.Equal(theirs["hash"]!.GetValue<string>(), Hex.Encode(PersonalMessage.Hash(messages[i].Message)));
            Assert.Equal(theirs["signature"]!.GetValue<string>(), messages[i].Key.SignMessage(messages[i].Message).ToHex());
        }
    }
}
