using System.Security.Cryptography;

namespace PrivateHealth.Participant.Storage;

/// <summary>
/// The agent's 32-byte storage key in a local file: 32 random bytes, nothing else, readable and writable by the
/// owner only (mode 0600; its directory is created 0700). The key protects data at rest against other users and
/// copies of the data files, not against the owner's account itself. Callers should zero the returned array
/// (<see cref="CryptographicOperations.ZeroMemory"/>) once the stores are open.
/// </summary>
public static class LocalKeyFile
{
    public const int KeySize = StoreCrypto.KeySize;

    private const UnixFileMode GroupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Loads the key at <paramref name="path"/>, creating a random one when the file does not exist.</summary>
    public static byte[] LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(path))
        {
            return Load(path);
        }

        try
        {
            return Create(path);
        }
        catch (IOException) when (File.Exists(path))
        {
            return Load(path); // created concurrently
        }
    }

    /// <summary>Creates a new random key file (mode 0600) atomically; throws <see cref="IOException"/> if it exists.</summary>
    public static byte[] Create(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] key = RandomNumberGenerator.GetBytes(KeySize);
        SecureFile.WriteAtomically(path, key, overwrite: false);
        return key;
    }

    /// <summary>
    /// Loads a key file. Throws <see cref="InvalidDataException"/> when it is not exactly 32 bytes and, on Unix,
    /// <see cref="UnauthorizedAccessException"/> when group or others have any permission on it (like ssh, a key
    /// others could read is refused; <c>chmod 600</c> it).
    /// </summary>
    public static byte[] Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & GroupOrOther) != 0)
            {
                throw new UnauthorizedAccessException(
                    $"Key file '{path}' is accessible by group or others (mode {Convert.ToString((int)mode, 8)}); run chmod 600 on it.");
            }
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (stream.Length != KeySize)
        {
            throw new InvalidDataException($"Key file '{path}' is {stream.Length} bytes; a key file holds exactly {KeySize}.");
        }

        byte[] key = new byte[KeySize];
        stream.ReadExactly(key);
        return key;
    }
}
