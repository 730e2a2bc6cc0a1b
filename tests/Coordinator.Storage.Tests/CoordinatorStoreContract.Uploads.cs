using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class CoordinatorStoreContract
{
    [Fact]
    public async Task AddUpload_OpenRound_StoredAndListedWithCiphertexts()
    {
        var store = await StoreWithOpenRoundAsync();
        var upload = Upload("p-1") with { Sequence = 12345 };

        Assert.Equal(UploadOutcome.Stored, await store.AddUploadAsync(upload, Ct));

        var row = Assert.Single(await store.ListUploadsAsync("job-1", 0, Ct));
        AssertUpload(upload, row);
    }

    [Fact]
    public async Task AddUpload_LargeCiphertexts_RoundTrip()
    {
        var store = await StoreWithOpenRoundAsync();
        var random = new Random(3);
        var big = new byte[2][];
        for (var i = 0; i < big.Length; i++)
        {
            big[i] = new byte[1 << 20];
            random.NextBytes(big[i]);
        }

        var upload = Upload("p-1") with { Ciphertexts = big, ContentIds = ["a", "b"], Bytes = 2 << 20 };

        Assert.Equal(UploadOutcome.Stored, await store.AddUploadAsync(upload, Ct));

        AssertUpload(upload, Assert.Single(await store.ListUploadsAsync("job-1", 0, Ct)));
    }

    [Fact]
    public async Task AddUpload_NoCiphertexts_RoundTrip()
    {
        var store = await StoreWithOpenRoundAsync();
        var upload = Upload("p-1") with { Ciphertexts = [], ContentIds = [], Bytes = 0 };

        Assert.Equal(UploadOutcome.Stored, await store.AddUploadAsync(upload, Ct));

        AssertUpload(upload, Assert.Single(await store.ListUploadsAsync("job-1", 0, Ct)));
    }

    [Fact]
    public async Task AddUpload_SameParticipantTwice_SecondIsDuplicate()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1"), Ct);

        var outcome = await store.AddUploadAsync(Upload("p-1") with { ReceivedAt = T0.AddHours(1) }, Ct);

        Assert.Equal(UploadOutcome.Duplicate, outcome);
        AssertUpload(Upload("p-1"), Assert.Single(await store.ListUploadsAsync("job-1", 0, Ct)));
    }

    [Fact]
    public async Task AddUpload_SameParticipantDifferentContent_IsConflictAndKeepsFirst()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1", seed: 1), Ct);

        Assert.Equal(UploadOutcome.Conflict, await store.AddUploadAsync(Upload("p-1", seed: 2), Ct));

        AssertUpload(Upload("p-1", seed: 1), Assert.Single(await store.ListUploadsAsync("job-1", 0, Ct)));
    }

    [Fact]
    public async Task AddUpload_SameContentIdsReordered_IsConflict()
    {
        var store = await StoreWithOpenRoundAsync();
        var first = Upload("p-1");
        await store.AddUploadAsync(first, Ct);

        var reordered = first with { ContentIds = [.. first.ContentIds.Reverse()], Ciphertexts = [.. first.Ciphertexts.Reverse()] };

        Assert.Equal(UploadOutcome.Conflict, await store.AddUploadAsync(reordered, Ct));
    }

    [Fact]
    public async Task AddUpload_ContentIdsDifferInCase_IsConflict()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1") with { ContentIds = ["ab", "cd", "ef"] }, Ct);

        Assert.Equal(UploadOutcome.Conflict, await store.AddUploadAsync(Upload("p-1") with { ContentIds = ["AB", "cd", "ef"] }, Ct));
    }

    [Fact]
    public async Task AddUpload_ExtraContentId_IsConflict()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1"), Ct);
        var longer = Upload("p-1") with { Ciphertexts = [.. Upload("p-1").Ciphertexts, [1]], ContentIds = [.. Upload("p-1").ContentIds, "x"] };

        Assert.Equal(UploadOutcome.Conflict, await store.AddUploadAsync(longer, Ct));
    }

    [Fact]
    public async Task AddUpload_SameParticipantOtherRound_IsStored()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.CreateRoundAsync(Round(round: 1), Ct);

        Assert.Equal(UploadOutcome.Stored, await store.AddUploadAsync(Upload("p-1", round: 0), Ct));
        Assert.Equal(UploadOutcome.Stored, await store.AddUploadAsync(Upload("p-1", round: 1), Ct));
    }

    [Fact]
    public async Task AddUpload_UnknownRound_RoundNotOpen()
    {
        var store = await StoreWithOpenRoundAsync();

        Assert.Equal(UploadOutcome.RoundNotOpen, await store.AddUploadAsync(Upload("p-1", round: 1), Ct));
        Assert.Equal(UploadOutcome.RoundNotOpen, await store.AddUploadAsync(Upload("p-1", jobId: "job-x"), Ct));
        Assert.Empty(await store.ListUploadsAsync("job-1", 1, Ct));
    }

    [Theory]
    [InlineData(RoundState.Closed)]
    [InlineData(RoundState.Noise)]
    [InlineData(RoundState.Decrypting)]
    [InlineData(RoundState.Completed)]
    [InlineData(RoundState.Failed)]
    public async Task AddUpload_RoundCreatedNotOpen_RoundNotOpen(RoundState state)
    {
        var store = await NewStoreAsync();
        await store.CreateJobAsync(Job(), Ct);
        await store.CreateRoundAsync(Round(state: state), Ct);

        Assert.Equal(UploadOutcome.RoundNotOpen, await store.AddUploadAsync(Upload("p-1"), Ct));
        Assert.Empty(await store.ListUploadsAsync("job-1", 0, Ct));
    }

    [Fact]
    public async Task AddUpload_SequenceIsStrictlyIncreasingAcrossRoundsAndJobs()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.CreateJobAsync(Job("job-2"), Ct);
        await store.CreateRoundAsync(Round("job-2", 0), Ct);
        await store.CreateRoundAsync(Round("job-1", 1), Ct);

        await store.AddUploadAsync(Upload("p-b"), Ct);
        await store.AddUploadAsync(Upload("p-a", jobId: "job-2"), Ct);
        await store.AddUploadAsync(Upload("p-c", round: 1), Ct);
        await store.AddUploadAsync(Upload("p-a"), Ct);

        var sequences = new[]
        {
            (await store.ListUploadsAsync("job-1", 0, Ct))[0].Sequence,
            (await store.ListUploadsAsync("job-2", 0, Ct))[0].Sequence,
            (await store.ListUploadsAsync("job-1", 1, Ct))[0].Sequence,
            (await store.ListUploadsAsync("job-1", 0, Ct))[1].Sequence,
        };
        for (var i = 1; i < sequences.Length; i++)
        {
            Assert.True(sequences[i] > sequences[i - 1], $"sequence {i}: {sequences[i]} <= {sequences[i - 1]}");
        }
    }

    [Fact]
    public async Task ListUploads_ReturnsSequenceOrderNotParticipantOrder()
    {
        var store = await StoreWithOpenRoundAsync();
        string[] order = ["p-z", "p-a", "p-m"];
        foreach (var p in order)
        {
            await store.AddUploadAsync(Upload(p), Ct);
        }

        var uploads = await store.ListUploadsAsync("job-1", 0, Ct);

        Assert.Equal(order, uploads.Select(u => u.ParticipantId));
        Assert.True(uploads[0].Sequence < uploads[1].Sequence && uploads[1].Sequence < uploads[2].Sequence);
    }

    [Fact]
    public async Task ListUploads_UnknownRound_Empty()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-1"), Ct);

        Assert.Empty(await store.ListUploadsAsync("job-1", 3, Ct));
        Assert.Empty(await store.ListUploadsAsync("job-9", 0, Ct));
    }

    [Fact]
    public async Task GetUploadSummary_ParticipantsInSequenceOrderAndTotalBytes()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.AddUploadAsync(Upload("p-c") with { Bytes = 100 }, Ct);
        await store.AddUploadAsync(Upload("p-a") with { Bytes = 20 }, Ct);
        await store.AddUploadAsync(Upload("p-b") with { Bytes = 3_000_000_000 }, Ct);

        var (participants, bytes) = await store.GetUploadSummaryAsync("job-1", 0, Ct);

        Assert.Equal(["p-c", "p-a", "p-b"], participants);
        Assert.Equal(3_000_000_120, bytes);
    }

    [Fact]
    public async Task GetUploadSummary_EmptyRound_NoParticipantsZeroBytes()
    {
        var store = await StoreWithOpenRoundAsync();

        var (participants, bytes) = await store.GetUploadSummaryAsync("job-1", 0, Ct);

        Assert.Empty(participants);
        Assert.Equal(0, bytes);
    }

    [Fact]
    public async Task AddUpload_Parallel200DistinctParticipants_AllStoredWithDistinctSequences()
    {
        var store = await StoreWithOpenRoundAsync();

        var outcomes = await InParallelAsync(200, i => store.AddUploadAsync(Upload($"p-{i:D3}", seed: (byte)i), Ct));

        Assert.All(outcomes, o => Assert.Equal(UploadOutcome.Stored, o));
        var uploads = await store.ListUploadsAsync("job-1", 0, Ct);
        Assert.Equal(200, uploads.Count);
        Assert.Equal(200, uploads.Select(u => u.ParticipantId).Distinct().Count());
        Assert.Equal(uploads.Select(u => u.Sequence).Order(), uploads.Select(u => u.Sequence));
        Assert.Equal(200, uploads.Select(u => u.Sequence).Distinct().Count());
        foreach (var u in uploads)
        {
            var seed = byte.Parse(u.ParticipantId.AsSpan(2), provider: System.Globalization.CultureInfo.InvariantCulture);
            AssertUpload(Upload(u.ParticipantId, seed: seed), u);
        }
    }

    [Fact]
    public async Task AddUpload_Parallel200SameParticipant_ExactlyOneStoredRestDuplicate()
    {
        var store = await StoreWithOpenRoundAsync();

        var outcomes = await InParallelAsync(200, _ => store.AddUploadAsync(Upload("p-1"), Ct));

        Assert.Equal(1, outcomes.Count(o => o == UploadOutcome.Stored));
        Assert.Equal(199, outcomes.Count(o => o == UploadOutcome.Duplicate));
        Assert.Single(await store.ListUploadsAsync("job-1", 0, Ct));
    }

    [Fact]
    public async Task AddUpload_Parallel200SameParticipantDifferentContent_OneStoredOthersMatchTheWinner()
    {
        var store = await StoreWithOpenRoundAsync();

        var outcomes = await InParallelAsync(200, i => store.AddUploadAsync(Upload("p-1", seed: (byte)(i % 4)), Ct));

        var stored = Assert.Single(await store.ListUploadsAsync("job-1", 0, Ct));
        var winnerSeed = stored.Ciphertexts[0][0];
        Assert.Equal(1, outcomes.Count(o => o == UploadOutcome.Stored));
        for (var i = 0; i < outcomes.Length; i++)
        {
            if (outcomes[i] != UploadOutcome.Stored)
            {
                Assert.Equal(i % 4 == winnerSeed ? UploadOutcome.Duplicate : UploadOutcome.Conflict, outcomes[i]);
            }
        }
    }

    [Fact]
    public async Task AddUpload_ParallelMixedParticipantsAndRetries_ExactlyOneStoredPerParticipant()
    {
        var store = await StoreWithOpenRoundAsync();

        var outcomes = await InParallelAsync(200, i => store.AddUploadAsync(Upload($"p-{i % 20}"), Ct));

        Assert.Equal(20, outcomes.Count(o => o == UploadOutcome.Stored));
        Assert.Equal(180, outcomes.Count(o => o == UploadOutcome.Duplicate));
        Assert.Equal(20, (await store.ListUploadsAsync("job-1", 0, Ct)).Count);
    }

    // ---- accumulators

    [Fact]
    public async Task SaveAccumulator_New_ReturnsTrueAndRoundTrips()
    {
        var store = await StoreWithOpenRoundAsync();
        var accumulator = new AccumulatorRecord { JobId = "job-1", Round = 0, Ciphertexts = [[1, 2], [], [3]], UploadCount = 7 };

        Assert.True(await store.SaveAccumulatorAsync(accumulator, Ct));

        var stored = await store.GetAccumulatorAsync("job-1", 0, Ct);
        Assert.NotNull(stored);
        Assert.Equal("job-1", stored.JobId);
        Assert.Equal(0, stored.Round);
        Assert.Equal(7, stored.UploadCount);
        Assert.Equal(3, stored.Ciphertexts.Count);
        Assert.Equal([1, 2], stored.Ciphertexts[0]);
        Assert.Empty(stored.Ciphertexts[1]);
        Assert.Equal([3], stored.Ciphertexts[2]);
    }

    [Fact]
    public async Task SaveAccumulator_Second_ReturnsFalseAndKeepsFirst()
    {
        var store = await StoreWithOpenRoundAsync();
        await store.SaveAccumulatorAsync(new AccumulatorRecord { JobId = "job-1", Round = 0, Ciphertexts = [[1]], UploadCount = 1 }, Ct);

        Assert.False(await store.SaveAccumulatorAsync(new AccumulatorRecord { JobId = "job-1", Round = 0, Ciphertexts = [[2]], UploadCount = 2 }, Ct));

        var stored = await store.GetAccumulatorAsync("job-1", 0, Ct);
        Assert.Equal(1, stored!.UploadCount);
        Assert.Equal([1], stored.Ciphertexts[0]);
    }

    [Fact]
    public async Task SaveAccumulator_Parallel_ExactlyOneTrue()
    {
        var store = await StoreWithOpenRoundAsync();

        var results = await InParallelAsync(
            32,
            i => store.SaveAccumulatorAsync(new AccumulatorRecord { JobId = "job-1", Round = 0, Ciphertexts = [[(byte)i]], UploadCount = i }, Ct));

        Assert.Single(results, r => r);
        var stored = await store.GetAccumulatorAsync("job-1", 0, Ct);
        Assert.Equal(stored!.UploadCount, stored.Ciphertexts[0][0]);
    }

    [Fact]
    public async Task GetAccumulator_Unknown_ReturnsNull()
    {
        var store = await StoreWithOpenRoundAsync();

        Assert.Null(await store.GetAccumulatorAsync("job-1", 0, Ct));
        Assert.Null(await store.GetAccumulatorAsync("job-2", 5, Ct));
    }
}
