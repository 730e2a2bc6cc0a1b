using System.Numerics;

namespace PrivateHealth.Ethereum;

/// <summary>A signed transaction ready for eth_sendRawTransaction.</summary>
/// <param name="Raw">The raw bytes (RLP for legacy; type byte ‖ RLP for typed transactions).</param>
/// <param name="Signature">The signature over the signing hash.</param>
public sealed record SignedTransaction(byte[] Raw, EthSignature Signature)
{
    /// <summary>The transaction hash: Keccak-256 of the raw bytes.</summary>
    public Hash32 Hash => Hash32.Keccak(Raw);

    /// <summary>The 0x hex of the raw bytes.</summary>
    public string RawHex => Hex.Encode(Raw);
}

/// <summary>Fields shared by the transaction types.</summary>
public interface IUnsignedTransaction
{
    BigInteger Nonce { get; }

    BigInteger GasLimit { get; }

    /// <summary>The recipient; null creates a contract.</summary>
    Address? To { get; }

    BigInteger Value { get; }

    byte[] Data { get; }

    /// <summary>The hash the sender signs.</summary>
    byte[] SigningHash();

    /// <summary>Signs with the key and returns the raw transaction.</summary>
    SignedTransaction Sign(EthKey key);
}

/// <summary>A legacy (type 0) transaction; with <see cref="ChainId"/> it is EIP-155 replay protected.</summary>
public sealed record LegacyTransaction : IUnsignedTransaction
{
    public BigInteger Nonce { get; init; }

    public BigInteger GasPrice { get; init; }

    public BigInteger GasLimit { get; init; }

    public Address? To { get; init; }

    public BigInteger Value { get; init; }

    public byte[] Data { get; init; } = [];

    /// <summary>The EIP-155 chain id; null signs a pre-EIP-155 (replayable) transaction with v = 27/28.</summary>
    public BigInteger? ChainId { get; init; }

    private List<RlpItem> Fields() =>
    [
        Rlp.Integer(Nonce),
        Rlp.Integer(GasPrice),
        Rlp.Integer(GasLimit),
        To is null ? Rlp.Bytes([]) : Rlp.Bytes(To.Value.Span),
        Rlp.Integer(Value),
        Rlp.Bytes(Data),
    ];

    /// <summary>EIP-155: keccak(rlp([nonce, gasPrice, gas, to, value, data, chainId, 0, 0])); pre-155 without the last three.</summary>
    public byte[] SigningHash()
    {
        List<RlpItem> fields = Fields();
        if (ChainId is not null)
        {
            fields.AddRange([Rlp.Integer(ChainId.Value), Rlp.Integer(0), Rlp.Integer(0)]);
        }

        return Keccak256.Hash(Rlp.Encode(new RlpList(fields)));
    }

    /// <summary>The raw encoding rlp([…, v, r, s]) with v = chainId·2 + 35 + recovery id (or 27 + recovery id).</summary>
    public SignedTransaction Sign(EthKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        EthSignature signature = key.SignHash(SigningHash());
        BigInteger v = ChainId is null ? 27 + signature.RecoveryId : (ChainId.Value * 2) + 35 + signature.RecoveryId;
        List<RlpItem> fields = Fields();
        fields.AddRange([Rlp.Integer(v), Rlp.Integer(signature.R), Rlp.Integer(signature.S)]);
        return new SignedTransaction(Rlp.Encode(new RlpList(fields)), signature);
    }
}

/// <summary>An EIP-1559 (type 2) transaction with an empty access list.</summary>
public sealed record Eip1559Transaction : IUnsignedTransaction
{
    public BigInteger ChainId { get; init; }

    public BigInteger Nonce { get; init; }

    public BigInteger MaxPriorityFeePerGas { get; init; }

    public BigInteger MaxFeePerGas { get; init; }

    public BigInteger GasLimit { get; init; }

    public Address? To { get; init; }

    public BigInteger Value { get; init; }

    public byte[] Data { get; init; } = [];

    private List<RlpItem> Fields() =>
    [
        Rlp.Integer(ChainId),
        Rlp.Integer(Nonce),
        Rlp.Integer(MaxPriorityFeePerGas),
        Rlp.Integer(MaxFeePerGas),
        Rlp.Integer(GasLimit),
        To is null ? Rlp.Bytes([]) : Rlp.Bytes(To.Value.Span),
        Rlp.Integer(Value),
        Rlp.Bytes(Data),
        Rlp.List(),
    ];

    /// <summary>keccak(0x02 ‖ rlp([chainId, nonce, tip, maxFee, gas, to, value, data, accessList])).</summary>
    public byte[] SigningHash() => Keccak256.Hash([0x02, .. Rlp.Encode(new RlpList(Fields()))]);

    /// <summary>0x02 ‖ rlp([…, yParity, r, s]).</summary>
    public SignedTransaction Sign(EthKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (MaxPriorityFeePerGas > MaxFeePerGas)
        {
            throw new InvalidOperationException($"maxPriorityFeePerGas ({MaxPriorityFeePerGas}) exceeds maxFeePerGas ({MaxFeePerGas}).");
        }

        EthSignature signature = key.SignHash(SigningHash());
        List<RlpItem> fields = Fields();
        fields.AddRange([Rlp.Integer(signature.RecoveryId), Rlp.Integer(signature.R), Rlp.Integer(signature.S)]);
        return new SignedTransaction([0x02, .. Rlp.Encode(new RlpList(fields))], signature);
    }
}

/// <summary>Contract addresses.</summary>
public static class ContractAddress
{
    /// <summary>The address CREATE gives: keccak(rlp([sender, nonce]))[12..].</summary>
    public static Address Create(Address sender, BigInteger nonce) =>
        new(Keccak256.Hash(Rlp.Encode(Rlp.List(Rlp.Bytes(sender.Span), Rlp.Integer(nonce)))).AsSpan(12));
}

/// <summary>Reads the sender back from a raw signed transaction (legacy or type 2).</summary>
public static class TransactionDecoder
{
    /// <summary>Recovers the sender of a raw legacy (EIP-155 or not) or EIP-1559 transaction.</summary>
    /// <exception cref="FormatException">Malformed or unsupported transaction.</exception>
    public static Address RecoverSender(ReadOnlySpan<byte> raw)
    {
        if (raw.IsEmpty)
        {
            throw new FormatException("Empty transaction.");
        }

        if (raw[0] == 0x02)
        {
            var fields = Rlp.Decode(raw[1..]).AsList("type-2 transaction").Items;
            if (fields.Count != 12)
            {
                throw new FormatException($"A type-2 transaction has 12 fields; got {fields.Count}.");
            }

            byte[] unsigned = [0x02, .. Rlp.Encode(new RlpList([.. fields.Take(9)]))];
            var signature = new EthSignature(fields[10].AsString().ToBigInteger(), fields[11].AsString().ToBigInteger(), (int)fields[9].AsString().ToBigInteger());
            return Secp256k1.RecoverAddress(Keccak256.Hash(unsigned), signature);
        }

        if (raw[0] < 0xc0)
        {
            throw new FormatException($"Unsupported transaction type 0x{raw[0]:x2}.");
        }

        var legacy = Rlp.Decode(raw).AsList("legacy transaction").Items;
        if (legacy.Count != 9)
        {
            throw new FormatException($"A legacy transaction has 9 fields; got {legacy.Count}.");
        }

        BigInteger v = legacy[6].AsString().ToBigInteger();
        var payload = new List<RlpItem>(legacy.Take(6));
        int recoveryId;
        if (v == 27 || v == 28)
        {
            recoveryId = (int)(v - 27);
        }
        else
        {
            BigInteger chainId = (v - 35) / 2;
            recoveryId = (int)(v - 35 - (chainId * 2));
            payload.AddRange([Rlp.Integer(chainId), Rlp.Integer(0), Rlp.Integer(0)]);
        }

        var sig = new EthSignature(legacy[7].AsString().ToBigInteger(), legacy[8].AsString().ToBigInteger(), recoveryId);
        return Secp256k1.RecoverAddress(Keccak256.Hash(Rlp.Encode(new RlpList(payload))), sig);
    }
}
