using System.Numerics;
using FsCheck;
using FsCheck.Fluent;

namespace PrivateHealth.Ethereum.Tests;

/// <summary>FsCheck properties: RLP and ABI roundtrips, sign→recover, rejection of non-canonical RLP.</summary>
public sealed class PropertyTests
{
    private static readonly Gen<byte[]> SmallBytes =
        Gen.Elements(0, 1, 1, 2, 3, 20, 55, 56, 57, 100, 300)
            .SelectMany(length => Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), length));

    private static Gen<RlpItem> RlpGen(int size) =>
        size <= 1
            ? SmallBytes.Select(b => (RlpItem)new RlpString(b))
            : Gen.OneOf(
                SmallBytes.Select(b => (RlpItem)new RlpString(b)),
                Gen.Choose(0, 5).SelectMany(n => Gen.ArrayOf(RlpGen(size / 3), n)).Select(items => (RlpItem)new RlpList(items)));

    private static Arbitrary<RlpItem> RlpItems => Gen.Sized(s => RlpGen(Math.Min(s, 30))).ToArbitrary();

    [Fact]
    public void RlpEncodeThenDecodeIsTheIdentity()
    {
        Prop.ForAll(RlpItems, item =>
        {
            byte[] encoded = Rlp.Encode(item);
            RlpItem decoded = Rlp.Decode(encoded);
            return decoded.StructurallyEquals(item) && Rlp.Encode(decoded).AsSpan().SequenceEqual(encoded);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void NonCanonicalRlpIsRejected()
    {
        // Re-encode one string of a random item in a longer-than-necessary form; decoding must fail.
        Arbitrary<(byte[] Payload, int Form)> cases = Gen.Zip(SmallBytes, Gen.Choose(0, 2)).ToArbitrary();
        Prop.ForAll(cases, c =>
        {
            byte[] payload = c.Payload;
            byte[] nonCanonical;
            if (c.Form == 0 && payload.Length == 1 && payload[0] < 0x80)
            {
                nonCanonical = [0x81, payload[0]];
            }
            else if (c.Form == 1 || payload.Length >= 56)
            {
                // Length with a leading zero byte (or long form for a short string).
                byte[] length = [0, .. Hex.ToMinimalBytes(payload.Length)];
                nonCanonical = payload.Length < 56 && c.Form == 1
                    ? [0xb8, (byte)payload.Length, .. payload]
                    : [(byte)(0xb7 + length.Length), .. length, .. payload];
            }
            else
            {
                // Truncated: drop the last byte of a proper encoding (or append one).
                byte[] proper = Rlp.Encode(new RlpString(payload));
                nonCanonical = proper.Length > 1 ? proper[..^1] : [.. proper, 0x00];
            }

            try
            {
                Rlp.Decode(nonCanonical);
                return false;
            }
            catch (RlpException)
            {
                return true;
            }
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void AbiEncodeThenDecodeIsTheIdentityForRandomNestedTypes()
    {
        Prop.ForAll(Gen.Choose(0, int.MaxValue).ToArbitrary(), seed =>
        {
            var random = new RandomData(seed);
            AbiType[] types = [.. Enumerable.Range(0, random.Next(0, 5)).Select(_ => random.Type(3))];
            object?[] values = [.. types.Select(random.Value)];
            byte[] encoded = AbiCodec.Encode(types, values);
            object?[] decoded = AbiCodec.Decode(types, encoded);
            return RandomData.DeepEquals(values, decoded) && AbiCodec.Encode(types, decoded).AsSpan().SequenceEqual(encoded)
                && AbiType.Parse(AbiType.Tuple(types).CanonicalName).Equals(AbiType.Tuple(types));
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void TruncatedAbiDataNeverDecodesSilentlyToTheSameValues()
    {
        Prop.ForAll(Gen.Choose(0, int.MaxValue).ToArbitrary(), seed =>
        {
            var random = new RandomData(seed);
            AbiType[] types = [.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Type(2))];
            byte[] encoded = AbiCodec.Encode(types, [.. types.Select(random.Value)]);
            if (encoded.Length == 0)
            {
                return true;
            }

            byte[] truncated = encoded[..random.Next(0, encoded.Length)];
            try
            {
                AbiCodec.Decode(types, truncated);

                // Trailing padding may be cut without changing the meaning only if the head still fits.
                return truncated.Length >= AbiType.Tuple(types).HeadSize;
            }
            catch (AbiDecodingException)
            {
                return true;
            }
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void SignThenRecoverGivesTheSigner()
    {
        Arbitrary<(int Seed, byte[] Hash)> cases = Gen.Zip(Gen.Choose(0, int.MaxValue), Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), 32)).ToArbitrary();
        Prop.ForAll(cases, c =>
        {
            var random = new RandomData(c.Seed);
            BigInteger d = (Hex.FromBigEndian(random.Bytes(32)) % (Secp256k1.N - 1)) + 1;
            var key = new EthKey(Hex.ToFixedBytes(d, 32));
            EthSignature signature = key.SignHash(c.Hash);
            EthSignature again = key.SignHash(c.Hash);
            return signature == again
                && signature.S <= Secp256k1.HalfN
                && Secp256k1.RecoverAddress(c.Hash, signature) == key.Address
                && Secp256k1.Verify(c.Hash, signature, key.PublicKey)
                && Secp256k1.RecoverAddress(c.Hash, signature with { RecoveryId = 1 - signature.RecoveryId }) != key.Address;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void SignedTransactionsRecoverTheirSender()
    {
        Prop.ForAll(Gen.Choose(0, int.MaxValue).ToArbitrary(), seed =>
        {
            var random = new RandomData(seed);
            var key = new EthKey(Keccak256.Hash(random.Bytes(16)));
            Address? to = random.Next(0, 4) == 0 ? null : random.Address();
            SignedTransaction signed = random.Next(0, 2) == 0
                ? new Eip1559Transaction { ChainId = random.UnsignedBits(32) + 1, Nonce = random.UnsignedBits(32), MaxPriorityFeePerGas = 1, MaxFeePerGas = random.UnsignedBits(64) + 1, GasLimit = random.UnsignedBits(32), To = to, Value = random.UnsignedBits(128), Data = random.Bytes(random.Next(0, 100)) }.Sign(key)
                : new LegacyTransaction { ChainId = random.Next(0, 3) == 0 ? null : random.UnsignedBits(32) + 1, Nonce = random.UnsignedBits(32), GasPrice = random.UnsignedBits(64), GasLimit = random.UnsignedBits(32), To = to, Value = random.UnsignedBits(128), Data = random.Bytes(random.Next(0, 100)) }.Sign(key);
            return TransactionDecoder.RecoverSender(signed.Raw) == key.Address;
        }).QuickCheckThrowOnFailure();
    }
}
