using System.Security.Cryptography;

namespace PrivateHealth.Participant.Storage;

/// <summary>What an encrypted store found wrong with its file.</summary>
public enum StoreIntegrityFailure
{
    /// <summary>Not a store file of this kind or version (magic, version or minimum size).</summary>
    NotAStore,

    /// <summary>The header / commit records (record store) or the whole file (secret store) fail authentication:
    /// the key is wrong, or the bytes were modified.</summary>
    WrongKeyOrModified,

    /// <summary>The file is shorter than its last commit says: committed data was cut off.</summary>
    Truncated,

    /// <summary>A chunk fails authentication: modified, moved to another position, or copied from another store.</summary>
    ChunkAuthenticationFailed,

    /// <summary>Authenticated bytes that do not decode (a chunk frame, an encoding), or framing inconsistent with the commit.</summary>
    MalformedData,
}

/// <summary>An encrypted store's file is damaged, was tampered with, or is opened with the wrong key.</summary>
public sealed class StoreIntegrityException : CryptographicException
{
    public StoreIntegrityException()
        : this(StoreIntegrityFailure.MalformedData, "The store failed an integrity check.")
    {
    }

    public StoreIntegrityException(string message)
        : this(StoreIntegrityFailure.MalformedData, message)
    {
    }

    public StoreIntegrityException(string message, Exception innerException)
        : this(StoreIntegrityFailure.MalformedData, message, null, null, innerException)
    {
    }

    public StoreIntegrityException(StoreIntegrityFailure failure, string message, long? chunkIndex = null, long? fileOffset = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
        ChunkIndex = chunkIndex;
        FileOffset = fileOffset;
    }

    public StoreIntegrityFailure Failure { get; }

    /// <summary>0-based index of the offending chunk (record store), when the failure is in one.</summary>
    public long? ChunkIndex { get; }

    /// <summary>Byte offset in the file of the offending chunk or record, when known.</summary>
    public long? FileOffset { get; }
}
