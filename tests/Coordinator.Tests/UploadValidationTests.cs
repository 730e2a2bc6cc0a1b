using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Participant.Network;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// A running coordinator (custodians 1..3, a 2-of-3 key set) with one training job whose round 0 is OPEN: every
/// participant is enrolled, connected to WatchRounds and sampled; nobody has uploaded. Tests send uploads by hand.
/// </summary>
internal sealed class OpenRound : IAsyncDisposable
{
    /// <summary>Upload size limits used by <see cref="StartAsync"/>: a ~62.6 KB training ciphertext fits both.</summary>
    public const int MaxUploadBytes = 200_000;
    public const int MaxCiphertextBytes = 65_536;

    private readonly CancellationTokenSource _watch;
    private readonly List<Task> _watchers;

    private OpenRound(CoordinatorHarness harness, string keySetId, string jobId, TrainingJobSpec spec, ParametersReply parameters, IReadOnlyList<string> participants,
        Dictionary<string, CoordinatorClient> clients, CancellationTokenSource watch, List<Task> watchers)
    {
        Harness = harness;
        KeySetId = keySetId;
        JobId = jobId;
        Spec = spec;
        Reply = parameters;
        Parameters = CkksSerializer.DeserializeParameters(parameters.Parameters.Span);
        PublicKey = new CkksSerializer(Parameters).DeserializePublicKey(parameters.PublicKey.Span);
        Participants = participants;
        Clients = clients;
        _watch = watch;
        _watchers = watchers;
    }

    public CoordinatorHarness Harness { get; }
    public string KeySetId { get; }
    public string JobId { get; }
    public TrainingJobSpec Spec { get; }
    public ParametersReply Reply { get; }
    public CkksParameters Parameters { get; }
    public PublicKey PublicKey { get; }
    public IReadOnlyList<string> Participants { get; }

    /// <summary>One client per participant, authenticated as that participant.</summary>
    public Dictionary<string, CoordinatorClient> Clients { get; }

    public ICoordinatorStore Store => Harness.App.Services.GetRequiredService<ICoordinatorStore>();

    /// <summary>Starts the coordinator and opens round 0 of a one-round job for <paramref name="participants"/> participants.</summary>
    public static async Task<OpenRound> StartAsync(int participants, CancellationToken ct, IDictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string>
        {
            ["Coordinator:MaxUploadBytes"] = MaxUploadBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Coordinator:MaxCiphertextBytes"] = MaxCiphertextBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
        {
            all[k] = v;
        }

        var harness = await CoordinatorHarness.StartAsync(settings: all, ct: ct);
        var clients = new Dictionary<string, CoordinatorClient>(StringComparer.Ordinal);
        var watch = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watchers = new List<Task>();
        try
        {
            harness.StartCustodians([1, 2, 3]);
            string keySet = await harness.RunCeremonyAsync(3, 2, relinearization: false, rotations: [], ct);
            string cohort = "cohort-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
            var spec = new TrainingJobSpec
            {
                CohortId = cohort,
                Model = "logistic",
                Features = 4,
                Rounds = 1,
                SampleFraction = 1.0,
                MinParticipants = participants,
                RoundDeadlineMs = 600_000,
                OnTooFew = "fail",
                Seed = 7,
            };
            using var op = harness.Operator();
            var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = keySet }, ct);
            var ids = Enumerable.Range(0, participants).Select(i => $"p{i}").ToList();
            var opened = new List<Task>();
            foreach (var id in ids)
            {
                var client = harness.Client(id, Roles.Participant);
                clients[id] = client;
                await client.EnrollAsync(new EnrollRequest { ParticipantId = id, CohortId = cohort, Training = true }, ct);
                var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                opened.Add(open.Task);
                watchers.Add(Task.Run(async () =>
                {
                    try
                    {
                        await foreach (var ev in client.WatchRoundsAsync(job.JobId, id, watch.Token))
                        {
                            if (ev.State == "open" && ev.Round == 0)
                            {
                                Assert.True(ev.Selected, $"{id} was not sampled");
                                open.TrySetResult();
                            }
                        }
                    }
                    catch (Exception ex) when (watch.IsCancellationRequested)
                    {
                        _ = ex;
                    }
                    catch (Exception ex)
                    {
                        open.TrySetException(ex);
                    }
                }, CancellationToken.None));
            }

            await Task.WhenAll(opened).WaitAsync(TimeSpan.FromSeconds(60), ct);
            var parameters = await clients[ids[0]].GetParametersAsync(job.JobId, ct);
            return new OpenRound(harness, keySet, job.JobId, parameters.Job, parameters, ids, clients, watch, watchers);
        }
        catch
        {
            await watch.CancelAsync();
            foreach (var c in clients.Values)
            {
                c.Dispose();
            }

            watch.Dispose();
            await harness.DisposeAsync();
            throw;
        }
    }

    /// <summary>Length of an upload vector: the weighted parameters, then the weight.</summary>
    public int UploadLength => Spec.UploadLength();

    /// <summary>
    /// A fresh encryption of a weighted update (every parameter <paramref name="value"/>·weight, then the weight, then
    /// the metrics Σ loss, Σ correct and examples, here 0.5·weight, 0.5·weight and weight).
    /// </summary>
    public byte[][] Encrypt(double value = 0.25, double weight = 1.0, CkksParameters? parameters = null, PublicKey? publicKey = null)
    {
        var p = parameters ?? Parameters;
        var vector = new double[UploadLength];
        int count = Spec.ParameterCount();
        Array.Fill(vector, value * weight, 0, count);
        vector[count] = weight;
        vector[count + 1] = 0.5 * weight;
        vector[count + 2] = 0.5 * weight;
        vector[count + 3] = weight;
        using var encryptor = new Encryptor(p.Rlwe, publicKey ?? PublicKey);
        var serializer = new CkksSerializer(p);
        return [.. new UpdatePacker(p).Encrypt(vector, encryptor).Select(serializer.Serialize)];
    }

    /// <summary>An upload request for round 0 (unless given) with the job's parameters id.</summary>
    public UploadRequest Request(string participantId, IEnumerable<byte[]> ciphertexts, int round = 0, string? parametersId = null, string? jobId = null)
    {
        var request = new UploadRequest { JobId = jobId ?? JobId, Round = round, ParticipantId = participantId, ParametersId = parametersId ?? Reply.ParametersId };
        request.Ciphertexts.AddRange(ciphertexts.Select(c => ByteString.CopyFrom(c)));
        return request;
    }

    public UploadRequest ValidRequest(string participantId, double value = 0.25) => Request(participantId, Encrypt(value));

    /// <summary>Participants whose upload of round 0 is in the ledger.</summary>
    public async Task<IReadOnlyList<string>> StoredUploadersAsync(CancellationToken ct) =>
        [.. (await Store.ListUploadsAsync(JobId, 0, ct)).Select(u => u.ParticipantId).Order(StringComparer.Ordinal)];

    /// <summary>Received count of round 0 as the operator sees it.</summary>
    public async Task<int> ReceivedAsync(CancellationToken ct)
    {
        using var op = Harness.Operator();
        var status = await op.GetJobAsync(JobId, ct);
        return status.History.Single(h => h.Round == 0).Received;
    }

    /// <summary>Asserts the ledger holds exactly the uploads of <paramref name="expected"/> and the round is still open.</summary>
    public async Task AssertStoredAsync(CancellationToken ct, params string[] expected)
    {
        Assert.Equal([.. expected.Order(StringComparer.Ordinal)], await StoredUploadersAsync(ct));
        using var op = Harness.Operator();
        var status = await op.GetJobAsync(JobId, ct);
        var round = status.History.Single(h => h.Round == 0);
        Assert.Equal(expected.Length, round.Received);
        Assert.Equal("open", round.State);
    }

    /// <summary>Waits until the job reaches <paramref name="state"/> (or fails the test).</summary>
    public async Task<JobStatus> WaitForJobAsync(string state, CancellationToken ct)
    {
        using var op = Harness.Operator();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var status = await op.GetJobAsync(JobId, ct);
            // the job is published first and its last round marked completed right after: wait for both
            if (status.State == state && (state != "completed" || status.History.All(h => h.State == "completed")))
            {
                return status;
            }

            Assert.True(status.State is "pending" or "running" or "completed" && DateTime.UtcNow < deadline, $"job is {status.State}: {status.Message}; rounds: {string.Join(", ", status.History.Select(h => $"{h.Round} {h.State} {h.Message}"))}");
            await Task.Delay(50, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _watch.CancelAsync();
        try
        {
            await Task.WhenAll(_watchers).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
        {
        }

        foreach (var c in Clients.Values)
        {
            c.Dispose();
        }

        _watch.Dispose();
        await Harness.DisposeAsync();
    }
}

/// <summary>Shared assertions of gRPC refusals.</summary>
internal static class Refusal
{
    public static async Task<GrpcStatusException> AssertAsync(StatusCode expected, string fragment, Func<Task> call)
    {
        var ex = await Assert.ThrowsAsync<GrpcStatusException>(call);
        Assert.True(ex.StatusCode == expected, $"expected {expected}, got {ex.StatusCode}: {ex.Detail}");
        Assert.Contains(fragment, ex.Detail, StringComparison.OrdinalIgnoreCase);
        return ex;
    }
}

/// <summary>
/// Upload validation of the real coordinator over gRPC: every refusal has its exact status and a helpful message,
/// and nothing is stored for it; a resend is counted once; the round still completes with only the valid uploads.
/// </summary>
public sealed class UploadValidationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Valid_upload_is_accepted_identical_resend_is_duplicate_and_a_different_update_is_ALREADY_EXISTS()
    {
        await using var r = await OpenRound.StartAsync(2, Ct);
        var client = r.Clients["p0"];
        var request = r.ValidRequest("p0");

        var first = await client.UploadAsync(request, Ct);
        Assert.True(first.Accepted);
        Assert.False(first.Duplicate);
        var ids = first.ContentIds.ToList();
        Assert.Single(ids);
        Assert.Equal(Convert.ToHexStringLower(CkksSerializer.ContentId(request.Ciphertexts[0].Span)), ids[0]);
        await r.AssertStoredAsync(Ct, "p0");

        var again = await client.UploadAsync(request, Ct);
        Assert.True(again.Accepted);
        Assert.True(again.Duplicate, again.Message);
        Assert.Contains("counted once", again.Message, StringComparison.Ordinal);
        Assert.Equal(ids, again.ContentIds);
        await r.AssertStoredAsync(Ct, "p0");

        // the same values encrypted again are different ciphertexts: a second, different update
        var other = r.ValidRequest("p0");
        await Refusal.AssertAsync(StatusCode.AlreadyExists, "already recorded", () => client.UploadAsync(other, Ct));
        await r.AssertStoredAsync(Ct, "p0");
        var stored = Assert.Single(await r.Store.ListUploadsAsync(r.JobId, 0, Ct));
        Assert.Equal(ids, stored.ContentIds);
        Assert.Equal(request.Ciphertexts[0].ToByteArray(), stored.Ciphertexts[0]);
    }

    [Fact]
    public async Task Malformed_ciphertexts_are_INVALID_ARGUMENT_and_the_round_then_completes_with_only_valid_uploads()
    {
        await using var r = await OpenRound.StartAsync(2, Ct);
        var client = r.Clients["p0"];
        byte[] valid = r.Encrypt()[0];
        Assert.InRange(valid.Length, 60_000, OpenRound.MaxCiphertextBytes);

        // random bytes
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "(BadMagic)", () => client.UploadAsync(r.Request("p0", [RandomNumberGenerator.GetBytes(valid.Length)]), Ct));
        // a valid ciphertext truncated
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "Ciphertext 0 is not valid for this job (Truncated): Declared length", () => client.UploadAsync(r.Request("p0", [valid[..(valid.Length / 2)]]), Ct));
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "(Truncated)", () => client.UploadAsync(r.Request("p0", [valid[..50]]), Ct));
        // a valid ciphertext with trailing bytes (still under the size limits)
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "(LengthMismatch)", () => client.UploadAsync(r.Request("p0", [[.. valid, .. new byte[100]]]), Ct));
        // one flipped byte in the middle: the digest no longer matches
        var flipped = (byte[])valid.Clone();
        flipped[flipped.Length / 2] ^= 0x40;
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "(DigestMismatch)", () => client.UploadAsync(r.Request("p0", [flipped]), Ct));
        // a trivial ciphertext (c1 = 0, re-sealed with a correct digest): not encrypted at all
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "(TrivialCiphertext)", () => client.UploadAsync(r.Request("p0", [Trivial(valid)]), Ct));
        // a ciphertext at another scale (re-sealed): not a fresh encryption
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "fresh encryption", () => client.UploadAsync(r.Request("p0", [Rescaled(valid, 2.0)]), Ct));
        // a ciphertext encrypted under another preset
        var otherParameters = CkksParameters.FromLiteral(CkksParametersLiteral.LogN12LogQP109);
        using (var kg = new KeyGenerator(otherParameters.Rlwe))
        {
            var otherKey = kg.GeneratePublicKey(kg.GenerateSecretKey());
            var foreign = r.Encrypt(parameters: otherParameters, publicKey: otherKey);
            Assert.Single(foreign);
            await Refusal.AssertAsync(StatusCode.InvalidArgument, "(ParametersMismatch)", () => client.UploadAsync(r.Request("p0", foreign), Ct));
            await Refusal.AssertAsync(StatusCode.InvalidArgument, "Upload is for parameters", () => client.UploadAsync(r.Request("p0", foreign, parametersId: otherParameters.Id.ToString()), Ct));
        }

        // a wrong parameters_id with valid ciphertexts
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "Upload is for parameters", () => client.UploadAsync(r.Request("p0", [valid], parametersId: "00ff" + new string('0', 60)), Ct));
        // wrong ciphertext count
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "is 1 ciphertext(s); got 2", () => client.UploadAsync(r.Request("p0", [valid, valid]), Ct));
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "is 1 ciphertext(s); got 0", () => client.UploadAsync(r.Request("p0", []), Ct));
        // missing ids
        await Refusal.AssertAsync(StatusCode.InvalidArgument, "job_id and participant_id are required", () => client.UploadAsync(r.Request("p0", [valid], jobId: ""), Ct));

        await r.AssertStoredAsync(Ct, []);
        Assert.Equal(0, await r.ReceivedAsync(Ct));

        // the refusals left nothing behind: both valid uploads are accepted and the round completes with exactly them
        Assert.False((await client.UploadAsync(r.Request("p0", [valid]), Ct)).Duplicate);
        await r.AssertStoredAsync(Ct, "p0");
        Assert.False((await r.Clients["p1"].UploadAsync(r.ValidRequest("p1", 0.75), Ct)).Duplicate);
        var done = await r.WaitForJobAsync("completed", Ct);
        var round = Assert.Single(done.History);
        Assert.Equal((2, 2, "completed"), (round.Selected, round.Received, round.State));
        Assert.Equal(2.0, round.TotalWeight, 3);
        Assert.Equal(["p0", "p1"], await r.StoredUploadersAsync(Ct));
        // the released average of 0.25 and 0.75 (fedavg, server rate 1): every parameter moves to 0.5
        Assert.All(done.GlobalModel, w => Assert.Equal(0.5, w, 3));
    }

    [Fact]
    public async Task Oversized_message_and_oversized_ciphertext_are_RESOURCE_EXHAUSTED_and_nothing_is_stored()
    {
        await using var r = await OpenRound.StartAsync(2, Ct);
        var client = r.Clients["p0"];
        byte[] valid = r.Encrypt()[0];

        // a 3 MB message: refused by the framing layer (Coordinator:MaxUploadBytes = 200000)
        var huge = new byte[3 << 20];
        valid.CopyTo(huge, 0);
        await Refusal.AssertAsync(StatusCode.ResourceExhausted, "exceeds the maximum configured message size", () => client.UploadAsync(r.Request("p0", [huge]), Ct));

        // a message under the limit whose ciphertext exceeds Coordinator:MaxCiphertextBytes = 65536
        var padded = new byte[OpenRound.MaxCiphertextBytes + 1];
        valid.CopyTo(padded, 0);
        await Refusal.AssertAsync(StatusCode.ResourceExhausted, $"Ciphertext 0 is {padded.Length} bytes; the limit is {OpenRound.MaxCiphertextBytes}", () => client.UploadAsync(r.Request("p0", [padded]), Ct));

        await r.AssertStoredAsync(Ct, []);

        // the connection and the participant are still fine
        Assert.True((await client.UploadAsync(r.Request("p0", [valid]), Ct)).Accepted);
        await r.AssertStoredAsync(Ct, "p0");
    }

    [Fact]
    public async Task Wrong_round_is_FAILED_PRECONDITION_unsampled_is_PERMISSION_DENIED_unknown_job_is_NOT_FOUND()
    {
        await using var r = await OpenRound.StartAsync(2, Ct);
        var client = r.Clients["p0"];
        byte[] valid = r.Encrypt()[0];

        await Refusal.AssertAsync(StatusCode.FailedPrecondition, "Round 1 is not open (the current round is 0)", () => client.UploadAsync(r.Request("p0", [valid], round: 1), Ct));
        await Refusal.AssertAsync(StatusCode.FailedPrecondition, "Round -1 is not open", () => client.UploadAsync(r.Request("p0", [valid], round: -1), Ct));

        // enrolled and online after the round opened: not sampled for this round
        using var late = r.Harness.Client("p-late", Roles.Participant);
        await late.EnrollAsync(new EnrollRequest { ParticipantId = "p-late", CohortId = r.Spec.CohortId, Training = true }, Ct);
        await Refusal.AssertAsync(StatusCode.PermissionDenied, "'p-late' was not sampled for round 0", () => late.UploadAsync(r.Request("p-late", [valid]), Ct));

        await Refusal.AssertAsync(StatusCode.NotFound, "Job 'job-nope' not found", () => client.UploadAsync(r.Request("p0", [valid], jobId: "job-nope"), Ct));

        await r.AssertStoredAsync(Ct, []);
        Assert.Empty(await r.Store.ListUploadsAsync(r.JobId, 1, Ct));
    }

    /// <summary>The same ciphertext with c1 zeroed and the digest recomputed.</summary>
    private static byte[] Trivial(byte[] valid)
    {
        var bytes = (byte[])valid.Clone();
        int body = bytes.Length - CkksSerializer.HeaderSize - CkksSerializer.DigestSize;
        int c1 = CkksSerializer.HeaderSize + (body / 2);
        Array.Clear(bytes, c1, body / 2);
        Reseal(bytes);
        return bytes;
    }

    /// <summary>The same ciphertext with its scale multiplied by <paramref name="factor"/> and the digest recomputed.</summary>
    private static byte[] Rescaled(byte[] valid, double factor)
    {
        var bytes = (byte[])valid.Clone();
        var header = CkksSerializer.ReadHeader(bytes);
        System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(56), header.Scale * factor);
        Reseal(bytes);
        return bytes;
    }

    private static void Reseal(byte[] bytes) =>
        SHA256.HashData(bytes.AsSpan(0, bytes.Length - CkksSerializer.DigestSize), bytes.AsSpan(bytes.Length - CkksSerializer.DigestSize));
}
