using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using PrivateHealth.Participant.Data;

namespace PrivateHealth.Participant.Storage;

/// <summary>Options of <see cref="HealthRecordStore"/>.</summary>
public sealed class HealthRecordStoreOptions
{
    /// <summary>Records per encrypted chunk (about 22 bytes each in plaintext): the unit of encryption, of reading and
    /// of skipping in queries.</summary>
    public int RecordsPerChunk { get; init; } = 4096;

    /// <summary>Flush to stable storage (fsync) before and after writing each commit record. Turn off only in tests.</summary>
    public bool FlushToDisk { get; init; } = true;
}

/// <summary>
/// The participant's health records, encrypted at rest with AES-256-GCM in one append-only file.
/// </summary>
/// <remarks>
/// <para>Layout (all integers little-endian):</para>
/// <code>
/// 0    preamble (32 B)  "PHRS" ‖ u16 version = 1 ‖ u16 0 ‖ store id (16 random bytes) ‖ 8 B zero
/// 32   commit slot 0 (64 B) ┐ u64 sequence ‖ u64 chunk count ‖ u64 data end offset ‖ u64 record count
/// 96   commit slot 1 (64 B) ┘ ‖ nonce (12) ‖ GCM tag (16) over empty plaintext, AD = preamble ‖ the 32 bytes ‖ 4 B zero
/// 160  chunk 0, chunk 1, …  each u32 n ‖ nonce (12) ‖ ciphertext (n) ‖ tag (16),
///                          AD = store id ‖ u64 chunk index ‖ u32 n ‖ u16 version
/// </code>
/// <para>The AES key is HKDF-SHA256(agent key, salt = store id, info = "PrivateHealth.Participant.HealthRecordStore/v1").
/// Nonces are random. The associated data binds every chunk to its position and its store, so a chunk moved, swapped
/// or copied from another store fails authentication; the authenticated commit record fixes how many chunks and bytes
/// are committed, so cutting committed data off is detected (<see cref="StoreIntegrityFailure.Truncated"/>).</para>
/// <para>An append writes its chunks after the committed end, flushes, then writes the next commit record into the
/// other slot (higher sequence) and flushes again. A crash before the commit record is durable leaves the previous
/// commit in force: on open the bytes after the committed end (a torn chunk, or whole chunks of the interrupted
/// append) are cut off and counted in <see cref="DiscardedTailBytes"/>. Each <see cref="AppendAsync"/> is therefore
/// atomic. What it cannot detect: replacing the whole file by an older copy of itself (rollback), and — like a crash
/// during a commit — damage to the newest commit slot, which falls back to the previous commit
/// (<see cref="UsedPreviousCommit"/>).</para>
/// <para>One process owns the file (opened exclusively); reads may run concurrently with one append and see the
/// commit that was current when they started.</para>
/// </remarks>
public sealed class HealthRecordStore : IDisposable, IAsyncDisposable
{
    internal const int PreambleSize = 32;
    internal const int SlotSize = 64;
    internal const int HeaderSize = PreambleSize + (2 * SlotSize);
    internal const int FrameHeaderSize = 4 + StoreCrypto.NonceSize;
    internal const int ChunkOverhead = FrameHeaderSize + StoreCrypto.TagSize;
    internal const int MaxChunkPayload = 64 << 20;
    private const ushort Version = 1;
    private static ReadOnlySpan<byte> Magic => "PHRS"u8;
    private static ReadOnlySpan<byte> KeyPurpose => "PrivateHealth.Participant.HealthRecordStore/v1"u8;

    private readonly SafeFileHandle _handle;
    private readonly byte[] _key;
    private readonly byte[] _preamble;
    private readonly byte[] _storeId;
    private readonly HealthRecordStoreOptions _options;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly List<ChunkEntry> _catalog = [];
    private volatile Commit _committed;
    private bool _faulted;
    private int _disposed;

    private sealed record Commit(long Sequence, int Slot, long ChunkCount, long DataEnd, long RecordCount);

    /// <summary>Where chunk i is (learnt by reading or appending it) and, once decoded, what it holds.</summary>
    private sealed class ChunkEntry(long offset, int payloadLength)
    {
        public long Offset { get; } = offset;
        public int PayloadLength { get; } = payloadLength;
        public long End => Offset + ChunkOverhead + PayloadLength;
        public ChunkSummary? Summary { get; set; }
    }

    private HealthRecordStore(string path, SafeFileHandle handle, byte[] key, byte[] preamble, Commit committed, HealthRecordStoreOptions options)
    {
        Path = path;
        _handle = handle;
        _key = key;
        _preamble = preamble;
        _storeId = preamble[8..24];
        _committed = committed;
        _options = options;
    }

    public string Path { get; }

    /// <summary>The store's random id (bound into every chunk and into the key derivation).</summary>
    public Guid StoreId => new(_storeId);

    /// <summary>Committed records.</summary>
    public long RecordCount => _committed.RecordCount;

    /// <summary>Committed chunks.</summary>
    public long ChunkCount => _committed.ChunkCount;

    /// <summary>Committed file length in bytes.</summary>
    public long CommittedLength => _committed.DataEnd;

    /// <summary>Bytes after the committed end cut off when opening (an append interrupted by a crash); 0 normally.</summary>
    public long DiscardedTailBytes { get; private set; }

    /// <summary>The newest commit slot failed authentication when opening and the previous commit was used (a crash
    /// while writing a commit record, or damage to it).</summary>
    public bool UsedPreviousCommit { get; private set; }

    /// <summary>
    /// Opens the store at <paramref name="path"/>, creating it (mode 0600) when missing. Checks the key and the commit
    /// record, and cuts off an interrupted append. Throws <see cref="StoreIntegrityException"/> for a wrong key, a
    /// tampered header, a truncated file or a file that is not a record store, and <see cref="IOException"/> when the
    /// file is already open.
    /// </summary>
    /// <param name="path">Store file.</param>
    /// <param name="key">The agent's 32-byte key (see <see cref="LocalKeyFile"/>); copied, not retained.</param>
    /// <param name="options">Chunk size and durability.</param>
    public static HealthRecordStore Open(string path, ReadOnlySpan<byte> key, HealthRecordStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        StoreCrypto.CheckKey(key);
        options ??= new HealthRecordStoreOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.RecordsPerChunk, 1, nameof(options.RecordsPerChunk));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.RecordsPerChunk, 1 << 20, nameof(options.RecordsPerChunk));
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path))
        {
            CreateFile(path, key);
        }

        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        byte[]? fileKey = null;
        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length < HeaderSize)
            {
                throw new StoreIntegrityException(StoreIntegrityFailure.NotAStore, $"'{path}' is {length} bytes, shorter than a record store header.");
            }

            byte[] header = new byte[HeaderSize];
            ReadExactly(handle, header, 0);
            byte[] preamble = header[..PreambleSize];
            if (!preamble.AsSpan(0, 4).SequenceEqual(Magic))
            {
                throw new StoreIntegrityException(StoreIntegrityFailure.NotAStore, $"'{path}' is not a health record store.");
            }

            ushort version = BinaryPrimitives.ReadUInt16LittleEndian(preamble.AsSpan(4));
            if (version != Version)
            {
                throw new StoreIntegrityException(StoreIntegrityFailure.NotAStore, $"'{path}' is a record store of version {version}; this code reads version {Version}.");
            }

            fileKey = StoreCrypto.DeriveFileKey(key, preamble.AsSpan(8, 16), KeyPurpose);
            Commit? best = null;
            bool damagedSlot = false;
            using (var aes = new AesGcm(fileKey, StoreCrypto.TagSize))
            {
                for (int slot = 0; slot < 2; slot++)
                {
                    var bytes = header.AsSpan(PreambleSize + (slot * SlotSize), SlotSize);
                    if (!bytes.ContainsAnyExcept((byte)0))
                    {
                        continue; // never written
                    }

                    var commit = VerifySlot(aes, preamble, bytes, slot);
                    if (commit is null)
                    {
                        damagedSlot = true;
                    }
                    else if (best is null || commit.Sequence > best.Sequence)
                    {
                        best = commit;
                    }
                }
            }

            if (best is null)
            {
                throw new StoreIntegrityException(StoreIntegrityFailure.WrongKeyOrModified,
                    $"The commit records of '{path}' fail authentication: the key is wrong or the header was modified.");
            }

            if (length < best.DataEnd)
            {
                throw new StoreIntegrityException(StoreIntegrityFailure.Truncated,
                    $"'{path}' is {length} bytes but its last commit covers {best.DataEnd} bytes ({best.ChunkCount} chunks): committed data was cut off.",
                    fileOffset: length);
            }

            var store = new HealthRecordStore(path, handle, fileKey, preamble, best, options)
            {
                UsedPreviousCommit = damagedSlot,
                DiscardedTailBytes = length - best.DataEnd,
            };
            if (length > best.DataEnd)
            {
                RandomAccess.SetLength(handle, best.DataEnd);
                RandomAccess.FlushToDisk(handle);
            }

            return store;
        }
        catch
        {
            if (fileKey is not null)
            {
                CryptographicOperations.ZeroMemory(fileKey);
            }

            handle.Dispose();
            throw;
        }
    }

    private static void CreateFile(string path, ReadOnlySpan<byte> key)
    {
        byte[] header = new byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), Version);
        RandomNumberGenerator.Fill(header.AsSpan(8, 16));
        byte[] fileKey = StoreCrypto.DeriveFileKey(key, header.AsSpan(8, 16), KeyPurpose);
        try
        {
            using var aes = new AesGcm(fileKey, StoreCrypto.TagSize);
            WriteSlotBytes(aes, header.AsSpan(0, PreambleSize), new Commit(1, 0, 0, HeaderSize, 0), header.AsSpan(PreambleSize, SlotSize));
            SecureFile.WriteAtomically(path, header, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            // created concurrently by someone else: open theirs
        }
        finally
        {
            CryptographicOperations.ZeroMemory(fileKey);
        }
    }

    private static void WriteSlotBytes(AesGcm aes, ReadOnlySpan<byte> preamble, Commit commit, Span<byte> slot)
    {
        slot.Clear();
        BinaryPrimitives.WriteInt64LittleEndian(slot, commit.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(slot[8..], commit.ChunkCount);
        BinaryPrimitives.WriteInt64LittleEndian(slot[16..], commit.DataEnd);
        BinaryPrimitives.WriteInt64LittleEndian(slot[24..], commit.RecordCount);
        RandomNumberGenerator.Fill(slot.Slice(32, StoreCrypto.NonceSize));
        Span<byte> ad = stackalloc byte[PreambleSize + 32];
        preamble.CopyTo(ad);
        slot[..32].CopyTo(ad[PreambleSize..]);
        aes.Encrypt(slot.Slice(32, StoreCrypto.NonceSize), [], [], slot.Slice(44, StoreCrypto.TagSize), ad);
    }

    private static Commit? VerifySlot(AesGcm aes, ReadOnlySpan<byte> preamble, ReadOnlySpan<byte> slot, int index)
    {
        Span<byte> ad = stackalloc byte[PreambleSize + 32];
        preamble.CopyTo(ad);
        slot[..32].CopyTo(ad[PreambleSize..]);
        try
        {
            aes.Decrypt(slot.Slice(32, StoreCrypto.NonceSize), [], slot.Slice(44, StoreCrypto.TagSize), [], ad);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }

        var commit = new Commit(
            BinaryPrimitives.ReadInt64LittleEndian(slot),
            index,
            BinaryPrimitives.ReadInt64LittleEndian(slot[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(slot[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(slot[24..]));
        if (commit.Sequence < 1 || commit.ChunkCount < 0 || commit.DataEnd < HeaderSize || commit.RecordCount < 0
            || commit.DataEnd - HeaderSize < commit.ChunkCount * ChunkOverhead)
        {
            throw new StoreIntegrityException(StoreIntegrityFailure.MalformedData, $"Commit slot {index} is authentic but inconsistent.");
        }

        return commit;
    }

    /// <summary>
    /// Appends <paramref name="records"/> (enumerated once, lazily: an importer's stream can be passed directly) in
    /// encrypted chunks after the committed end, then commits them all at once. Atomic: after a crash either all of
    /// them or none are in the store. Returns the number appended (0 writes nothing).
    /// </summary>
    public async Task<long> AppendAsync(IEnumerable<HealthRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        ThrowIfUnusable();
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfUnusable();
            var before = _committed;
            var written = new List<(ChunkEntry Entry, ChunkSummary Summary)>();
            long offset = before.DataEnd;
            long added = 0;
            bool committing = false;
            try
            {
                using var aes = new AesGcm(_key, StoreCrypto.TagSize);
                var codec = new RecordChunkCodec();
                var plaintext = new ArrayBufferWriter<byte>(_options.RecordsPerChunk * 24);
                var pending = new List<HealthRecord>(Math.Min(_options.RecordsPerChunk, 65536));
                byte[] frame = [];
                try
                {
                    using var e = records.GetEnumerator();
                    bool more = true;
                    while (more)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        more = e.MoveNext();
                        if (more)
                        {
                            pending.Add(e.Current ?? throw new ArgumentException("The records contain null.", nameof(records)));
                        }

                        if (pending.Count == _options.RecordsPerChunk || (!more && pending.Count > 0))
                        {
                            plaintext.ResetWrittenCount();
                            codec.Encode(pending, plaintext);
                            long index = before.ChunkCount + written.Count;
                            int n = plaintext.WrittenCount;
                            if (frame.Length < n + ChunkOverhead)
                            {
                                if (frame.Length > 0)
                                {
                                    ArrayPool<byte>.Shared.Return(frame, clearArray: true);
                                }

                                frame = ArrayPool<byte>.Shared.Rent(n + ChunkOverhead);
                            }

                            SealChunk(aes, index, plaintext.WrittenSpan, frame.AsSpan(0, n + ChunkOverhead));
                            await RandomAccess.WriteAsync(_handle, frame.AsMemory(0, n + ChunkOverhead), offset, cancellationToken).ConfigureAwait(false);
                            written.Add((new ChunkEntry(offset, n), RecordChunkCodec.Summarize(pending)));
                            offset += n + ChunkOverhead;
                            added += pending.Count;
                            pending.Clear();
                        }
                    }
                }
                finally
                {
                    plaintext.Clear();
                    if (frame.Length > 0)
                    {
                        ArrayPool<byte>.Shared.Return(frame, clearArray: true);
                    }
                }

                if (added == 0)
                {
                    return 0;
                }

                if (_options.FlushToDisk)
                {
                    RandomAccess.FlushToDisk(_handle);
                }

                var next = new Commit(before.Sequence + 1, 1 - before.Slot, before.ChunkCount + written.Count, offset, before.RecordCount + added);
                byte[] slot = new byte[SlotSize];
                WriteSlotBytes(aes, _preamble, next, slot);
                committing = true;
                RandomAccess.Write(_handle, slot, PreambleSize + (next.Slot * SlotSize));
                if (_options.FlushToDisk)
                {
                    RandomAccess.FlushToDisk(_handle);
                }

                lock (_catalog)
                {
                    if (_catalog.Count == before.ChunkCount)
                    {
                        foreach (var (entry, summary) in written)
                        {
                            entry.Summary = summary;
                            _catalog.Add(entry);
                        }
                    }
                }

                _committed = next;
                return added;
            }
            catch when (!committing)
            {
                // nothing was committed: drop whatever was written after the committed end
                TryTruncate(before.DataEnd);
                throw;
            }
            catch
            {
                // the commit record may or may not be on disk: only reopening can tell
                _faulted = true;
                throw;
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void TryTruncate(long length)
    {
        try
        {
            RandomAccess.SetLength(_handle, length);
        }
        catch (IOException)
        {
            // the next open cuts the tail off
        }
    }

    private void SealChunk(AesGcm aes, long index, ReadOnlySpan<byte> plaintext, Span<byte> frame)
    {
        int n = plaintext.Length;
        BinaryPrimitives.WriteInt32LittleEndian(frame, n);
        var nonce = frame.Slice(4, StoreCrypto.NonceSize);
        RandomNumberGenerator.Fill(nonce);
        Span<byte> ad = stackalloc byte[30];
        ChunkAssociatedData(index, n, ad);
        aes.Encrypt(nonce, plaintext, frame.Slice(FrameHeaderSize, n), frame.Slice(FrameHeaderSize + n, StoreCrypto.TagSize), ad);
    }

    private void ChunkAssociatedData(long index, int length, Span<byte> ad)
    {
        _storeId.CopyTo(ad);
        BinaryPrimitives.WriteInt64LittleEndian(ad[16..], index);
        BinaryPrimitives.WriteInt32LittleEndian(ad[24..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(ad[28..], Version);
    }

    /// <summary>Every committed record, in append order, decrypted one chunk at a time.</summary>
    public IAsyncEnumerable<HealthRecord> ReadAllAsync(CancellationToken cancellationToken = default) =>
        QueryAsync(null, null, null, cancellationToken);

    /// <summary>
    /// Committed records of <paramref name="metric"/> (null: all) whose <see cref="HealthRecord.Start"/> lies in
    /// [<paramref name="from"/>, <paramref name="to"/>) (null: unbounded), in append order. Chunks already decoded once
    /// are skipped without decryption when they cannot match. A chunk failing authentication throws
    /// <see cref="StoreIntegrityException"/> when it is reached.
    /// </summary>
    public async IAsyncEnumerable<HealthRecord> QueryAsync(string? metric, DateTimeOffset? from, DateTimeOffset? to,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ThrowIfUnusable();
        var commit = _committed;
        long fromTicks = from?.UtcTicks ?? long.MinValue;
        long toTicks = to?.UtcTicks ?? long.MaxValue;
        var records = new List<HealthRecord>();
        var strings = new Dictionary<string, string>(StringComparer.Ordinal);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        byte[] plain = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            using var aes = new AesGcm(_key, StoreCrypto.TagSize);
            long offset = HeaderSize;
            for (long i = 0; i < commit.ChunkCount; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var entry = await LocateChunkAsync(i, offset, commit, buffer, cancellationToken).ConfigureAwait(false);
                if (entry.Summary is { } known && !known.MayMatch(metric, fromTicks, toTicks))
                {
                    offset = entry.End;
                    continue;
                }

                int frameLength = entry.PayloadLength + ChunkOverhead;
                if (buffer.Length < frameLength)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(frameLength);
                }

                if (plain.Length < entry.PayloadLength)
                {
                    ArrayPool<byte>.Shared.Return(plain, clearArray: true);
                    plain = ArrayPool<byte>.Shared.Rent(entry.PayloadLength);
                }

                await ReadExactlyAsync(buffer.AsMemory(0, frameLength), entry.Offset, commit, i, cancellationToken).ConfigureAwait(false);
                records.Clear();
                OpenChunk(aes, i, entry, buffer.AsSpan(0, frameLength), plain.AsSpan(0, entry.PayloadLength), records, strings);
                offset = entry.End;
                foreach (var r in records)
                {
                    long start = r.Start.UtcTicks;
                    if ((metric is null || r.Metric == metric) && start >= fromTicks && start < toTicks)
                    {
                        yield return r;
                    }
                }
            }

            if (offset != commit.DataEnd)
            {
                throw new StoreIntegrityException(StoreIntegrityFailure.MalformedData,
                    $"The {commit.ChunkCount} committed chunks end at byte {offset}, the commit record says {commit.DataEnd}.", fileOffset: offset);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<byte>.Shared.Return(plain, clearArray: true);
        }
    }

    /// <summary>Decrypts every committed chunk and checks the record count; returns the number of records.</summary>
    public async Task<long> VerifyAsync(CancellationToken cancellationToken = default)
    {
        var commit = _committed;
        long count = 0;
        await foreach (var _ in ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            count++;
            if (count == commit.RecordCount)
            {
                break;
            }
        }

        if (count != commit.RecordCount)
        {
            throw new StoreIntegrityException(StoreIntegrityFailure.MalformedData, $"The chunks hold {count} records, the commit record says {commit.RecordCount}.");
        }

        return count;
    }

    private void OpenChunk(AesGcm aes, long index, ChunkEntry entry, ReadOnlySpan<byte> frame, Span<byte> plaintext, List<HealthRecord> into, Dictionary<string, string> strings)
    {
        int n = entry.PayloadLength;
        Span<byte> ad = stackalloc byte[30];
        ChunkAssociatedData(index, n, ad);
        try
        {
            aes.Decrypt(frame.Slice(4, StoreCrypto.NonceSize), frame.Slice(FrameHeaderSize, n), frame.Slice(FrameHeaderSize + n, StoreCrypto.TagSize), plaintext, ad);
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new StoreIntegrityException(StoreIntegrityFailure.ChunkAuthenticationFailed,
                $"Chunk {index} at byte {entry.Offset} of '{Path}' fails authentication: it was modified, moved or copied from another store.",
                index, entry.Offset, e);
        }

        try
        {
            RecordChunkCodec.Decode(plaintext, into, strings);
        }
        catch (InvalidDataException e)
        {
            throw new StoreIntegrityException(StoreIntegrityFailure.MalformedData, $"Chunk {index} at byte {entry.Offset} is authentic but does not decode: {e.Message}", index, entry.Offset, e);
        }
        finally
        {
            plaintext.Clear();
        }

        if (entry.Summary is null && into.Count > 0)
        {
            entry.Summary = RecordChunkCodec.Summarize(into);
        }
    }

    /// <summary>The catalog entry of chunk <paramref name="index"/>, reading its frame header when not yet known.</summary>
    private async ValueTask<ChunkEntry> LocateChunkAsync(long index, long offset, Commit commit, byte[] scratch, CancellationToken cancellationToken)
    {
        lock (_catalog)
        {
            if (index < _catalog.Count)
            {
                return _catalog[(int)index];
            }
        }

        if (offset + ChunkOverhead > commit.DataEnd)
        {
            throw new StoreIntegrityException(StoreIntegrityFailure.MalformedData,
                $"Chunk {index} would start at byte {offset}, past the committed data ({commit.DataEnd} bytes).", index, offset);
        }

        await ReadExactlyAsync(scratch.AsMemory(0, 4), offset, commit, index, cancellationToken).ConfigureAwait(false);
        int n = BinaryPrimitives.ReadInt32LittleEndian(scratch);
        if (n < 0 || n > MaxChunkPayload || offset + ChunkOverhead + n > commit.DataEnd)
        {
            throw new StoreIntegrityException(StoreIntegrityFailure.MalformedData,
                $"Chunk {index} at byte {offset} has an impossible length {n} (the file was modified).", index, offset);
        }

        var entry = new ChunkEntry(offset, n);
        lock (_catalog)
        {
            if (index == _catalog.Count)
            {
                _catalog.Add(entry);
            }
        }

        return entry;
    }

    private async ValueTask ReadExactlyAsync(Memory<byte> destination, long offset, Commit commit, long chunk, CancellationToken cancellationToken)
    {
        while (!destination.IsEmpty)
        {
            int n = await RandomAccess.ReadAsync(_handle, destination, offset, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new StoreIntegrityException(StoreIntegrityFailure.Truncated,
                    $"'{Path}' ends at byte {offset} inside chunk {chunk}; the commit covers {commit.DataEnd} bytes.", chunk, offset);
            }

            destination = destination[n..];
            offset += n;
        }
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(handle, destination, offset);
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            destination = destination[n..];
            offset += n;
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_faulted)
        {
            throw new InvalidOperationException($"A commit to '{Path}' failed part-way; dispose the store and open it again.");
        }
    }

    /// <summary>Waits for an append in progress, then closes the file and zeroes the key. Appends waiting behind it
    /// and later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _writeLock.Wait();
        Close();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _writeLock.WaitAsync().ConfigureAwait(false);
        Close();
    }

    private void Close()
    {
        try
        {
            _handle.Dispose();
            CryptographicOperations.ZeroMemory(_key);
        }
        finally
        {
            // not disposed: waiting appends must still acquire it to see the store is disposed
            _writeLock.Release();
        }
    }
}
