using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace PrivateHealth.Participant.Storage;

/// <summary>
/// A small encrypted name → bytes map in one file, for secrets of other components (a custodian's threshold share,
/// the chain key, the consent ledger). Every change rewrites the whole file atomically (temporary file, flush,
/// rename), so a crash leaves the previous or the new content.
/// </summary>
/// <remarks>
/// <para>File: <c>"PHSS" ‖ u16 version = 1 ‖ u16 0 ‖ file id (16 random bytes) ‖ u64 generation ‖ nonce (12) ‖
/// ciphertext ‖ GCM tag (16)</c>, the first 32 bytes as associated data, the AES-256 key HKDF-SHA256(agent key, salt =
/// file id, info = "PrivateHealth.Participant.EncryptedSecretStore/v1"). Plaintext: <c>varint count</c>, then per
/// entry (sorted by name) <c>varint length ‖ UTF-8 name ‖ varint length ‖ value</c>. Mode 0600.</para>
/// <para>Thread-safe within a process; one process should own the file (the last writer wins). Values are copied in
/// and out; the store zeroes its copies when values are replaced, removed, or the store is disposed.</para>
/// </remarks>
public sealed class EncryptedSecretStore : IDisposable
{
    private const ushort Version = 1;
    private const int HeaderSize = 32;
    private const int MaxFileBytes = 64 << 20;
    private const int MaxNameBytes = 1024;
    private static ReadOnlySpan<byte> Magic => "PHSS"u8;
    private static ReadOnlySpan<byte> KeyPurpose => "PrivateHealth.Participant.EncryptedSecretStore/v1"u8;

    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, byte[]> _entries = new(StringComparer.Ordinal);
    private readonly byte[] _fileId;
    private readonly byte[] _key;
    private ulong _generation;
    private bool _disposed;

    private EncryptedSecretStore(string path, byte[] fileId, byte[] key)
    {
        Path = path;
        _fileId = fileId;
        _key = key;
    }

    public string Path { get; }

    /// <summary>
    /// Opens (reads and decrypts) the file at <paramref name="path"/>, or starts an empty store if it does not exist
    /// (the file is written on the first change). Throws <see cref="StoreIntegrityException"/> for a wrong key or a
    /// modified file.
    /// </summary>
    public static EncryptedSecretStore Open(string path, ReadOnlySpan<byte> key)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        StoreCrypto.CheckKey(key);
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path))
        {
            byte[] id = RandomNumberGenerator.GetBytes(16);
            return new EncryptedSecretStore(path, id, StoreCrypto.DeriveFileKey(key, id, KeyPurpose));
        }

        byte[] file;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            if (stream.Length is < HeaderSize + StoreCrypto.NonceSize + StoreCrypto.TagSize or > MaxFileBytes)
            {
                throw new StoreIntegrityException(StoreIntegrityFailure.NotAStore, $"'{path}' ({stream.Length} bytes) is not a secret store.");
            }

            file = new byte[stream.Length];
            stream.ReadExactly(file);
        }

        if (!file.AsSpan(0, 4).SequenceEqual(Magic))
        {
            throw new StoreIntegrityException(StoreIntegrityFailure.NotAStore, $"'{path}' is not a secret store.");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(4));
        if (version != Version)
        {
            throw new StoreIntegrityException(StoreIntegrityFailure.NotAStore, $"'{path}' is a secret store of version {version}; this code reads version {Version}.");
        }

        byte[] fileId = file[8..24];
        byte[] fileKey = StoreCrypto.DeriveFileKey(key, fileId, KeyPurpose);
        var store = new EncryptedSecretStore(path, fileId, fileKey) { _generation = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(24)) };
        int n = file.Length - HeaderSize - StoreCrypto.NonceSize - StoreCrypto.TagSize;
        byte[] plaintext = new byte[n];
        try
        {
            using (var aes = new AesGcm(fileKey, StoreCrypto.TagSize))
            {
                aes.Decrypt(file.AsSpan(HeaderSize, StoreCrypto.NonceSize), file.AsSpan(HeaderSize + StoreCrypto.NonceSize, n),
                    file.AsSpan(file.Length - StoreCrypto.TagSize), plaintext, file.AsSpan(0, HeaderSize));
            }

            store.Decode(plaintext);
            return store;
        }
        catch (AuthenticationTagMismatchException e)
        {
            store.Dispose();
            throw new StoreIntegrityException(StoreIntegrityFailure.WrongKeyOrModified,
                $"'{path}' fails authentication: the key is wrong or the file was modified.", innerException: e);
        }
        catch (InvalidDataException e)
        {
            store.Dispose();
            throw new StoreIntegrityException(StoreIntegrityFailure.MalformedData, $"'{path}' is authentic but does not decode: {e.Message}", innerException: e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private void Decode(ReadOnlySpan<byte> plaintext)
    {
        var reader = new BinaryReading(plaintext);
        int count = reader.ReadLength(plaintext.Length / 2);
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString(MaxNameBytes);
            byte[] value = reader.ReadBytes(plaintext.Length).ToArray();
            if (!_entries.TryAdd(name, value))
            {
                throw new InvalidDataException($"Duplicate entry '{name}'.");
            }
        }

        reader.ExpectEnd();
    }

    /// <summary>Names of the stored entries, sorted (ordinal).</summary>
    public IReadOnlyList<string> Names
    {
        get
        {
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return [.. _entries.Keys];
            }
        }
    }

    /// <summary>How many times the file has been written (stored in it, informational).</summary>
    public ulong Generation
    {
        get
        {
            lock (_lock)
            {
                return _generation;
            }
        }
    }

    public bool Contains(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _entries.ContainsKey(name);
        }
    }

    /// <summary>A copy of the value stored under <paramref name="name"/>, or null.</summary>
    public byte[]? Get(string name) => TryGet(name, out var value) ? value : null;

    public bool TryGet(string name, [NotNullWhen(true)] out byte[]? value)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_entries.TryGetValue(name, out var stored))
            {
                value = stored.ToArray();
                return true;
            }

            value = null;
            return false;
        }
    }

    /// <summary>Stores a copy of <paramref name="value"/> under <paramref name="name"/> and rewrites the file.</summary>
    public void Set(string name, ReadOnlySpan<byte> value)
    {
        CheckName(name);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _entries.TryGetValue(name, out var previous);
            _entries[name] = value.ToArray();
            try
            {
                Persist();
            }
            catch
            {
                CryptographicOperations.ZeroMemory(_entries[name]);
                if (previous is null)
                {
                    _entries.Remove(name);
                }
                else
                {
                    _entries[name] = previous;
                }

                throw;
            }

            if (previous is not null)
            {
                CryptographicOperations.ZeroMemory(previous);
            }
        }
    }

    /// <summary>Removes <paramref name="name"/> and rewrites the file; false when there was no such entry.</summary>
    public bool Remove(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_entries.Remove(name, out var previous))
            {
                return false;
            }

            try
            {
                Persist();
            }
            catch
            {
                _entries[name] = previous;
                throw;
            }

            CryptographicOperations.ZeroMemory(previous);
            return true;
        }
    }

    private static void CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (System.Text.Encoding.UTF8.GetByteCount(name) > MaxNameBytes || name.Any(char.IsControl))
        {
            throw new ArgumentException($"A secret name is at most {MaxNameBytes} UTF-8 bytes without control characters.", nameof(name));
        }
    }

    private void Persist()
    {
        var plaintext = new ArrayBufferWriter<byte>();
        try
        {
            plaintext.WriteVarUInt((ulong)_entries.Count);
            foreach (var (name, value) in _entries)
            {
                plaintext.WriteString(name);
                plaintext.WriteBytes(value);
            }

            int n = plaintext.WrittenCount;
            if (n + HeaderSize + StoreCrypto.NonceSize + StoreCrypto.TagSize > MaxFileBytes)
            {
                throw new InvalidOperationException($"The secret store would exceed {MaxFileBytes} bytes.");
            }

            byte[] file = new byte[HeaderSize + StoreCrypto.NonceSize + n + StoreCrypto.TagSize];
            ulong generation = _generation + 1;
            Magic.CopyTo(file);
            BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(4), Version);
            _fileId.CopyTo(file, 8);
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(24), generation);
            var nonce = file.AsSpan(HeaderSize, StoreCrypto.NonceSize);
            RandomNumberGenerator.Fill(nonce);
            using (var aes = new AesGcm(_key, StoreCrypto.TagSize))
            {
                aes.Encrypt(nonce, plaintext.WrittenSpan, file.AsSpan(HeaderSize + StoreCrypto.NonceSize, n), file.AsSpan(file.Length - StoreCrypto.TagSize), file.AsSpan(0, HeaderSize));
            }

            SecureFile.WriteAtomically(Path, file, overwrite: true);
            _generation = generation;
        }
        finally
        {
            plaintext.Clear();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var value in _entries.Values)
            {
                CryptographicOperations.ZeroMemory(value);
            }

            _entries.Clear();
            CryptographicOperations.ZeroMemory(_key);
        }
    }
}
