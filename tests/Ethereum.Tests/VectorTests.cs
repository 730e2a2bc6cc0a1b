using System.Numerics;

namespace PrivateHealth.Ethereum.Tests;

/// <summary>Known-answer tests from the EIPs, the yellow paper's RLP appendix and the Solidity ABI docs.</summary>
public sealed class VectorTests
{
    private static string H(byte[] bytes) => Hex.Encode(bytes);

    [Fact]
    public void Keccak256OfEmptyInput()
    {
        Assert.Equal("0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470", H(Keccak256.Hash([])));
        Assert.Equal("0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45", H(Keccak256.Hash("abc")));
    }

    [Fact]
    public void Eip155ExampleSigningHashAndRawTransaction()
    {
        var key = EthKey.FromHex("0x4646464646464646464646464646464646464646464646464646464646464646");
        var tx = new LegacyTransaction
        {
            Nonce = 9,
            GasPrice = 20_000_000_000,
            GasLimit = 21000,
            To = Address.Parse("0x3535353535353535353535353535353535353535"),
            Value = BigInteger.Parse("1000000000000000000", System.Globalization.CultureInfo.InvariantCulture),
            ChainId = 1,
        };
        Assert.Equal("0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53", H(tx.SigningHash()));
        SignedTransaction signed = tx.Sign(key);
        Assert.Equal(
            "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83",
            signed.RawHex);
        Assert.Equal(BigInteger.Parse("18515461264373351373200002665853028612451056578545711640558177340181847433846", System.Globalization.CultureInfo.InvariantCulture), signed.Signature.R);
        Assert.Equal(key.Address, TransactionDecoder.RecoverSender(signed.Raw));
    }

    [Theory]
    [InlineData("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]
    [InlineData("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")]
    [InlineData("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB")]
    [InlineData("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb")]
    [InlineData("0x52908400098527886E0F7030069857D2E4169EE7")]
    [InlineData("0x8617E340B3D01FA5F11F306F4090FD50E238070D")]
    [InlineData("0xde709f2102306220921060314715629080e2fb77")]
    [InlineData("0x27b1fdb04752bbc536007a920d24acb045561c26")]
    public void Eip55ChecksumExamples(string text)
    {
        Address parsed = Address.Parse(text);
        bool singleCase = text[2..] == text[2..].ToUpperInvariant() || text[2..] == text[2..].ToLowerInvariant();
        if (!singleCase)
        {
            Assert.Equal(text, parsed.ToString());
        }

        Assert.Equal(parsed, Address.Parse(text.ToLowerInvariant()));
        Assert.Equal(parsed, Address.Parse("0x" + text[2..].ToUpperInvariant()));
    }

    [Fact]
    public void MixedCaseAddressWithWrongChecksumIsRejected()
    {
        var ex = Assert.Throws<FormatException>(() => Address.Parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"));
        Assert.Contains("checksum", ex.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => Address.Parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA"));
        Assert.Throws<FormatException>(() => Address.Parse("0xzzAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
    }

    [Fact]
    public void HardhatAccountZeroAddress()
    {
        var key = EthKey.FromHex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
        Assert.Equal("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", key.Address.ToString());
    }

    [Theory]
    [InlineData("dog", "0x83646f67")]
    [InlineData("", "0x80")]
    [InlineData("Lorem ipsum dolor sit amet, consectetur adipisicing elit", "0xb8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164697069736963696e6720656c6974")]
    public void RlpStrings(string text, string expected)
    {
        Assert.Equal(expected, H(Rlp.Encode(Rlp.Text(text))));
        Assert.True(Rlp.Decode(Hex.Decode(expected)).StructurallyEquals(Rlp.Text(text)));
    }

    [Fact]
    public void RlpListsIntegersAndTheSetTheoreticRepresentation()
    {
        Assert.Equal("0xc88363617483646f67", H(Rlp.Encode(Rlp.List(Rlp.Text("cat"), Rlp.Text("dog")))));
        Assert.Equal("0xc0", H(Rlp.Encode(Rlp.List())));
        Assert.Equal("0x80", H(Rlp.Encode(Rlp.Integer(0))));
        Assert.Equal("0x0f", H(Rlp.Encode(Rlp.Integer(15))));
        Assert.Equal("0x00", H(Rlp.Encode(Rlp.Bytes([0]))));
        Assert.Equal("0x820400", H(Rlp.Encode(Rlp.Integer(1024))));
        RlpList setTheoretic = Rlp.List(Rlp.List(), Rlp.List(Rlp.List()), Rlp.List(Rlp.List(), Rlp.List(Rlp.List())));
        Assert.Equal("0xc7c0c1c0c3c0c1c0", H(Rlp.Encode(setTheoretic)));
        Assert.True(Rlp.Decode(Hex.Decode("0xc7c0c1c0c3c0c1c0")).StructurallyEquals(setTheoretic));
        Assert.Equal(1024, (int)Rlp.Decode(Hex.Decode("0x820400")).AsString().ToBigInteger());
    }

    [Theory]
    [InlineData("0x8100", "must be encoded as itself")]
    [InlineData("0x817f", "must be encoded as itself")]
    [InlineData("0xb800", "leading zero")]
    [InlineData("0xb80100", "short form")]
    [InlineData("0xb90001" + "00", "leading zero")]
    [InlineData("0x83646f", "truncated")]
    [InlineData("0xc883636174", "truncated")]
    [InlineData("0x83646f6700", "trailing")]
    [InlineData("0xbb", "truncated length")]
    [InlineData("0xbf0000000000000001", "leading zero")]
    [InlineData("0xbc7fffffff", "truncated")]
    [InlineData("0xc3820400ff", "trailing")]
    [InlineData("0xc28100", "must be encoded as itself")]
    [InlineData("0x", "empty")]
    public void NonCanonicalOrTruncatedRlpIsRejectedWithAClearMessage(string hex, string messagePart)
    {
        var ex = Assert.Throws<RlpException>(() => Rlp.Decode(Hex.Decode(hex)));
        Assert.Contains(messagePart, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AbiBazUint32Bool()
    {
        AbiFunction f = AbiFunction.FromSignature("baz(uint32,bool)");
        Assert.Equal("0xcdcd77c0", H(f.Selector));
        Assert.Equal(
            "0xcdcd77c0" + "0000000000000000000000000000000000000000000000000000000000000045" + "0000000000000000000000000000000000000000000000000000000000000001",
            H(f.EncodeCall(69, true)));
    }

    [Fact]
    public void AbiBarBytes3FixedArray()
    {
        AbiFunction f = AbiFunction.FromSignature("bar(bytes3[2])");
        Assert.Equal(
            "0xfce353f6" + "6162630000000000000000000000000000000000000000000000000000000000" + "6465660000000000000000000000000000000000000000000000000000000000",
            H(f.EncodeCall([new object[] { "abc"u8.ToArray(), "def"u8.ToArray() }])));
    }

    [Fact]
    public void AbiSamBytesBoolUintArray()
    {
        AbiFunction f = AbiFunction.FromSignature("sam(bytes,bool,uint256[])");
        string expected = "0xa5643bf2"
            + "0000000000000000000000000000000000000000000000000000000000000060"
            + "0000000000000000000000000000000000000000000000000000000000000001"
            + "00000000000000000000000000000000000000000000000000000000000000a0"
            + "0000000000000000000000000000000000000000000000000000000000000004"
            + "6461766500000000000000000000000000000000000000000000000000000000"
            + "0000000000000000000000000000000000000000000000000000000000000003"
            + "0000000000000000000000000000000000000000000000000000000000000001"
            + "0000000000000000000000000000000000000000000000000000000000000002"
            + "0000000000000000000000000000000000000000000000000000000000000003";
        byte[] encoded = f.EncodeCall("dave"u8.ToArray(), true, new object[] { 1, 2, 3 });
        Assert.Equal(expected, H(encoded));
        object?[] decoded = f.DecodeCall(encoded);
        Assert.Equal("dave"u8.ToArray(), decoded[0]);
        Assert.Equal(true, decoded[1]);
        Assert.Equal(new object[] { new BigInteger(1), new BigInteger(2), new BigInteger(3) }, (object?[])decoded[2]!);
    }

    [Fact]
    public void AbiFWithDynamicTypesFromTheSolidityDocs()
    {
        AbiFunction f = AbiFunction.FromSignature("f(uint256,uint32[],bytes10,bytes)");
        string expected = "0x8be65246"
            + "0000000000000000000000000000000000000000000000000000000000000123"
            + "0000000000000000000000000000000000000000000000000000000000000080"
            + "3132333435363738393000000000000000000000000000000000000000000000"
            + "00000000000000000000000000000000000000000000000000000000000000e0"
            + "0000000000000000000000000000000000000000000000000000000000000002"
            + "0000000000000000000000000000000000000000000000000000000000000456"
            + "0000000000000000000000000000000000000000000000000000000000000789"
            + "000000000000000000000000000000000000000000000000000000000000000d"
            + "48656c6c6f2c20776f726c642100000000000000000000000000000000000000";
        Assert.Equal(expected, H(f.EncodeCall(0x123, new object[] { 0x456, 0x789 }, "1234567890"u8.ToArray(), "Hello, world!"u8.ToArray())));
    }

    [Fact]
    public void AbiGNestedDynamicArraysFromTheSolidityDocs()
    {
        AbiFunction f = AbiFunction.FromSignature("g(uint256[][],string[])");
        string expected = "0x2289b18c"
            + "0000000000000000000000000000000000000000000000000000000000000040"
            + "0000000000000000000000000000000000000000000000000000000000000140"
            + "0000000000000000000000000000000000000000000000000000000000000002"
            + "0000000000000000000000000000000000000000000000000000000000000040"
            + "00000000000000000000000000000000000000000000000000000000000000a0"
            + "0000000000000000000000000000000000000000000000000000000000000002"
            + "0000000000000000000000000000000000000000000000000000000000000001"
            + "0000000000000000000000000000000000000000000000000000000000000002"
            + "0000000000000000000000000000000000000000000000000000000000000001"
            + "0000000000000000000000000000000000000000000000000000000000000003"
            + "0000000000000000000000000000000000000000000000000000000000000003"
            + "0000000000000000000000000000000000000000000000000000000000000060"
            + "00000000000000000000000000000000000000000000000000000000000000a0"
            + "00000000000000000000000000000000000000000000000000000000000000e0"
            + "0000000000000000000000000000000000000000000000000000000000000003"
            + "6f6e650000000000000000000000000000000000000000000000000000000000"
            + "0000000000000000000000000000000000000000000000000000000000000003"
            + "74776f0000000000000000000000000000000000000000000000000000000000"
            + "0000000000000000000000000000000000000000000000000000000000000005"
            + "7468726565000000000000000000000000000000000000000000000000000000";
        byte[] encoded = f.EncodeCall(new object[] { new object[] { 1, 2 }, new object[] { 3 } }, new object[] { "one", "two", "three" });
        Assert.Equal(expected, H(encoded));
        object?[] decoded = f.DecodeCall(encoded);
        Assert.Equal(new object[] { "one", "two", "three" }, (object?[])decoded[1]!);
    }

    [Theory]
    [InlineData("uint256", "uint256")]
    [InlineData("uint", "uint256")]
    [InlineData("int24", "int24")]
    [InlineData("address[3]", "address[3]")]
    [InlineData("bytes32", "bytes32")]
    [InlineData("(uint256,bytes32[])[]", "(uint256,bytes32[])[]")]
    [InlineData("((uint8, string)[2], bool)[][3]", "((uint8,string)[2],bool)[][3]")]
    public void AbiTypeParsing(string text, string canonical) => Assert.Equal(canonical, AbiType.Parse(text).CanonicalName);

    [Theory]
    [InlineData("uint7")]
    [InlineData("uint264")]
    [InlineData("bytes33")]
    [InlineData("bytes0")]
    [InlineData("uint256[0]")]
    [InlineData("(uint256")]
    [InlineData("address[")]
    [InlineData("float")]
    [InlineData("uint08")]
    public void InvalidAbiTypesAreRejected(string text) => Assert.Throws<FormatException>(() => AbiType.Parse(text));

    [Fact]
    public void AbiDecodingRejectsOutOfRangeAndTruncatedData()
    {
        byte[] tooBig = Hex.Decode("0x0000000000000000000000000000000000000000000000000000000000000100");
        Assert.Throws<AbiDecodingException>(() => AbiCodec.Decode([AbiType.UInt(8)], tooBig));
        Assert.Throws<AbiDecodingException>(() => AbiCodec.Decode([AbiType.BoolType], Hex.Decode("0x" + new string('0', 63) + "2")));
        Assert.Throws<AbiDecodingException>(() => AbiCodec.Decode([AbiType.StringType], Hex.Decode("0x" + new string('0', 62) + "20" + new string('0', 62) + "ff")));
        Assert.Throws<AbiDecodingException>(() => AbiCodec.Decode([AbiType.UInt(256)], new byte[31]));
        Assert.Throws<ArgumentOutOfRangeException>(() => AbiCodec.Encode([AbiType.Int(8)], [128]));
        Assert.Equal(new BigInteger(-1), AbiCodec.Decode([AbiType.Int(24)], AbiCodec.Encode([AbiType.Int(24)], [-1]))[0]);
    }

    [Fact]
    public void EventTopicAndLogDecoding()
    {
        Assert.Equal("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", AbiSignature.EventTopic("Transfer(address,address,uint256)").ToString());
        var transfer = new AbiEvent("Transfer", [
            new AbiParameter("from", AbiType.AddressType, true),
            new AbiParameter("to", AbiType.AddressType, true),
            new AbiParameter("value", AbiType.UInt(256))]);
        Address from = Address.Parse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        Address to = Address.Parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
        DecodedEvent decoded = transfer.Decode(
            [transfer.Topic0, AbiEvent.TopicFor(AbiType.AddressType, from), AbiEvent.TopicFor(AbiType.AddressType, to)],
            AbiCodec.Encode([AbiType.UInt(256)], [1000]));
        Assert.Equal(from, decoded["from"]);
        Assert.Equal(to, decoded["to"]);
        Assert.Equal(new BigInteger(1000), decoded["value"]);
        Assert.Throws<AbiDecodingException>(() => transfer.Decode([transfer.Topic0], AbiCodec.Encode([AbiType.UInt(256)], [1000])));

        // Indexed dynamic values are hashed in place: strings as their bytes, arrays as concatenated padded elements.
        Assert.Equal(Hash32.Keccak("hi"u8), AbiEvent.TopicFor(AbiType.StringType, "hi"));
        byte[] words = [.. Hex.ToFixedBytes(1, 32), .. Hex.ToFixedBytes(2, 32)];
        Assert.Equal(Hash32.Keccak(words), AbiEvent.TopicFor(AbiType.Parse("uint256[]"), new object[] { 1, 2 }));
        byte[] padded = [.. "ab"u8, .. new byte[30], .. Hex.ToFixedBytes(7, 32)];
        Assert.Equal(Hash32.Keccak(padded), AbiEvent.TopicFor(AbiType.Parse("(string,uint8)"), new object[] { "ab", 7 }));
    }

    [Fact]
    public void RevertDataDecoding()
    {
        var error = new AbiError("InsufficientBalance", [new("available", AbiType.UInt(256)), new("required", AbiType.UInt(256))]);
        byte[] errorString = [.. RevertReason.ErrorSelector, .. AbiCodec.Encode([AbiType.StringType], ["not enough"])];
        Assert.Equal("0x08c379a0", H(AbiSignature.Selector("Error(string)")));
        Assert.Equal("0x4e487b71", H(AbiSignature.Selector("Panic(uint256)")));

        RevertReason r = RevertReason.Decode(errorString);
        Assert.Equal(RevertKind.Error, r.Kind);
        Assert.Equal("not enough", r.Message);

        RevertReason panic = RevertReason.Decode([.. RevertReason.PanicSelector, .. AbiCodec.Encode([AbiType.UInt(256)], [0x11])]);
        Assert.Equal(RevertKind.Panic, panic.Kind);
        Assert.Equal(new BigInteger(0x11), panic.PanicCode);
        Assert.Contains("overflow", panic.Message, StringComparison.Ordinal);

        RevertReason custom = RevertReason.Decode(error.Encode(5, 10), [error]);
        Assert.Equal(RevertKind.Custom, custom.Kind);
        Assert.Equal("InsufficientBalance(5, 10)", custom.Message);
        Assert.Equal(RevertKind.Unknown, RevertReason.Decode(error.Encode(5, 10)).Kind);
        Assert.Equal(RevertKind.Empty, RevertReason.Decode([]).Kind);
    }

    [Fact]
    public void ContractAbiJsonWithTuplesOverloadsAndErrors()
    {
        const string json = """
        [
          {"type":"constructor","inputs":[{"name":"owner","type":"address"}],"stateMutability":"nonpayable"},
          {"type":"function","name":"submit","inputs":[{"name":"batch","type":"tuple[]","components":[{"name":"id","type":"uint256"},{"name":"tags","type":"bytes32[]"}]}],"outputs":[{"name":"","type":"bool"}],"stateMutability":"nonpayable"},
          {"type":"function","name":"get","inputs":[],"outputs":[{"name":"","type":"uint256"}],"stateMutability":"view"},
          {"type":"function","name":"get","inputs":[{"name":"k","type":"uint256"}],"outputs":[{"name":"","type":"uint256"}],"stateMutability":"view"},
          {"type":"event","name":"Submitted","inputs":[{"name":"who","type":"address","indexed":true},{"name":"count","type":"uint256","indexed":false}],"anonymous":false},
          {"type":"error","name":"Unauthorized","inputs":[{"name":"caller","type":"address"}]}
        ]
        """;
        ContractAbi abi = ContractAbi.Parse(json);
        AbiFunction submit = abi.GetFunction("submit");
        Assert.Equal("submit((uint256,bytes32[])[])", submit.Signature);
        Assert.Equal("id", submit.Inputs[0].Type.Element!.ComponentNames[0]);
        Assert.Throws<KeyNotFoundException>(() => abi.GetFunction("get"));
        Assert.Equal("get(uint256)", abi.GetFunction("get(uint256)").Signature);
        Assert.Single(abi.ConstructorInputs);
        Assert.Equal("Unauthorized(address)", abi.Errors[0].Signature);
        byte[] call = abi.EncodeCall("submit", [new object[] { new object[] { 7, new object[] { new byte[32] } } }]);
        object?[] back = submit.DecodeCall(call);
        var batch = (object?[])back[0]!;
        Assert.Equal(new BigInteger(7), ((object?[])batch[0]!)[0]);
    }

    [Fact]
    public void Eip712MailExampleFromTheEip()
    {
        var types = new Dictionary<string, IReadOnlyList<Eip712Field>>
        {
            ["Person"] = [new("name", "string"), new("wallet", "address")],
            ["Mail"] = [new("from", "Person"), new("to", "Person"), new("contents", "string")],
        };
        var domain = new Eip712Domain
        {
            Name = "Ether Mail",
            Version = "1",
            ChainId = 1,
            VerifyingContract = Address.Parse("0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"),
        };
        var message = new Dictionary<string, object?>
        {
            ["from"] = new Dictionary<string, object?> { ["name"] = "Cow", ["wallet"] = Address.Parse("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826") },
            ["to"] = new Dictionary<string, object?> { ["name"] = "Bob", ["wallet"] = Address.Parse("0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB") },
            ["contents"] = "Hello, Bob!",
        };
        var data = new TypedData(domain, types, "Mail", message);
        Assert.Equal("Mail(Person from,Person to,string contents)Person(string name,address wallet)", Eip712.EncodeType("Mail", types));
        Assert.Equal("0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f", H(Eip712.DomainSeparator(domain)));
        Assert.Equal("0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e", H(Eip712.HashStruct("Mail", types, message)));
        Assert.Equal("0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2", H(Eip712.Hash(data)));

        var cow = new EthKey(Keccak256.Hash("cow"));
        Assert.Equal(Address.Parse("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"), cow.Address);
        EthSignature signature = cow.SignTypedData(data);
        Assert.Equal(28, signature.V);
        Assert.Equal("0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d", Hex.Encode(Hex.ToFixedBytes(signature.R, 32)));
        Assert.Equal("0x07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562", Hex.Encode(Hex.ToFixedBytes(signature.S, 32)));
    }

    [Fact]
    public void PersonalSignRecoversTheSigner()
    {
        var key = EthKey.FromHex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
        EthSignature signature = key.SignMessage("hello");
        Assert.Equal(key.Address, PersonalMessage.Recover("hello"u8, signature));
        Assert.Equal(key.Address, PersonalMessage.Recover("hello"u8, EthSignature.FromBytes(signature.ToBytes())));
        Assert.NotEqual(key.Address, PersonalMessage.Recover("hellO"u8, signature));
        Assert.True(signature.S <= Secp256k1.HalfN);
    }

    [Fact]
    public void CreateContractAddress()
    {
        // Hardhat account 0's first deployment (nonce 0) lands at this well-known address.
        Address sender = Address.Parse("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        Assert.Equal("0x5FbDB2315678afecb367f032d93F642f64180aa3", ContractAddress.Create(sender, 0).ToString());
        Assert.Equal("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", ContractAddress.Create(sender, 1).ToString());
    }

    [Fact]
    public void HexQuantities()
    {
        Assert.Equal("0x0", Hex.EncodeQuantity(0));
        Assert.Equal("0x400", Hex.EncodeQuantity(1024));
        Assert.Equal(new BigInteger(1024), Hex.DecodeQuantity("0x400"));
        Assert.Throws<FormatException>(() => Hex.DecodeQuantity("0x"));
        Assert.Throws<FormatException>(() => Hex.Decode("0xabc"));
    }
}
