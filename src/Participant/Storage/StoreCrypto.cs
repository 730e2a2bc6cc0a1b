using System.Security.Cryptography;

namespace PrivateHealth.Participant.Storage;

/// <summary>AES-256-GCM parameters and key handling shared by the stores.</summary>
internal static class StoreCrypto
{
    public const int KeySize = 32;
    public const int NonceSize = 12;
    public const int TagSize = 16;

    public static void CheckKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"The store key must be {KeySize} bytes (AES-256), not {key.Length}.", nameof(key));
        }
    }

    /// <summary>HKDF-SHA256 subkey of the agent key for one file (salt: the file's random id; info: the file kind),
    /// so the same agent key never encrypts under the same AES key in two files or two kinds of file.</summary>
    public static byte[] DeriveFileKey(ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> fileId, ReadOnlySpan<byte> purpose)
    {
        CheckKey(masterKey);
        byte[] key = GC.AllocateArray<byte>(KeySize, pinned: true);
        HKDF.DeriveKey(HashAlgorithmName.SHA256, masterKey, key, fileId, purpose);
        return key;
    }
}

/// <summary>Files only the current user can read, written atomically (temporary file, flush to disk, rename).</summary>
internal static class SecureFile
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Options creating a new file readable and writable by its owner only (mode 0600 on Unix).</summary>
    public static FileStreamOptions CreateNewOptions()
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }

        return options;
    }

    public static void EnsureDirectory(string path)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (string.IsNullOrEmpty(directory) || Directory.Exists(directory))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>Writes a temporary file next to <paramref name="path"/> (mode 0600), flushes it to disk and renames it
    /// over <paramref name="path"/> (or, without <paramref name="overwrite"/>, fails with <see cref="IOException"/> if
    /// <paramref name="path"/> exists). A crash leaves either the old or the new content, never a mix.</summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> content, bool overwrite)
    {
        EnsureDirectory(path);
        string temp = TempPathFor(path);
        try
        {
            using (var stream = new FileStream(temp, CreateNewOptions()))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public static string TempPathFor(string path) =>
        $"{Path.GetFullPath(path)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.tmp";
}
