using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Participant.Network;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>gRPC over TLS (HTTP/2 via ALPN), and the evaluation keys the ceremony publishes.</summary>
public sealed class TlsAndKeysTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheCoordinatorServesGrpcOverTlsAndRefusesUntrustedCertificates()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ph-tls-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        string pfx = Path.Combine(dir, "server.pfx");
        await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "secret"), Ct);

        await using var harness = await CoordinatorHarness.StartAsync(dir, new Dictionary<string, string>
        {
            ["Coordinator:TlsCertificatePath"] = pfx,
            ["Coordinator:TlsCertificatePassword"] = "secret",
        }, Ct);
        Assert.Equal("https", harness.Address.Scheme);
        var token = harness.Issuer.CreateToken("operator-1", Roles.Operator);
        using var trusted = new CoordinatorClient(harness.Address, _ => ValueTask.FromResult<string?>(token), trustedServerCertificate: certificate);
        var status = await trusted.StartKeyCeremonyAsync(new StartKeyCeremonyRequest { Members = 1, Threshold = 1 }, Ct);
        Assert.Equal("running", status.State);

        using var untrusted = new CoordinatorClient(harness.Address, token);
        var ex = await Assert.ThrowsAsync<GrpcStatusException>(() => untrusted.GetKeyCeremonyAsync(status.KeySetId, Ct));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task TheCeremonyStoresAWellFormedRelinearizationKeyAndOneGaloisKeyPerRotation()
    {
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        harness.StartCustodians([1, 2, 3]);
        string keySet = await harness.RunCeremonyAsync(3, 2, relinearization: true, rotations: [1, -1, 4], Ct);
        var store = harness.App.Services.GetRequiredService<ICoordinatorStore>();
        var p = CoordinatorHarness.TrainingParameters;
        var serializer = new CkksSerializer(p);
        string scope = KeySetRegistry.Scope(keySet);
        var rlk = serializer.DeserializeRelinearizationKey((await store.GetArtifactAsync(scope, "relinearization-key", Ct))!);
        Assert.NotNull(rlk);
        foreach (int step in new[] { 1, -1, 4 })
        {
            ulong element = p.Rlwe.GaloisElementForRotation(step);
            var bytes = await store.GetArtifactAsync(scope, $"galois-key:{element}", Ct);
            Assert.NotNull(bytes);
            Assert.Equal(element, serializer.DeserializeGaloisKey(bytes).GaloisElement);
        }

        Assert.Equal(p.Id.ToString(), CkksSerializer.ReadHeader((await store.GetArtifactAsync(scope, "public-key", Ct))!).ParametersId.ToString());
    }
}
