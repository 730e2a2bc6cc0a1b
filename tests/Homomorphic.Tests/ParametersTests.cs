using System.Reflection;
using System.Text.Json;

namespace PrivateHealth.Homomorphic.Tests;

public sealed class ParametersTests
{
    [Theory]
    [MemberData(nameof(CkksTestContext.PresetNames), MemberType = typeof(CkksTestContext))]
    public void PresetsAreWithinThe128BitSecurityBound(string name)
    {
        var p = CkksParameters.FromLiteral(CkksParametersLiteral.Presets[name]);
        Assert.True(p.LogQP <= CkksParameters.MaxLogQP128[p.LogN], $"{name}: log2 QP = {p.LogQP}");
        Assert.All(p.Q.Concat(p.P), q => Assert.True(q < 1UL << 61 && Primes.IsPrime(q) && (q - 1) % (2UL * (ulong)p.N) == 0));
        Assert.Equal(p.Q.Count + p.P.Count, p.Q.Concat(p.P).Distinct().Count());
    }

    [Fact]
    public void PresetsCoverEveryRingDegreeFrom4096To32768()
    {
        var degrees = CkksParametersLiteral.Presets.Values.Select(l => l.LogN).Distinct().Order();
        Assert.Equal([12, 13, 14, 15], degrees);
    }

    [Fact]
    public void ALiteralAboveTheSecurityBoundIsRefusedUnlessMarkedInsecure()
    {
        var literal = new CkksParametersLiteral { LogN = 13, LogQ = [60, 60, 60], LogP = [60] }; // 240 > 218
        var e = Assert.Throws<InvalidParametersException>(() => CkksParameters.FromLiteral(literal));
        Assert.Contains("exceeds the 128-bit security bound 218", e.Message);
        Assert.NotNull(CkksParameters.FromLiteral(literal with { InsecureForTestingOnly = true }));
        Assert.Throws<InvalidParametersException>(() => CkksParameters.FromLiteral(new CkksParametersLiteral { LogN = 9, LogQ = [20], LogP = [20] }));
    }

    [Fact]
    public void InvalidLiteralsAreRefusedWithTheReason()
    {
        Assert.Contains("distinct", Assert.Throws<InvalidParametersException>(() => CkksParameters.FromLiteral(new() { LogN = 12, Q = [0xffffee001UL, 0xffffee001UL], LogP = [36] })).Message);
        Assert.Contains("not a prime", Assert.Throws<InvalidParametersException>(() => CkksParameters.FromLiteral(new() { LogN = 12, Q = [0xffffee003UL], LogP = [36] })).Message);
        Assert.Contains("P needs", Assert.Throws<InvalidParametersException>(() => CkksParameters.FromLiteral(new() { LogN = 12, LogQ = [36] })).Message);
        Assert.Contains("DigitSize", Assert.Throws<InvalidParametersException>(() => CkksParameters.FromLiteral(new() { LogN = 12, LogQ = [36], LogP = [36], DigitSize = 2 })).Message);
        Assert.Contains("either", Assert.Throws<InvalidParametersException>(() => CkksParameters.FromLiteral(new() { LogN = 12, Q = [0xffffee001UL], LogQ = [36], LogP = [36] })).Message);
        Assert.Throws<InvalidParametersException>(() => CkksParameters.FromLiteral(new() { LogN = 12, LogQ = [62], LogP = [36] }));
        Assert.Throws<InvalidParametersException>(() => CkksParameters.FromLiteral(new() { LogN = 12, LogQ = [36], LogP = [36], ErrorSigma = -1 }));
    }

    [Fact]
    public void TheIdIsDeterministicAndCoversEveryField()
    {
        var baseLiteral = CkksParametersLiteral.LogN13LogQP200;
        var id = CkksParameters.FromLiteral(baseLiteral).Id;
        Assert.Equal(id, CkksParameters.FromLiteral(baseLiteral).Id);
        // the resolved literal (explicit primes) rebuilds the same id
        Assert.Equal(id, CkksParameters.FromLiteral(CkksParameters.FromLiteral(baseLiteral).ToLiteral()).Id);
        CkksParametersLiteral[] variants =
        [
            baseLiteral with { LogQ = [60, 40, 41] },
            baseLiteral with { LogP = [59] },
            baseLiteral with { LogDefaultScale = 41 },
            baseLiteral with { DigitSize = 2 },
            baseLiteral with { ErrorSigma = 3.3 },
            baseLiteral with { ErrorDistribution = ErrorDistributionKind.CenteredBinomial21 },
            baseLiteral with { InsecureForTestingOnly = true },
        ];
        var ids = variants.Select(v => CkksParameters.FromLiteral(v).Id).Append(id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void LiteralsSerializeToJsonAndBack()
    {
        var literal = CkksParametersLiteral.QueryLogN14LogQP434;
        var json = JsonSerializer.Serialize(literal);
        var back = JsonSerializer.Deserialize<CkksParametersLiteral>(json)!;
        Assert.Equal(CkksParameters.FromLiteral(literal).Id, CkksParameters.FromLiteral(back).Id);
    }

    [Fact]
    public void CenteredBinomialErrorAlsoDecryptsCorrectly()
    {
        var p = CkksParameters.FromLiteral(CkksTestContext.TestSets["TestInsecureLogN10Depth4"] with { ErrorDistribution = ErrorDistributionKind.CenteredBinomial21 });
        using var kg = new KeyGenerator(p.Rlwe);
        using var sk = kg.GenerateSecretKey();
        using var enc = new Encryptor(p.Rlwe, kg.GeneratePublicKey(sk));
        var encoder = new CkksEncoder(p);
        double[] x = [1.5, -2.25, 3.125];
        var y = encoder.Decode(new Decryptor(p.Rlwe, sk).Decrypt(enc.Encrypt(encoder.Encode(x))));
        Assert.All(x.Select((v, i) => Math.Abs(v - y[i])), e => Assert.True(e < 1e-8));
    }

    [Fact]
    public void LayersDependOnlyDownwards()
    {
        // Ring -> Rlwe -> Ckks -> Multiparty -> Serialization: no type of a lower layer references a higher one
        var assembly = typeof(CkksParameters).Assembly;
        string[] order = ["Ring", "Rlwe", "Ckks", "Multiparty", "Serialization"];
        int Layer(Type t)
        {
            var ns = t.Namespace ?? "";
            for (int i = 0; i < order.Length; i++)
            {
                if (ns == $"PrivateHealth.Homomorphic.{order[i]}")
                {
                    return i;
                }
            }

            return -1;
        }

        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var violations = new List<string>();
        foreach (var type in assembly.GetTypes())
        {
            int layer = Layer(type);
            if (layer < 0)
            {
                continue;
            }

            IEnumerable<Type> referenced = type.GetFields(all).Select(f => f.FieldType)
                .Concat(type.GetProperties(all).Select(p => p.PropertyType))
                .Concat(type.GetMethods(all).SelectMany(m => m.GetParameters().Select(p => p.ParameterType).Append(m.ReturnType)))
                .Concat(type.GetConstructors(all).SelectMany(c => c.GetParameters().Select(p => p.ParameterType)))
                .Append(type.BaseType ?? typeof(object));
            foreach (var r in referenced)
            {
                var element = r.HasElementType ? r.GetElementType()! : r;
                if (Layer(element) > layer)
                {
                    violations.Add($"{type.FullName} ({order[layer]}) references {element.FullName}");
                }
            }
        }

        Assert.Empty(violations);
    }
}
