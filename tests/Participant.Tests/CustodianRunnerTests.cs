using System.Security.Cryptography;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Participant.Network;

namespace PrivateHealth.Participant.Tests;

public sealed class CustodianRunnerTests
{
    private const string AgreementKeyName = "custodian/agreement-key";

    private static readonly CkksParameters Parameters = CkksParameters.FromLiteral(new CkksParametersLiteral
    {
        LogN = 11, LogQ = [60, 40, 57], LogP = [60, 46], LogDefaultScale = 57, InsecureForTestingOnly = true,
    });

    private static CoordinatorClient Unreachable() =>
        new(new Uri("http://127.0.0.1:1"), "token") { CallTimeout = TimeSpan.FromSeconds(5) };

    [Fact]
    public void TheAgreementKeyIsAP256KeyStoredInTheVault()
    {
        var vault = new MemoryVault();
        using var client = Unreachable();
        using var runner = new CustodianRunner(client, "custodian-1", 1, Parameters, vault);
        var stored = vault.Get(AgreementKeyName);
        Assert.NotNull(stored);
        using var key = ECDiffieHellman.Create();
        key.ImportPkcs8PrivateKey(stored, out _);
        Assert.Equal(256, key.KeySize);
        Assert.Equal(ECCurve.NamedCurves.nistP256.Oid.Value, key.ExportParameters(false).Curve.Oid.Value);
    }

    [Fact]
    public void ARestartedRunnerKeepsItsAgreementKey()
    {
        var vault = new MemoryVault();
        using var client = Unreachable();
        byte[] first;
        using (new CustodianRunner(client, "custodian-2", 2, Parameters, vault))
        {
            first = vault.Get(AgreementKeyName)!;
        }

        // A box sealed to the stored key before the restart still opens with the key the restarted runner loads.
        using var original = ECDiffieHellman.Create();
        original.ImportPkcs8PrivateKey(first, out _);
        var box = SealedBox.Seal(original.ExportSubjectPublicKeyInfo(), "share"u8, "s/1/2");

        using (new CustodianRunner(client, "custodian-2", 2, Parameters, vault))
        {
            Assert.Equal(first, vault.Get(AgreementKeyName));
        }

        using var reloaded = ECDiffieHellman.Create();
        reloaded.ImportPkcs8PrivateKey(vault.Get(AgreementKeyName)!, out _);
        Assert.Equal("share"u8.ToArray(), SealedBox.Open(reloaded, box, "s/1/2"));
    }

    [Fact]
    public void DifferentVaultsGetDifferentAgreementKeys()
    {
        var a = new MemoryVault();
        var b = new MemoryVault();
        using var client = Unreachable();
        using (new CustodianRunner(client, "custodian-1", 1, Parameters, a))
        using (new CustodianRunner(client, "custodian-2", 2, Parameters, b))
        {
            Assert.NotEqual(a.Get(AgreementKeyName), b.Get(AgreementKeyName));
        }
    }

    [Fact]
    public void AVaultIsRequired()
    {
        using var client = Unreachable();
        Assert.Throws<ArgumentNullException>(() => new CustodianRunner(client, "custodian-1", 1, Parameters, null!));
    }

    [Fact]
    public async Task RunAsyncKeepsRetryingAnUnreachableCoordinatorUntilCancelled()
    {
        var vault = new MemoryVault();
        using var client = Unreachable();
        var retry = new RetryPolicy { Initial = TimeSpan.FromMilliseconds(5), Max = TimeSpan.FromMilliseconds(50) };
        using var runner = new CustodianRunner(client, "custodian-3", 3, Parameters, vault, retry);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var run = runner.RunAsync(cts.Token);
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.False(run.IsCompleted, run.Exception?.ToString());
        await cts.CancelAsync();
        var ex = await Record.ExceptionAsync(() => run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));

        // Cancellation surfaces either as the cancellation itself or as the last (transient) failure it interrupted.
        Assert.True(ex is OperationCanceledException || (ex is not null && CoordinatorClient.IsTransient(ex)), ex?.ToString() ?? "completed");
        Assert.Equal(0, runner.Answered);
    }
}
