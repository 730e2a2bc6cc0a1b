using System.Security.Cryptography;
using PrivateHealth.Participant.Storage;

namespace PrivateHealth.Participant.Tests;

public sealed class EncryptedSecretStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public void Dispose() => _dir.Dispose();

    private string SecretsPath => _dir.File("secrets.phss");

    [Fact]
    public void ValuesAreSetReadRemovedAndPersistedAcrossReopen()
    {
        byte[] share = RandomNumberGenerator.GetBytes(700);
        using (var store = EncryptedSecretStore.Open(SecretsPath, _key))
        {
            Assert.Empty(store.Names);
            Assert.False(File.Exists(SecretsPath)); // nothing written until the first change
            store.Set("custodian/threshold-share", share);
            store.Set("chain/key", [1, 2, 3]);
            store.Set("empty", []);
            store.Set("chain/key", [4, 5]);
            Assert.True(store.Remove("empty"));
            Assert.False(store.Remove("empty"));
            Assert.Equal(5ul, store.Generation); // every Set and Remove rewrites the file
        }

        using var reopened = EncryptedSecretStore.Open(SecretsPath, _key);
        Assert.Equal(["chain/key", "custodian/threshold-share"], reopened.Names);
        Assert.Equal(share, reopened.Get("custodian/threshold-share"));
        Assert.Equal(new byte[] { 4, 5 }, reopened.Get("chain/key"));
        Assert.Null(reopened.Get("empty"));
        Assert.False(reopened.TryGet("missing", out _));
        Assert.True(reopened.Contains("chain/key"));
        Assert.Equal(5ul, reopened.Generation);
    }

    [Fact]
    public void ReturnedValuesAreCopies()
    {
        using var store = EncryptedSecretStore.Open(SecretsPath, _key);
        byte[] value = [9, 9, 9];
        store.Set("k", value);
        value[0] = 0;

        byte[] copy = store.Get("k")!;
        copy[1] = 0;

        Assert.Equal(new byte[] { 9, 9, 9 }, store.Get("k"));
    }

    [Fact]
    public void AWrongKeyOrAModifiedFileIsRefused()
    {
        using (var store = EncryptedSecretStore.Open(SecretsPath, _key))
        {
            store.Set("k", [1, 2, 3]);
        }

        var wrongKey = Assert.Throws<StoreIntegrityException>(() => EncryptedSecretStore.Open(SecretsPath, RandomNumberGenerator.GetBytes(32)));
        Assert.Equal(StoreIntegrityFailure.WrongKeyOrModified, wrongKey.Failure);

        byte[] file = File.ReadAllBytes(SecretsPath);
        foreach (int position in new[] { 8, 24, 40, file.Length - 20, file.Length - 1 })
        {
            byte[] tampered = (byte[])file.Clone();
            tampered[position] ^= 1;
            File.WriteAllBytes(SecretsPath, tampered);
            Assert.Equal(StoreIntegrityFailure.WrongKeyOrModified, Assert.Throws<StoreIntegrityException>(() => EncryptedSecretStore.Open(SecretsPath, _key)).Failure);
        }

        File.WriteAllBytes(SecretsPath, file[..^1]);
        Assert.Throws<StoreIntegrityException>(() => EncryptedSecretStore.Open(SecretsPath, _key));
        File.WriteAllBytes(SecretsPath, [.. "nope"u8]);
        Assert.Equal(StoreIntegrityFailure.NotAStore, Assert.Throws<StoreIntegrityException>(() => EncryptedSecretStore.Open(SecretsPath, _key)).Failure);
    }

    [Fact]
    public void WritesAreAtomicOwnerOnlyAndLeaveNoTemporaryFiles()
    {
        using var store = EncryptedSecretStore.Open(SecretsPath, _key);
        for (int i = 0; i < 20; i++)
        {
            store.Set($"k{i}", RandomNumberGenerator.GetBytes(64));
        }

        Assert.Equal([SecretsPath], Directory.GetFiles(_dir.Path));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SecretsPath));
        }

        string raw = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(SecretsPath));
        Assert.DoesNotContain("k19", raw, StringComparison.Ordinal);
    }

    [Fact]
    public void AStaleTemporaryFileFromACrashDoesNotMatter()
    {
        using (var store = EncryptedSecretStore.Open(SecretsPath, _key))
        {
            store.Set("k", [1]);
        }

        File.WriteAllBytes(SecretsPath + ".abcdef.tmp", [1, 2, 3]); // a crash before the rename

        using var reopened = EncryptedSecretStore.Open(SecretsPath, _key);
        Assert.Equal(new byte[] { 1 }, reopened.Get("k"));
        reopened.Set("k", [2]);
        Assert.Equal(new byte[] { 2 }, reopened.Get("k"));
    }

    [Fact]
    public void InvalidNamesAndKeysAreRejected()
    {
        Assert.Throws<ArgumentException>(() => EncryptedSecretStore.Open(SecretsPath, new byte[31]));
        using var store = EncryptedSecretStore.Open(SecretsPath, _key);
        Assert.Throws<ArgumentException>(() => store.Set("", [1]));
        Assert.Throws<ArgumentException>(() => store.Set("a\nb", [1]));
        store.Dispose();
        Assert.Throws<ObjectDisposedException>(() => store.Get("k"));
    }
}

public sealed class LocalKeyFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void LoadOrCreateCreatesAnOwnerOnlyRandomKeyOnceAndThenLoadsIt()
    {
        string path = Path.Combine(_dir.Path, "agent", "storage.key");

        byte[] created = LocalKeyFile.LoadOrCreate(path);
        byte[] loaded = LocalKeyFile.LoadOrCreate(path);

        Assert.Equal(32, created.Length);
        Assert.Equal(created, loaded);
        Assert.Equal(created, File.ReadAllBytes(path));
        Assert.NotEqual(new byte[32], created);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
        }

        Assert.Throws<IOException>(() => LocalKeyFile.Create(path));
    }

    [Fact]
    public void KeysReadableByOthersOrOfTheWrongSizeAreRefused()
    {
        string path = _dir.File("storage.key");
        LocalKeyFile.Create(path);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var e = Assert.Throws<UnauthorizedAccessException>(() => LocalKeyFile.Load(path));
            Assert.Contains("chmod 600", e.Message, StringComparison.Ordinal);
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.WriteAllBytes(path, new byte[16]);
        Assert.Throws<InvalidDataException>(() => LocalKeyFile.Load(path));
    }

    [Fact]
    public async Task TheKeyOpensTheStoresItCreated()
    {
        var ct = TestContext.Current.CancellationToken;
        byte[] key = LocalKeyFile.LoadOrCreate(_dir.File("storage.key"));
        await using (var store = HealthRecordStore.Open(_dir.File("records.phs"), key))
        {
            await store.AppendAsync([new Data.HealthRecord("steps", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, 1, "count", "t")], ct);
        }

        CryptographicOperations.ZeroMemory(key);
        byte[] again = LocalKeyFile.Load(_dir.File("storage.key"));
        await using var reopened = HealthRecordStore.Open(_dir.File("records.phs"), again);
        Assert.Equal(1, reopened.RecordCount);
    }
}
