using System.Security.Cryptography;
using PrivateHealth.Participant.Consent;
using PrivateHealth.Participant.Storage;

namespace PrivateHealth.Participant.Tests;

public sealed class ConsentLedgerTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2024, 3, 1, 9, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _dir = new();
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly ManualTimeProvider _clock = new(T0);

    public void Dispose() => _dir.Dispose();

    private EncryptedSecretStore OpenSecrets() => EncryptedSecretStore.Open(_dir.File("secrets.phss"), _key);

    [Fact]
    public void NothingIsAllowedBeforeAGrant()
    {
        using var secrets = OpenSecrets();
        var ledger = ConsentLedger.Open(secrets, _clock);

        Assert.False(ledger.IsAllowed(ConsentPurpose.Training, "cohort-a", T0));
        Assert.False(ledger.IsAllowed(ConsentPurpose.Analytics, "cohort-a"));
        Assert.Empty(ledger.History);
    }

    [Fact]
    public void GrantRevokeAndRegrantDecideEveryJobByItsTime()
    {
        using var secrets = OpenSecrets();
        var ledger = ConsentLedger.Open(secrets, _clock);

        var grant = ledger.Grant(ConsentPurpose.Training, "cohort-a", note: "Sleep and heart rate study v2");
        _clock.Advance(TimeSpan.FromDays(10));
        var revoke = ledger.Revoke(ConsentPurpose.Training, "cohort-a");
        _clock.Advance(TimeSpan.FromDays(5));
        var regrant = ledger.Grant(ConsentPurpose.Training, "cohort-a");

        Assert.False(ledger.IsAllowed(ConsentPurpose.Training, "cohort-a", T0.AddTicks(-1)));
        Assert.True(ledger.IsAllowed(ConsentPurpose.Training, "cohort-a", T0));
        Assert.True(ledger.IsAllowed(ConsentPurpose.Training, "cohort-a", revoke.At.AddTicks(-1)));
        Assert.False(ledger.IsAllowed(ConsentPurpose.Training, "cohort-a", revoke.At)); // the revocation applies from its own instant
        Assert.False(ledger.IsAllowed(ConsentPurpose.Training, "cohort-a", regrant.At.AddTicks(-1)));
        Assert.True(ledger.IsAllowed(ConsentPurpose.Training, "cohort-a", regrant.At));
        Assert.True(ledger.IsAllowed(ConsentPurpose.Training, "cohort-a"));
        Assert.Equal([grant, revoke, regrant], ledger.History);
        Assert.Equal([0L, 1L, 2L], ledger.History.Select(e => e.Sequence));
        Assert.Equal("Sleep and heart rate study v2", grant.Note);
    }

    [Fact]
    public void ARevocationRefusesEveryLaterJob()
    {
        using var secrets = OpenSecrets();
        var ledger = ConsentLedger.Open(secrets, _clock);
        ledger.Grant(ConsentPurpose.Analytics, "cohort-a");
        _clock.Advance(TimeSpan.FromHours(1));
        var revoke = ledger.Revoke(ConsentPurpose.Analytics, "cohort-a");

        foreach (var later in new[] { revoke.At, revoke.At.AddSeconds(1), revoke.At.AddDays(400) })
        {
            Assert.False(ledger.IsAllowed(ConsentPurpose.Analytics, "cohort-a", later));
        }

        _clock.Advance(TimeSpan.FromDays(30));
        Assert.False(ledger.IsAllowed(ConsentPurpose.Analytics, "cohort-a"));
        Assert.Empty(ledger.GrantedCohorts(ConsentPurpose.Analytics));
    }

    [Fact]
    public void CohortsAndPurposesAreIsolated()
    {
        using var secrets = OpenSecrets();
        var ledger = ConsentLedger.Open(secrets, _clock);
        ledger.Grant(ConsentPurpose.Training, "cohort-a");
        ledger.Grant(ConsentPurpose.Training, "cohort-b");
        ledger.Grant(ConsentPurpose.Analytics, "cohort-a");
        _clock.Advance(TimeSpan.FromMinutes(1));
        ledger.Revoke(ConsentPurpose.Training, "cohort-a");

        Assert.False(ledger.IsAllowed(ConsentPurpose.Training, "cohort-a"));
        Assert.True(ledger.IsAllowed(ConsentPurpose.Training, "cohort-b"));
        Assert.True(ledger.IsAllowed(ConsentPurpose.Analytics, "cohort-a"));
        Assert.False(ledger.IsAllowed(ConsentPurpose.Analytics, "cohort-b"));
        Assert.False(ledger.IsAllowed(ConsentPurpose.Training, "Cohort-B")); // ids are exact (ordinal)
        Assert.Equal(["cohort-b"], ledger.GrantedCohorts(ConsentPurpose.Training));
        Assert.Equal(["cohort-a"], ledger.GrantedCohorts(ConsentPurpose.Analytics));
        Assert.Equal(2, ledger.HistoryFor(ConsentPurpose.Training, "cohort-a").Count);
    }

    [Fact]
    public void TheHistoryPersistsEncryptedAcrossReopen()
    {
        IReadOnlyList<ConsentEvent> history;
        using (var secrets = OpenSecrets())
        {
            secrets.Set("other-component", [1, 2, 3]);
            var ledger = ConsentLedger.Open(secrets, _clock);
            ledger.Grant(ConsentPurpose.Training, "cohort-a", note: "first");
            _clock.Advance(TimeSpan.FromDays(1));
            ledger.Revoke(ConsentPurpose.Training, "cohort-a");
            _clock.Advance(TimeSpan.FromDays(1));
            ledger.Grant(ConsentPurpose.Analytics, "cohort-z");
            history = ledger.History;
        }

        string raw = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(_dir.File("secrets.phss")));
        Assert.DoesNotContain("cohort-a", raw, StringComparison.Ordinal);

        using var reopenedSecrets = OpenSecrets();
        var reopened = ConsentLedger.Open(reopenedSecrets, _clock);
        Assert.Equal(history, reopened.History);
        Assert.False(reopened.IsAllowed(ConsentPurpose.Training, "cohort-a"));
        Assert.True(reopened.IsAllowed(ConsentPurpose.Analytics, "cohort-z"));
        Assert.Equal(new byte[] { 1, 2, 3 }, reopenedSecrets.Get("other-component"));

        _clock.Advance(TimeSpan.FromDays(1));
        reopened.Grant(ConsentPurpose.Training, "cohort-a");
        Assert.Equal(4, reopened.History.Count);
        Assert.True(reopened.IsAllowed(ConsentPurpose.Training, "cohort-a"));
    }

    [Fact]
    public void DecisionsCannotBeBackDatedAndABackwardClockKeepsTheOrder()
    {
        using var secrets = OpenSecrets();
        var ledger = ConsentLedger.Open(secrets, _clock);
        ledger.Grant(ConsentPurpose.Training, "cohort-a");

        Assert.Throws<ArgumentOutOfRangeException>(() => ledger.Revoke(ConsentPurpose.Training, "cohort-a", T0.AddDays(-1)));

        _clock.Now = T0.AddHours(-3); // the device clock jumped back
        var revoke = ledger.Revoke(ConsentPurpose.Training, "cohort-a");
        Assert.Equal(T0, revoke.At);
        Assert.False(ledger.IsAllowed(ConsentPurpose.Training, "cohort-a", T0));
        Assert.Equal(2, ledger.History.Count);

        var explicitLater = ledger.Grant(ConsentPurpose.Training, "cohort-a", T0.AddDays(2));
        Assert.Equal(T0.AddDays(2), explicitLater.At);
    }

    [Fact]
    public void InvalidCohortIdsAndPurposesAreRejected()
    {
        using var secrets = OpenSecrets();
        var ledger = ConsentLedger.Open(secrets, _clock);

        Assert.Throws<ArgumentException>(() => ledger.Grant(ConsentPurpose.Training, " "));
        Assert.Throws<ArgumentException>(() => ledger.Grant(ConsentPurpose.Training, "a\u0000b"));
        Assert.Throws<ArgumentException>(() => ledger.Grant(ConsentPurpose.Training, new string('c', 257)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ledger.Grant((ConsentPurpose)7, "cohort-a"));
        Assert.Empty(ledger.History);
    }
}
