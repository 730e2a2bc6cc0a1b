using System.Buffers.Binary;
using System.Security.Cryptography;
using PrivateHealth.Participant.Data;
using PrivateHealth.Participant.Storage;

namespace PrivateHealth.Participant.Tests;

public sealed class HealthRecordStoreTests : IDisposable
{
    private static readonly HealthRecordStoreOptions SmallChunks = new() { RecordsPerChunk = 100, FlushToDisk = false };
    private readonly TempDirectory _dir = new();
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public void Dispose() => _dir.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string StorePath => _dir.File("records.phs");

    private static List<HealthRecord> Sample(int count, int seed = 1, string source = "watch")
    {
        var random = new Random(seed);
        var start = TestFiles.Utc(2024, 1, 1);
        var records = new List<HealthRecord>(count);
        string[] metrics = [HealthMetrics.HeartRate, HealthMetrics.Steps, HealthMetrics.SleepMinutes, "custom_metric"];
        for (int i = 0; i < count; i++)
        {
            string metric = metrics[i % metrics.Length];
            var t = start.AddSeconds(37 * i);
            records.Add(new HealthRecord(metric, t, t.AddSeconds(i % 3 * 60), Math.Round(random.NextDouble() * 200, 3) + 1e-9, metric == HealthMetrics.HeartRate ? HealthUnits.CountPerMinute : "u", source));
        }

        return records;
    }

    private HealthRecordStore Open(byte[]? key = null) => HealthRecordStore.Open(StorePath, key ?? _key, SmallChunks);

    private static async Task<List<HealthRecord>> ReadAll(HealthRecordStore store) => await store.ReadAllAsync(Ct).ToListAsync(Ct);

    /// <summary>(offset, total length) of each chunk, from the framing.</summary>
    private static List<(long Offset, int Length)> Chunks(byte[] file)
    {
        var chunks = new List<(long, int)>();
        long offset = HealthRecordStore.HeaderSize;
        while (offset < file.Length)
        {
            int n = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan((int)offset));
            chunks.Add((offset, n + HealthRecordStore.ChunkOverhead));
            offset += n + HealthRecordStore.ChunkOverhead;
        }

        return chunks;
    }

    [Fact]
    public async Task BatchesAppendedAreReadBackExactlyInOrder()
    {
        var first = Sample(250);
        var second = Sample(130, seed: 2);
        await using (var store = Open())
        {
            Assert.Equal(250, await store.AppendAsync(first, Ct));
            Assert.Equal(130, await store.AppendAsync(second, Ct));
            Assert.Equal(380, store.RecordCount);
            Assert.Equal(5, store.ChunkCount); // 100+100+50, 100+30
            Assert.Equal([.. first, .. second], await ReadAll(store));
        }

        await using var reopened = Open();
        Assert.Equal(380, reopened.RecordCount);
        var back = await ReadAll(reopened);
        Assert.Equal([.. first, .. second], back);
        Assert.All(back, r => Assert.Equal(TimeSpan.Zero, r.Start.Offset));
        Assert.Equal(380, await reopened.VerifyAsync(Ct));
        Assert.Equal(0, reopened.DiscardedTailBytes);
        Assert.False(reopened.UsedPreviousCommit);
    }

    [Fact]
    public async Task QueriesFilterByMetricAndHalfOpenTimeRange()
    {
        var records = Sample(1000);
        await using var store = Open();
        await store.AppendAsync(records, Ct);
        var from = TestFiles.Utc(2024, 1, 1, 2);
        var to = TestFiles.Utc(2024, 1, 1, 5);
        var expected = records.Where(r => r.Metric == HealthMetrics.HeartRate && r.Start >= from && r.Start < to).ToList();

        var first = await store.QueryAsync(HealthMetrics.HeartRate, from, to, Ct).ToListAsync(Ct);
        var again = await store.QueryAsync(HealthMetrics.HeartRate, from, to, Ct).ToListAsync(Ct); // skips chunks by their summaries

        Assert.NotEmpty(expected);
        Assert.Equal(expected, first);
        Assert.Equal(expected, again);
        Assert.Equal(records.Where(r => r.Metric == "custom_metric"), await store.QueryAsync("custom_metric", null, null, Ct).ToListAsync(Ct));
        Assert.Equal(records.Where(r => r.Start >= to), await store.QueryAsync(null, to, null, Ct).ToListAsync(Ct));
        Assert.Empty(await store.QueryAsync("no_such_metric", null, null, Ct).ToListAsync(Ct));
    }

    [Fact]
    public async Task AWrongKeyIsRefusedWhenOpening()
    {
        await using (var store = Open())
        {
            await store.AppendAsync(Sample(10), Ct);
        }

        var e = Assert.Throws<StoreIntegrityException>(() => Open(RandomNumberGenerator.GetBytes(32)));
        Assert.Equal(StoreIntegrityFailure.WrongKeyOrModified, e.Failure);
        Assert.Throws<ArgumentException>(() => HealthRecordStore.Open(StorePath, new byte[16]));
    }

    [Theory]
    [InlineData(0)] // length prefix, still within the file: authenticated as associated data
    [InlineData(3)] // length prefix, high bit: an impossible length
    [InlineData(4)] // nonce
    [InlineData(20)] // ciphertext
    [InlineData(-1)] // tag (last byte)
    public async Task AFlippedBitInAChunkIsDetectedWhenReading(int position)
    {
        await using (var store = Open())
        {
            await store.AppendAsync(Sample(300), Ct);
        }

        byte[] file = await File.ReadAllBytesAsync(StorePath, Ct);
        var (offset, length) = Chunks(file)[1];
        file[offset + (position >= 0 ? position : length + position)] ^= position == 3 ? (byte)0x40 : (byte)0x10;
        await File.WriteAllBytesAsync(StorePath, file, Ct);

        await using var opened = Open();
        var e = await Assert.ThrowsAsync<StoreIntegrityException>(() => ReadAll(opened));
        Assert.Equal(1, e.ChunkIndex);
        Assert.Equal(position == 3 ? StoreIntegrityFailure.MalformedData : StoreIntegrityFailure.ChunkAuthenticationFailed, e.Failure);
        // the chunk before it is still readable
        Assert.Equal(100, await opened.ReadAllAsync(Ct).Take(100).CountAsync(Ct));
    }

    [Fact]
    public async Task AFlippedBitInTheHeaderIsDetectedWhenOpening()
    {
        await using (var store = Open())
        {
            await store.AppendAsync(Sample(10), Ct);
        }

        byte[] file = await File.ReadAllBytesAsync(StorePath, Ct);
        file[10] ^= 1; // store id: every commit slot's authentication covers it
        await File.WriteAllBytesAsync(StorePath, file, Ct);

        Assert.Equal(StoreIntegrityFailure.WrongKeyOrModified, Assert.Throws<StoreIntegrityException>(() => Open()).Failure);
        file[0] = (byte)'X';
        await File.WriteAllBytesAsync(StorePath, file, Ct);
        Assert.Equal(StoreIntegrityFailure.NotAStore, Assert.Throws<StoreIntegrityException>(() => Open()).Failure);
    }

    [Fact]
    public async Task ReorderedChunksFailAuthentication()
    {
        await using (var store = Open())
        {
            await store.AppendAsync(Sample(300), Ct);
        }

        byte[] file = await File.ReadAllBytesAsync(StorePath, Ct);
        var chunks = Chunks(file);
        byte[] swapped = [.. file[..(int)chunks[0].Offset], .. file.AsSpan((int)chunks[1].Offset, chunks[1].Length), .. file.AsSpan((int)chunks[0].Offset, chunks[0].Length), .. file[(int)(chunks[1].Offset + chunks[1].Length)..]];
        await File.WriteAllBytesAsync(StorePath, swapped, Ct);

        await using var opened = Open();
        var e = await Assert.ThrowsAsync<StoreIntegrityException>(() => ReadAll(opened));
        Assert.Equal(StoreIntegrityFailure.ChunkAuthenticationFailed, e.Failure);
        Assert.Equal(0, e.ChunkIndex);
    }

    [Fact]
    public async Task AChunkCopiedFromAnotherStoreWithTheSameKeyFailsAuthentication()
    {
        string otherPath = _dir.File("other.phs");
        await using (var store = Open())
        {
            await store.AppendAsync(Sample(100), Ct);
        }

        await using (var other = HealthRecordStore.Open(otherPath, _key, SmallChunks))
        {
            await other.AppendAsync(Sample(100), Ct); // same records, same index, same key
        }

        byte[] mine = await File.ReadAllBytesAsync(StorePath, Ct);
        byte[] theirs = await File.ReadAllBytesAsync(otherPath, Ct);
        Assert.Equal(mine.Length, theirs.Length);
        byte[] spliced = [.. mine[..HealthRecordStore.HeaderSize], .. theirs[HealthRecordStore.HeaderSize..]];
        await File.WriteAllBytesAsync(StorePath, spliced, Ct);

        await using var opened = Open();
        var e = await Assert.ThrowsAsync<StoreIntegrityException>(() => ReadAll(opened));
        Assert.Equal(StoreIntegrityFailure.ChunkAuthenticationFailed, e.Failure);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CuttingOffCommittedDataIsDetected(bool atChunkBoundary)
    {
        await using (var store = Open())
        {
            await store.AppendAsync(Sample(250), Ct);
        }

        byte[] file = await File.ReadAllBytesAsync(StorePath, Ct);
        var last = Chunks(file)[^1];
        int cut = atChunkBoundary ? (int)last.Offset : file.Length - 7;
        await File.WriteAllBytesAsync(StorePath, file[..cut], Ct);

        var e = Assert.Throws<StoreIntegrityException>(() => Open());
        Assert.Equal(StoreIntegrityFailure.Truncated, e.Failure);
        Assert.Contains("cut off", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATornLastChunkIsCutOffOnOpenAndCommittedDataSurvives()
    {
        var records = Sample(150);
        long committedLength;
        await using (var store = Open())
        {
            await store.AppendAsync(records, Ct);
            committedLength = store.CommittedLength;
        }

        // a crash while writing the next chunk: its length prefix, nonce and part of the ciphertext reached the disk
        byte[] partial = new byte[4 + 12 + 500];
        BinaryPrimitives.WriteInt32LittleEndian(partial, 2000);
        RandomNumberGenerator.Fill(partial.AsSpan(4));
        await using (var stream = new FileStream(StorePath, FileMode.Append))
        {
            await stream.WriteAsync(partial, Ct);
        }

        await using (var reopened = Open())
        {
            Assert.Equal(partial.Length, reopened.DiscardedTailBytes);
            Assert.Equal(committedLength, new FileInfo(StorePath).Length);
            Assert.Equal(records, await ReadAll(reopened));
            await reopened.AppendAsync(Sample(5, seed: 9), Ct); // and appending continues cleanly
        }

        await using var again = Open();
        Assert.Equal(0, again.DiscardedTailBytes);
        Assert.Equal(155, (await ReadAll(again)).Count);
    }

    [Fact]
    public async Task AnAppendWhoseCommitNeverReachedTheDiskIsDroppedAsAWhole()
    {
        var kept = Sample(120);
        byte[] headerAfterFirstAppend;
        await using (var store = Open())
        {
            await store.AppendAsync(kept, Ct);
        }

        headerAfterFirstAppend = (await File.ReadAllBytesAsync(StorePath, Ct))[..HealthRecordStore.HeaderSize];
        await using (var store = Open())
        {
            await store.AppendAsync(Sample(250, seed: 3), Ct);
        }

        // crash after the second append's chunks were written but before its commit record: old header, new chunks
        byte[] file = await File.ReadAllBytesAsync(StorePath, Ct);
        headerAfterFirstAppend.CopyTo(file, 0);
        await File.WriteAllBytesAsync(StorePath, file, Ct);

        await using var reopened = Open();
        Assert.Equal(120, reopened.RecordCount);
        Assert.True(reopened.DiscardedTailBytes > 250 * 20);
        Assert.Equal(kept, await ReadAll(reopened));
    }

    [Fact]
    public async Task ADamagedNewestCommitRecordFallsBackToThePreviousCommit()
    {
        await using (var store = Open())
        {
            await store.AppendAsync(Sample(50), Ct);
            await store.AppendAsync(Sample(60, seed: 4), Ct); // sequence 3, written to slot 0
        }

        byte[] file = await File.ReadAllBytesAsync(StorePath, Ct);
        file[HealthRecordStore.PreambleSize + 40] ^= 0xFF; // torn write of slot 0
        await File.WriteAllBytesAsync(StorePath, file, Ct);

        await using (var reopened = Open())
        {
            Assert.True(reopened.UsedPreviousCommit);
            Assert.Equal(50, reopened.RecordCount);
            Assert.Equal(Sample(50), await ReadAll(reopened));
        }

        file = await File.ReadAllBytesAsync(StorePath, Ct);
        file[HealthRecordStore.PreambleSize + HealthRecordStore.SlotSize + 40] ^= 0xFF; // now both slots are damaged
        await File.WriteAllBytesAsync(StorePath, file, Ct);
        Assert.Equal(StoreIntegrityFailure.WrongKeyOrModified, Assert.Throws<StoreIntegrityException>(() => Open()).Failure);
    }

    [Fact]
    public async Task ACancelledAppendCommitsNothingAndTheStoreStaysUsable()
    {
        await using var store = Open();
        await store.AppendAsync(Sample(10), Ct);
        using var cts = new CancellationTokenSource();
        IEnumerable<HealthRecord> Endless()
        {
            foreach (var r in Sample(1000, seed: 5))
            {
                yield return r;
            }

            cts.Cancel();
            yield return Sample(1)[0];
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.AppendAsync(Endless(), cts.Token));

        Assert.Equal(10, store.RecordCount);
        Assert.Equal(store.CommittedLength, new FileInfo(StorePath).Length);
        await store.AppendAsync(Sample(3, seed: 6), Ct);
        Assert.Equal(13, (await ReadAll(store)).Count);
    }

    [Fact]
    public async Task DisposingWaitsForTheRunningAppendAndFailsTheWaitingOnes()
    {
        var store = Open();
        using var holding = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        IEnumerable<HealthRecord> Slow()
        {
            holding.Release(); // the append holds the write lock while it enumerates
            release.Wait(Ct);
            yield return Sample(1)[0];
        }

        var running = Task.Run(() => store.AppendAsync(Slow(), Ct), Ct);
        await holding.WaitAsync(Ct);
        var waiting = store.AppendAsync(Sample(2, seed: 8), Ct);
        var disposing = Task.Run(store.Dispose, Ct);
        release.Release();

        Assert.Equal(1, await running.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        await disposing.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        try
        {
            Assert.Equal(2, await waiting.WaitAsync(TimeSpan.FromSeconds(10), Ct)); // it got the lock before Dispose
        }
        catch (ObjectDisposedException)
        {
            // Dispose got the lock first
        }

        Assert.Throws<ObjectDisposedException>(() => store.ReadAllAsync(Ct).GetAsyncEnumerator(Ct).MoveNextAsync().AsTask().GetAwaiter().GetResult());
        await using var reopened = Open();
        Assert.True(reopened.RecordCount is 1 or 3);
    }

    [Fact]
    public async Task AnEmptyAppendWritesNothing()
    {
        await using var store = Open();
        long length = store.CommittedLength;

        Assert.Equal(0, await store.AppendAsync([], Ct));
        Assert.Equal(length, new FileInfo(StorePath).Length);
        Assert.Empty(await ReadAll(store));
    }

    [Fact]
    public async Task OneProcessOwnsTheStoreFile()
    {
        await using var store = Open();

        Assert.Throws<IOException>(() => Open());
    }

    [Fact]
    public async Task TheFileIsReadableByItsOwnerOnlyAndHoldsNoPlaintext()
    {
        await using (var store = Open())
        {
            await store.AppendAsync([new HealthRecord("very_private_metric", TestFiles.Utc(2024, 1, 1), TestFiles.Utc(2024, 1, 1), 42, "u", "Alice's Watch")], Ct);
        }

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(StorePath));
        }

        string raw = System.Text.Encoding.Latin1.GetString(await File.ReadAllBytesAsync(StorePath, Ct));
        Assert.DoesNotContain("very_private_metric", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("Alice", raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadsSeeTheCommitCurrentWhenTheyStarted()
    {
        await using var store = Open();
        await store.AppendAsync(Sample(150), Ct);

        int seen = 0;
        await foreach (var _ in store.ReadAllAsync(Ct))
        {
            if (seen++ == 0)
            {
                await store.AppendAsync(Sample(100, seed: 7), Ct);
            }
        }

        Assert.Equal(150, seen);
        Assert.Equal(250, (await ReadAll(store)).Count);
    }

    [Fact]
    public async Task AnImporterStreamsStraightIntoTheStore()
    {
        await using var store = Open();
        var report = new ImportReport();
        await using var stream = TestFiles.Open("apple_health_export.xml");

        long added = await store.AppendAsync(new AppleHealthImporter().Read(stream, report, null, Ct), Ct);

        Assert.Equal(12, added);
        Assert.Equal(8, report.IssueCount);
        Assert.Equal(4, await store.QueryAsync(HealthMetrics.SleepMinutes, null, null, Ct).CountAsync(Ct));
    }
}
