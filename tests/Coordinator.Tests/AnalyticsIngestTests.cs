using System.Globalization;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Participant.Network;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>Encrypted cohort contributions over gRPC: validation, duplicates, replacement and revocation, exactly-once fold.</summary>
public sealed class AnalyticsIngestTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Schema = """
        {
          "version": 1, "id": "breast_cancer",
          "dimensions": [
            { "name": "label", "kind": "categorical", "values": ["0", "1"], "source": "target" },
            { "name": "radius_bin", "kind": "numeric", "source": "mean_radius", "edges": [6.981, 9.0939, 11.2068, 13.3197, 15.4326, 17.5455, 19.6584, 21.7713, 23.8842, 25.9971, 28.11] }
          ],
          "measures": [
            { "name": "mean_radius", "lo": 6.981, "hi": 28.11 },
            { "name": "mean_area", "lo": 143.5, "hi": 2501.0 }
          ]
        }
        """;

    [Fact]
    public async Task ContributionsAreValidatedCountedOnceReplacedAndRevokedExactlyOnce()
    {
        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        harness.StartCustodians([1, 2, 3], parameters);
        string keySet = await harness.RunCeremonyAsync(3, 2, relinearization: false, [.. SlotLayout.RotationSteps(parameters.MaxSlots)], Ct, "AggregationLogN13LogQP216");
        using var op = harness.Operator();
        var created = await op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = Schema }, Ct);
        Assert.Equal(("breast_cancer", "open"), (created.CohortId, created.State));
        var duplicateCohort = await Assert.ThrowsAsync<GrpcStatusException>(() => op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = Schema }, Ct));
        Assert.Equal(StatusCode.AlreadyExists, duplicateCohort.StatusCode);
        var badSchema = await Assert.ThrowsAsync<GrpcStatusException>(() => op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = "{\"id\":\"x\"}" }, Ct));
        Assert.Equal(StatusCode.InvalidArgument, badSchema.StatusCode);

        // 30 people from the data set, each an agent with its own token
        var lines = File.ReadAllLines(TestData.BreastCancerPath());
        var header = lines[0].Split(',');
        var people = lines.Skip(1).Take(30).Select(l => l.Split(',')).Select(cells => (IReadOnlyDictionary<string, object>)header.Select((h, i) => (h, v: cells[i]))
            .ToDictionary(x => x.h, x => x.h == "target" ? (object)((int)double.Parse(x.v, CultureInfo.InvariantCulture)).ToString(CultureInfo.InvariantCulture) : double.Parse(x.v, CultureInfo.InvariantCulture))).ToList();
        using var first = harness.Client("person-00", Roles.Participant);
        var info = await first.GetCohortAsync("breast_cancer", Ct);
        var schema = CohortSchema.Parse(info.SchemaJson);
        var p = CkksSerializer.DeserializeParameters(info.Parameters.Span);
        var serializer = new CkksSerializer(p);
        using var encryptor = new Encryptor(p.Rlwe, serializer.DeserializePublicKey(info.PublicKey.Span));
        var codec = new AnalyticsCodec(p, new SlotLayout(schema));
        var encoder = new ContributionEncoder(schema);
        ContributionRequest Request(int k, IReadOnlyDictionary<string, object> person) => new()
        {
            CohortId = "breast_cancer",
            ParticipantId = $"person-{k:D2}",
            Ciphertext = ByteString.CopyFrom(serializer.Serialize(codec.Encrypt(encoder.Encode(person), encryptor))),
            ParametersId = info.ParametersId,
        };

        var requests = people.Select((person, k) => Request(k, person)).ToList();
        await Task.WhenAll(requests.Select(async (r, k) =>
        {
            using var client = harness.Client(r.ParticipantId, Roles.Participant);
            var reply = await client.UploadContributionAsync(r, Ct);
            Assert.True(reply.Accepted && !reply.Duplicate && !reply.Replaced);
        }));

        // the identical bytes again: acknowledged, counted once
        using (var c3 = harness.Client("person-03", Roles.Participant))
        {
            Assert.True((await c3.UploadContributionAsync(requests[3], Ct)).Duplicate);
            // malformed, wrong level, someone else's id: refused, nothing stored
            var broken = requests[3].Clone();
            broken.Ciphertext = ByteString.CopyFrom(requests[3].Ciphertext.ToByteArray().Select((b, i) => i == 5000 ? (byte)(b ^ 1) : b).ToArray());
            Assert.Equal(StatusCode.InvalidArgument, (await Assert.ThrowsAsync<GrpcStatusException>(() => c3.UploadContributionAsync(broken, Ct))).StatusCode);
            var other = requests[4].Clone();
            Assert.Equal(StatusCode.PermissionDenied, (await Assert.ThrowsAsync<GrpcStatusException>(() => c3.UploadContributionAsync(other, Ct))).StatusCode);
            var unknown = requests[3].Clone();
            unknown.CohortId = "nope";
            Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<GrpcStatusException>(() => c3.UploadContributionAsync(unknown, Ct))).StatusCode);
        }

        // person 0 replaces its contribution with person 29's data; person 1 revokes; person 1 revoking again changes nothing
        using (var c0 = harness.Client("person-00", Roles.Participant))
        {
            Assert.True((await c0.UploadContributionAsync(Request(0, people[29]), Ct)).Replaced);
        }

        using (var c1 = harness.Client("person-01", Roles.Participant))
        {
            Assert.True((await c1.RevokeContributionAsync(new RevokeContributionRequest { CohortId = "breast_cancer", ParticipantId = "person-01" }, Ct)).Revoked);
            Assert.False((await c1.RevokeContributionAsync(new RevokeContributionRequest { CohortId = "breast_cancer", ParticipantId = "person-01" }, Ct)).Revoked);
        }

        CohortStatus status;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        do
        {
            await Task.Delay(50, Ct);
            status = await op.GetCohortStatusAsync(new GetCohortStatusRequest { CohortId = "breast_cancer" }, Ct);
        }
        while (status.FoldedContributions != 29 && DateTime.UtcNow < deadline);
        Assert.Equal((29, 29), (status.ActiveContributions, status.FoldedContributions));

        // threshold-decrypt the folded aggregate with two custodians' shares: it is exactly the active contributions' sum
        var cohorts = harness.App.Services.GetRequiredService<ICohortStore>();
        var aggregate = serializer.DeserializeCiphertext((await cohorts.GetCohortAggregateAsync("breast_cancer", Ct))!.Ciphertext!);
        var flooding = UpdateRelease.FloodingFor(p, 3, 40);
        ulong[] active = [1, 2];
        using var cks = new KeySwitchProtocol(p.Rlwe, flooding);
        var session = SessionId.NewRandom();
        var collector = new ShareCollector(cks, cks.AllocateShare(session, 0, aggregate.Level), 2);
        foreach (var runner in harness.Custodians.Where(r => active.Contains((ulong)r.Role.Party)))
        {
            collector.Add(runner.Role.CreateDecryptionShare(session, aggregate, active, 2, flooding));
        }

        var slots = codec.DecodePublic(cks.Decrypt(aggregate, collector.Aggregate), UpdateRelease.PrecisionBits(p, flooding, 2));
        var activePeople = people.Skip(2).Take(27).Append(people[29]).Append(people[29]).ToList(); // 2..28, plus person 0 now holding row 29, plus person 29
        var expected = codec.Slots(PlainAggregator.Sum(activePeople.Select(x => encoder.Encode(x))));
        double worst = expected.Select((e, i) => Math.Abs(e - slots[i])).Max();
        output.WriteLine($"fold of 29 active contributions (30 adds, 1 replacement, 1 revocation): worst slot error {worst:E2}");
        Assert.True(worst < 1e-6, $"worst slot error {worst:E2}");
    }

    [Fact]
    public async Task TheLedgerAndTheFoldSurviveARestartWithoutCountingAnythingTwice()
    {
        var parameters = CkksParameters.FromLiteral(CkksParametersLiteral.AggregationLogN13LogQP216);
        string dir = Path.Combine(Path.GetTempPath(), "ph-cohort-" + Guid.NewGuid().ToString("N")[..8]);
        byte[] folded;
        CohortStatus before;
        var custodianVaults = new Dictionary<int, PrivateHealth.Participant.Simulation.InMemoryCustodianVault>();
        await using (var harness = await CoordinatorHarness.StartAsync(dir, ct: Ct))
        {
            harness.StartCustodians([1, 2], parameters);
            string keySet = await harness.RunCeremonyAsync(2, 2, relinearization: false, [.. SlotLayout.RotationSteps(parameters.MaxSlots)], Ct, "AggregationLogN13LogQP216");
            using var op = harness.Operator();
            await op.CreateCohortAsync(new CreateCohortRequest { KeySetId = keySet, SchemaJson = Schema }, Ct);
            using var client = harness.Client("person-00", Roles.Participant);
            var info = await client.GetCohortAsync("breast_cancer", Ct);
            var schema = CohortSchema.Parse(info.SchemaJson);
            var p = CkksSerializer.DeserializeParameters(info.Parameters.Span);
            var serializer = new CkksSerializer(p);
            using var encryptor = new Encryptor(p.Rlwe, serializer.DeserializePublicKey(info.PublicKey.Span));
            var codec = new AnalyticsCodec(p, new SlotLayout(schema));
            var summary = new Dictionary<string, object> { ["target"] = "1", ["mean_radius"] = 12.5, ["mean_area"] = 480.0 };
            for (int k = 0; k < 5; k++)
            {
                using var c = harness.Client($"person-{k:D2}", Roles.Participant);
                var ct = serializer.Serialize(codec.Encrypt(new ContributionEncoder(schema).Encode(summary), encryptor));
                await c.UploadContributionAsync(new ContributionRequest { CohortId = "breast_cancer", ParticipantId = $"person-{k:D2}", Ciphertext = ByteString.CopyFrom(ct) }, Ct);
            }

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            do
            {
                await Task.Delay(50, Ct);
                before = await op.GetCohortStatusAsync(new GetCohortStatusRequest { CohortId = "breast_cancer" }, Ct);
            }
            while (before.FoldedContributions != 5 && DateTime.UtcNow < deadline);
            folded = (await harness.App.Services.GetRequiredService<ICohortStore>().GetCohortAggregateAsync("breast_cancer", Ct))!.Ciphertext!;
        }

        await using (var restarted = await CoordinatorHarness.StartAsync(dir, ct: Ct))
        {
            using var op = restarted.Operator();
            await Task.Delay(300, Ct); // several worker ticks: a re-fold would change the aggregate
            var after = await op.GetCohortStatusAsync(new GetCohortStatusRequest { CohortId = "breast_cancer" }, Ct);
            var again = (await restarted.App.Services.GetRequiredService<ICohortStore>().GetCohortAggregateAsync("breast_cancer", Ct))!.Ciphertext!;
            output.WriteLine($"before restart: {before.FoldedContributions} folded through {before.FoldedThrough}; after: {after.FoldedContributions} through {after.FoldedThrough}");
            Assert.Equal((5, 5, before.FoldedThrough), (after.ActiveContributions, after.FoldedContributions, after.FoldedThrough));
            Assert.Equal(folded, again);
        }

        Directory.Delete(dir, recursive: true);
    }
}
