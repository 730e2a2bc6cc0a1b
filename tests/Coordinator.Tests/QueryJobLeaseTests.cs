using System.Globalization;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Analytics;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// A query job and its cohort's fold taken over from a node that lost its lease (decision 0018), stepped by hand on one
/// node that is not started (no worker runs): the other node's writes are made directly in the store, and a lease
/// moved away behind this node's back is what a pause past the TTL leaves. The budget is spent once, the fold stops
/// under a lost lease, the answered aggregate keeps the watermark it was frozen with, and a stale node leaves the
/// custodian tasks of a job it no longer runs alone.
/// </summary>
public sealed class QueryJobLeaseTests : IAsyncLifetime
{
    private const string CohortId = "breast_cancer";
    private const string Sql = "SELECT COUNT(*), AVG(mean_radius) FROM breast_cancer GROUP BY label";
    private const double Epsilon = 2;

    private const string Schema = """
        {
          "version": 1, "id": "breast_cancer", "minGroupSize": 2, "epsilon": 10, "delta": 1e-5,
          "dimensions": [ { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" } ],
          "measures": [ { "name": "mean_radius", "lo": 6.981, "hi": 28.11 } ]
        }
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly DevelopmentTokenIssuer _issuer = new();
    private readonly StaleListing _listing = new();
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ph-qlease-" + Guid.NewGuid().ToString("N")[..10]);
    private WebApplication _app = null!;
    private CkksParameters _p = null!;
    private CkksSerializer _serializer = null!;
    private SecretKey _secret = null!;
    private byte[] _publicKey = [];

    private ICoordinatorStore Store => _app.Services.GetRequiredService<ICoordinatorStore>();

    private ICohortStore Cohorts => _app.Services.GetRequiredService<ICohortStore>();

    private QueryJobService Queries => _app.Services.GetRequiredService<QueryJobService>();

    private AnalyticsService Analytics => _app.Services.GetRequiredService<AnalyticsService>();

    public async ValueTask InitializeAsync()
    {
        _app = CoordinatorApp.Build(
        [
            $"--Coordinator:DataDirectory={_dir}",
            "--Coordinator:GrpcPort=0",
            "--Coordinator:HttpPort=-1",
            "--Coordinator:Cluster=true",
            "--Coordinator:NodeId=node-b",
            "--Coordinator:LeaseTtl=00:10:00",
            "--Logging:LogLevel:Default=Warning",
        ], _issuer, b => b.Services.AddSingleton<IQueryJobStore>(sp => _listing.Over((IQueryJobStore)sp.GetRequiredService<ICoordinatorStore>())));
        await Store.InitializeAsync(Ct);

        // a ready key set whose secret key this test holds (no ceremony: nothing here needs the custodians' shares)
        _p = _app.Services.GetRequiredService<KeySetRegistry>().Parameters(AnalyticsService.Preset);
        _serializer = new CkksSerializer(_p);
        using var keygen = new KeyGenerator(_p.Rlwe);
        _secret = keygen.GenerateSecretKey();
        _publicKey = _serializer.Serialize(keygen.GeneratePublicKey(_secret));
        await Store.CreateKeySetAsync(new KeySetRecord { KeySetId = "ks", Preset = AnalyticsService.Preset, Members = 3, Threshold = 2, State = "ready", Phase = "done" }, Ct);
        await Store.PutArtifactAsync(KeySetRegistry.Scope("ks"), "public-key", _publicKey, Ct);
        await Analytics.CreateCohortAsync("ks", Schema, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _issuer.Dispose();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task ANewHolder_StepsTheStoredJob_NotTheCopyItListedBeforeThePreviousHolderSpent()
    {
        await ContributeAsync(0, 4);
        var job = await SubmitAsync();
        _listing.Snapshot = await Store.AsQueryJobs().ListQueryJobsAsync(null, Ct); // node B lists the jobs ...

        // ... then node A, the lease holder, spends the budget, records it, and dies
        Assert.True(await Cohorts.TrySpendBudgetAsync(CohortId, job.JobId, Epsilon, QueryJobService.DeltaPerQuery, Ct));
        var spent = QueryJobData.Parse(job.Data) with { BudgetSpent = true, CountSigma = 1, StatisticsSigma = 1 };
        Assert.NotNull(await Store.AsQueryJobs().UpdateQueryJobAsync(job with { Message = "budget spent", Data = spent.ToJson() }, Ct));

        await Queries.StepAllAsync(Ct); // B takes the free lease and steps

        var stepped = (await Store.AsQueryJobs().GetQueryJobAsync(job.JobId, Ct))!;
        Assert.Equal("ready", stepped.State); // stepped from A's record (a step of the listed copy loses its update)
        Assert.Equal(Epsilon, (await Cohorts.GetCohortAsync(CohortId, Ct))!.EpsilonSpent, 12);
    }

    [Fact]
    public async Task ASpendCommittedByAHolderThatDiedBeforeRecordingIt_IsNotSpentAgain()
    {
        await ContributeAsync(0, 4);
        var job = await SubmitAsync();
        Assert.True(await Cohorts.TrySpendBudgetAsync(CohortId, job.JobId, Epsilon, QueryJobService.DeltaPerQuery, Ct)); // A spent, then died

        await Queries.StepAllAsync(Ct);

        var stepped = (await Store.AsQueryJobs().GetQueryJobAsync(job.JobId, Ct))!;
        Assert.Equal("ready", stepped.State);
        Assert.True(QueryJobData.Parse(stepped.Data).BudgetSpent);
        var cohort = (await Cohorts.GetCohortAsync(CohortId, Ct))!;
        Assert.Equal(Epsilon, cohort.EpsilonSpent, 12);
        Assert.Equal(QueryJobService.DeltaPerQuery, cohort.DeltaSpent, 15);
    }

    [Fact]
    public async Task AFoldUnderALostLease_StopsInsteadOfRetryingForever()
    {
        await ContributeAsync(0, 3);
        var cohort = (await Cohorts.GetCohortAsync(CohortId, Ct))!;
        var stale = await MoveAwayAsync("cohort:" + CohortId);

        using (StoreFence.Enter(stale))
        {
            // the cancellation only ends a fold that spins (the bug) with a failure; the fold itself stops at once
            using var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            guard.CancelAfter(TimeSpan.FromMinutes(1));
            await Assert.ThrowsAsync<LeaseLostException>(() => Analytics.FoldAsync(cohort, guard.Token));
        }

        Assert.Null(await Cohorts.GetCohortAggregateAsync(CohortId, Ct));
        Assert.Equal(3, (await Analytics.FoldAsync(cohort, Ct))!.Contributors); // unfenced (or under a held lease) it folds
    }

    [Fact]
    public async Task AnAggregateFrozenByAHolderThatLostItsLease_IsAnsweredWithItsOwnWatermarkAndCount()
    {
        await ContributeAsync(0, 3);
        var job = await SubmitAsync();

        // node A folded 3 contributions, spent, froze that aggregate and lost its lease before recording it in the job
        var cohort = (await Cohorts.GetCohortAsync(CohortId, Ct))!;
        var folded = (await Analytics.FoldAsync(cohort, Ct))!;
        Assert.True(await Cohorts.TrySpendBudgetAsync(CohortId, job.JobId, Epsilon, QueryJobService.DeltaPerQuery, Ct));
        Assert.True(await Store.PutArtifactAsync("query:" + job.JobId, FrozenAggregate.ArtifactName, new FrozenAggregate(folded.ThroughSequence, folded.Contributors, folded.Ciphertext!).ToBytes(), Ct));

        await ContributeAsync(3, 2); // two more arrive; node B's fold goes through them
        await Queries.StepAllAsync(Ct);

        var data = QueryJobData.Parse((await Store.AsQueryJobs().GetQueryJobAsync(job.JobId, Ct))!.Data);
        Assert.Equal((folded.ThroughSequence, 3), (data.FrozenThrough, data.Contributors));
        Assert.Equal(5, (await Cohorts.GetCohortAggregateAsync(CohortId, Ct))!.Contributors);
    }

    [Fact]
    public async Task AJobFrozenByAnEarlierVersion_IsAnsweredFromItsBareAggregate()
    {
        await ContributeAsync(0, 4);
        await StoreRotationKeysAsync();
        var job = await SubmitAsync();

        // an earlier version froze the bare ciphertext as "aggregate", kept watermark and count in the job's data, and
        // had started the counts pass when the node was upgraded
        var cohort = (await Cohorts.GetCohortAsync(CohortId, Ct))!;
        var folded = (await Analytics.FoldAsync(cohort, Ct))!;
        Assert.True(await Cohorts.TrySpendBudgetAsync(CohortId, job.JobId, Epsilon, QueryJobService.DeltaPerQuery, Ct));
        Assert.True(await Store.PutArtifactAsync("query:" + job.JobId, FrozenAggregate.LegacyArtifactName, folded.Ciphertext!, Ct));
        var data = QueryJobData.Parse(job.Data) with
        {
            BudgetSpent = true, CountSigma = 1, StatisticsSigma = 1, FrozenThrough = folded.ThroughSequence, Contributors = folded.Contributors,
            Active = [1, 2], Sessions = ["00", "00"], FloodingSigma = 1, FloodingBound = 1, PrecisionBits = 20, TasksAt = DateTimeOffset.UtcNow,
        };
        Assert.NotNull(await Store.AsQueryJobs().UpdateQueryJobAsync(job with { State = "counting", Data = data.ToJson() }, Ct));

        await Queries.StepAllAsync(Ct);

        // the counts pass went on from that aggregate: both active custodians were asked for their noise share
        var tasks = await Store.ListTasksAsync($"query:{job.JobId}:count-noise", Ct);
        Assert.Equal([1, 2], tasks.Select(t => t.Party).Order());
        var stepped = (await Store.AsQueryJobs().GetQueryJobAsync(job.JobId, Ct))!;
        Assert.Equal("counting", stepped.State);
        Assert.Equal((folded.ThroughSequence, 4), (QueryJobData.Parse(stepped.Data).FrozenThrough, QueryJobData.Parse(stepped.Data).Contributors));
    }

    [Fact]
    public async Task AFailureSeenByANodeThatLostTheLease_DoesNotWithdrawTheHoldersTasks()
    {
        await ContributeAsync(0, 4);
        await StoreRotationKeysAsync();
        var job = await SubmitAsync();
        await Queries.StepAllAsync(Ct); // B: pending → ready (no custodian online), and B keeps the lease cached
        job = (await Store.AsQueryJobs().GetQueryJobAsync(job.JobId, Ct))!;
        Assert.Equal("ready", job.State);

        // the lease moves to node A, which starts the counts pass; custodian 1 refuses its noise task
        await MoveAwayAsync("query:" + job.JobId);
        var data = QueryJobData.Parse(job.Data) with { Active = [1, 2], Sessions = ["00", "00"], FloodingSigma = 1, FloodingBound = 1, PrecisionBits = 20, TasksAt = DateTimeOffset.UtcNow };
        job = (await Store.AsQueryJobs().UpdateQueryJobAsync(job with { State = "counting", Data = data.ToJson() }, Ct))!;
        string scope = $"query:{job.JobId}:count-noise";
        foreach (int party in new[] { 1, 2 })
        {
            Assert.True(await Store.AddTaskAsync(new CustodianTaskRecord { TaskId = $"{job.JobId}/count-noise/p{party}", Scope = scope, Party = party, Payload = [], CreatedAt = DateTimeOffset.UtcNow }, Ct));
        }

        Assert.Equal(AnswerOutcome.Stored, await Store.SaveAnswerAsync($"{job.JobId}/count-noise/p1", 1, new CustodianAnswer { Refusal = "not today" }.ToByteArray(), Ct));

        await Queries.StepAllAsync(Ct); // B, on its cached lease, sees the refusal; its "failed" update is refused

        Assert.Equal("counting", (await Store.AsQueryJobs().GetQueryJobAsync(job.JobId, Ct))!.State);
        Assert.False(Assert.Single(await Store.ListTasksAsync(scope, Ct), t => t.Party == 2).Withdrawn);
    }

    private async Task<QueryJobRecord> SubmitAsync()
    {
        var quote = await Queries.QuoteAsync("researcher-1", new QuoteQueryRequest { CohortId = CohortId, Query = Sql, Epsilon = Epsilon }, Ct);
        var status = await Queries.SubmitAsync("researcher-1", new SubmitQueryRequest { QuoteId = quote.QuoteId, CohortId = CohortId, Query = Sql, ResearcherPublicKey = ByteString.CopyFrom(_publicKey) }, Ct);
        return (await Store.AsQueryJobs().GetQueryJobAsync(status.JobId, Ct))!;
    }

    /// <summary>Adds contributions of people <paramref name="first"/> .. first + count - 1 straight to the ledger.</summary>
    private async Task ContributeAsync(int first, int count)
    {
        var schema = CohortSchema.Parse(Schema);
        var codec = new AnalyticsCodec(_p, new SlotLayout(schema));
        var encoder = new ContributionEncoder(schema);
        using var encryptor = new Encryptor(_p.Rlwe, _serializer.DeserializePublicKey(_publicKey));
        for (int k = first; k < first + count; k++)
        {
            var person = new Dictionary<string, object> { ["target"] = (k % 2).ToString(CultureInfo.InvariantCulture), ["mean_radius"] = 10.0 + k };
            var bytes = _serializer.Serialize(codec.Encrypt(encoder.Encode(person), encryptor));
            Assert.Equal(ContributionOutcome.Stored, await Cohorts.AddContributionAsync(CohortId, $"person-{k}", bytes, Convert.ToHexStringLower(CkksSerializer.ContentId(bytes)), DateTimeOffset.UtcNow, Ct));
        }
    }

    /// <summary>The rotation keys a query's evaluation needs, generated from this test's secret key.</summary>
    private async Task StoreRotationKeysAsync()
    {
        using var keygen = new KeyGenerator(_p.Rlwe);
        foreach (int step in SlotLayout.RotationSteps(_p.MaxSlots))
        {
            ulong element = _p.Rlwe.GaloisElementForRotation(step);
            await Store.PutArtifactAsync(KeySetRegistry.Scope("ks"), $"galois-key:{element}", _serializer.Serialize(keygen.GenerateGaloisKey(_secret, element)), Ct);
        }
    }

    /// <summary>
    /// Takes the lease of <paramref name="resource"/> for node A (or takes over the one node B holds) and returns the
    /// lease node B held or would have held: a fence that no longer holds.
    /// </summary>
    private async Task<LeaseRecord> MoveAwayAsync(string resource)
    {
        var leases = (ILeaseStore)Store;
        string nodeB = _app.Services.GetRequiredService<JobLeases>().LeaseOwner; // "node-b#<process suffix>"
        var held = await leases.GetLeaseAsync(resource, Ct) ?? await leases.TryAcquireLeaseAsync(resource, nodeB, TimeSpan.FromMinutes(10), Ct);
        Assert.Equal(nodeB, held!.Owner);
        Assert.True(await leases.ReleaseLeaseAsync(resource, nodeB, held.Token, Ct));
        Assert.Equal(held.Token + 1, (await leases.TryAcquireLeaseAsync(resource, "node-a", TimeSpan.FromMinutes(10), Ct))!.Token);
        return held;
    }

    /// <summary>The query-job store with a listing that can be pinned to an earlier snapshot (a list read before another node wrote).</summary>
    private sealed class StaleListing
    {
        public IReadOnlyList<QueryJobRecord>? Snapshot { get; set; }

        public IQueryJobStore Over(IQueryJobStore inner) => new Pinned(this, inner);

        private sealed class Pinned(StaleListing owner, IQueryJobStore inner) : IQueryJobStore
        {
            public Task CreateQuoteAsync(QuoteRecord quote, CancellationToken cancellationToken = default) => inner.CreateQuoteAsync(quote, cancellationToken);

            public Task<QuoteRecord?> GetQuoteAsync(string quoteId, CancellationToken cancellationToken = default) => inner.GetQuoteAsync(quoteId, cancellationToken);

            public Task<(QueryJobRecord? Job, CreateQueryJobOutcome Outcome)> CreateQueryJobAsync(QueryJobRecord job, DateTimeOffset now, CancellationToken cancellationToken = default) =>
                inner.CreateQueryJobAsync(job, now, cancellationToken);

            public Task<QueryJobRecord?> GetQueryJobAsync(string jobId, CancellationToken cancellationToken = default) => inner.GetQueryJobAsync(jobId, cancellationToken);

            public async Task<IReadOnlyList<QueryJobRecord>> ListQueryJobsAsync(string? cohortId = null, CancellationToken cancellationToken = default) =>
                owner.Snapshot ?? await inner.ListQueryJobsAsync(cohortId, cancellationToken);

            public Task<QueryJobRecord?> UpdateQueryJobAsync(QueryJobRecord job, CancellationToken cancellationToken = default) => inner.UpdateQueryJobAsync(job, cancellationToken);
        }
    }
}

internal static class QueryJobStoreAccess
{
    /// <summary>The store's own query-job interface (not the test's listing).</summary>
    public static IQueryJobStore AsQueryJobs(this ICoordinatorStore store) => (IQueryJobStore)store;
}
