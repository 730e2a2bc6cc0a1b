using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;

namespace PrivateHealth.Learning.Tests;

public sealed class UpdatePackerTests
{
    private static readonly CkksParameters Training = CkksParameters.FromLiteral(CkksParametersLiteral.TrainingLogN12LogQP109);

    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(4096)]
    [InlineData(10_001)]
    public void PackedValuesSurviveEncryptionSummationAndDecryption(int length)
    {
        var packer = new UpdatePacker(Training);
        using var kg = new KeyGenerator(Training.Rlwe);
        using var sk = kg.GenerateSecretKey();
        using var encryptor = new Encryptor(Training.Rlwe, kg.GeneratePublicKey(sk));
        var evaluator = new CkksEvaluator(Training);
        var rng = new Random(length);
        double[][] updates = [.. Enumerable.Range(0, 10).Select(_ => Enumerable.Range(0, length).Select(_ => (rng.NextDouble() * 2) - 1).ToArray())];
        Ciphertext[]? sum = null;
        foreach (var u in updates)
        {
            var cts = packer.Encrypt(u, encryptor);
            Assert.Equal(packer.CiphertextCount(length), cts.Length);
            Assert.All(cts, c => Assert.Equal(0, c.Level));
            if (sum is null)
            {
                sum = cts;
            }
            else
            {
                for (int i = 0; i < cts.Length; i++)
                {
                    evaluator.AddInPlace(sum[i], cts[i]);
                }
            }
        }

        var decryptor = new Decryptor(Training.Rlwe, sk);
        var total = packer.Unpack([.. sum!.Select(decryptor.Decrypt)], length);
        for (int j = 0; j < length; j++)
        {
            Assert.Equal(updates.Sum(u => u[j]), total[j], 1e-9);
        }
    }

    [Fact]
    public void UploadsCostAboutFifteenBytesPerParameter()
    {
        // level 0, one 61-bit prime, bit-packed: 2·61/8 = 15.25 bytes per real, plus 104 bytes of header and digest
        var packer = new UpdatePacker(Training);
        using var kg = new KeyGenerator(Training.Rlwe);
        using var sk = kg.GenerateSecretKey();
        using var encryptor = new Encryptor(Training.Rlwe, kg.GeneratePublicKey(sk));
        var serializer = new CkksSerializer(Training);
        var bytes = packer.Encrypt(new double[4096], encryptor).Sum(c => serializer.Serialize(c).Length);
        Assert.Equal(104 + (2 * 4096 * 61 / 8), bytes);
        Assert.True(bytes / 4096.0 < 16);
    }
}
