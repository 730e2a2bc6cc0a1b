using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class CoordinatorStoreContract
{
    [Fact]
    public async Task CreateKeySet_New_RoundTripsWithVersionOne()
    {
        var store = await NewStoreAsync();
        var keySet = KeySet() with { Version = 17, Message = "m" };

        await store.CreateKeySetAsync(keySet, Ct);

        AssertKeySet(keySet, await store.GetKeySetAsync("ks-1", Ct), version: 1);
    }

    [Fact]
    public async Task CreateKeySet_ExistingId_ThrowsStoreConflictAndKeepsFirst()
    {
        var store = await NewStoreAsync();
        await store.CreateKeySetAsync(KeySet(), Ct);

        await Assert.ThrowsAsync<StoreConflictException>(() => store.CreateKeySetAsync(KeySet() with { Phase = "done" }, Ct));

        AssertKeySet(KeySet(), await store.GetKeySetAsync("ks-1", Ct), version: 1);
    }

    [Fact]
    public async Task GetKeySet_Unknown_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.GetKeySetAsync("ks-x", Ct));
    }

    [Fact]
    public async Task ListKeySets_SeveralKeySets_AllInCreationOrder()
    {
        var store = await NewStoreAsync();
        Assert.Empty(await store.ListKeySetsAsync(Ct));
        string[] ids = ["ks-b", "ks-c", "ks-a"];
        foreach (var id in ids)
        {
            await store.CreateKeySetAsync(KeySet(id), Ct);
        }

        var listed = await store.ListKeySetsAsync(Ct);

        Assert.Equal(ids, listed.Select(k => k.KeySetId));
    }

    [Fact]
    public async Task UpdateKeySet_MatchingVersion_ReplacesAndIncrementsVersion()
    {
        var store = await NewStoreAsync();
        await store.CreateKeySetAsync(KeySet(), Ct);
        var v1 = await store.GetKeySetAsync("ks-1", Ct);
        var changed = v1! with { State = "ready", Phase = "done", Data = null, Message = "ok" };

        var updated = await store.UpdateKeySetAsync(changed, Ct);

        AssertKeySet(changed, updated, version: 2);
        AssertKeySet(changed, await store.GetKeySetAsync("ks-1", Ct), version: 2);
    }

    [Fact]
    public async Task UpdateKeySet_StaleVersion_ReturnsNullAndKeepsStored()
    {
        var store = await NewStoreAsync();
        await store.CreateKeySetAsync(KeySet(), Ct);
        var v1 = await store.GetKeySetAsync("ks-1", Ct);
        await store.UpdateKeySetAsync(v1! with { Phase = "relinearization-1" }, Ct);

        Assert.Null(await store.UpdateKeySetAsync(v1 with { Phase = "threshold-deal" }, Ct));

        var stored = await store.GetKeySetAsync("ks-1", Ct);
        Assert.Equal("relinearization-1", stored!.Phase);
        Assert.Equal(2, stored.Version);
    }

    [Fact]
    public async Task UpdateKeySet_Unknown_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.UpdateKeySetAsync(KeySet("ks-x") with { Version = 1 }, Ct));
    }

    [Fact]
    public async Task UpdateKeySet_ParallelSameVersion_ExactlyOneWins()
    {
        var store = await NewStoreAsync();
        await store.CreateKeySetAsync(KeySet(), Ct);
        var v1 = await store.GetKeySetAsync("ks-1", Ct);

        var results = await InParallelAsync(64, i => store.UpdateKeySetAsync(v1! with { Phase = $"phase-{i}" }, Ct));

        var winner = Assert.Single(results, r => r is not null);
        Assert.Equal(winner!.Phase, (await store.GetKeySetAsync("ks-1", Ct))!.Phase);
    }

    // ---- artifacts

    [Fact]
    public async Task PutArtifact_New_ReturnsTrueAndReadable()
    {
        var store = await NewStoreAsync();

        Assert.True(await store.PutArtifactAsync("keyset:ks-1", "public-key", [1, 2, 3], Ct));

        Assert.Equal([1, 2, 3], await store.GetArtifactAsync("keyset:ks-1", "public-key", Ct));
    }

    [Fact]
    public async Task PutArtifact_EmptyData_RoundTripsAsEmpty()
    {
        var store = await NewStoreAsync();

        Assert.True(await store.PutArtifactAsync("s", "empty", [], Ct));

        var data = await store.GetArtifactAsync("s", "empty", Ct);
        Assert.NotNull(data);
        Assert.Empty(data);
    }

    [Fact]
    public async Task PutArtifact_Existing_ReturnsFalseAndKeepsFirst()
    {
        var store = await NewStoreAsync();
        await store.PutArtifactAsync("keyset:ks-1", "public-key", [1], Ct);

        Assert.False(await store.PutArtifactAsync("keyset:ks-1", "public-key", [2], Ct));

        Assert.Equal([1], await store.GetArtifactAsync("keyset:ks-1", "public-key", Ct));
    }

    [Fact]
    public async Task PutArtifact_SameNameOtherScope_Independent()
    {
        var store = await NewStoreAsync();

        Assert.True(await store.PutArtifactAsync("keyset:ks-1", "public-key", [1], Ct));
        Assert.True(await store.PutArtifactAsync("keyset:ks-2", "public-key", [2], Ct));
        Assert.True(await store.PutArtifactAsync("keyset:ks-1", "relin-key", [3], Ct));

        Assert.Equal([1], await store.GetArtifactAsync("keyset:ks-1", "public-key", Ct));
        Assert.Equal([2], await store.GetArtifactAsync("keyset:ks-2", "public-key", Ct));
        Assert.Equal([3], await store.GetArtifactAsync("keyset:ks-1", "relin-key", Ct));
    }

    [Fact]
    public async Task PutArtifact_Parallel_ExactlyOneTrue()
    {
        var store = await NewStoreAsync();

        var results = await InParallelAsync(32, i => store.PutArtifactAsync("s", "n", [(byte)i], Ct));

        var winner = Array.IndexOf(results, true);
        Assert.Single(results, r => r);
        Assert.Equal(new[] { (byte)winner }, await store.GetArtifactAsync("s", "n", Ct));
    }

    [Fact]
    public async Task GetArtifact_Unknown_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.GetArtifactAsync("s", "n", Ct));
    }
}
