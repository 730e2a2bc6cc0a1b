using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

/// <summary>
/// The test classes that call <c>SqliteConnection.ClearAllPools()</c> (which closes the idle pooled connections of every
/// SQLite store in the process) run one after another: otherwise one class's clean-up closes another's connections
/// under a test that counts the store's open file handles (Dispose_ClosesEveryConnectionToTheFile failed that way).
/// </summary>
[CollectionDefinition(Name)]
public sealed class SqlitePoolsCollection
{
    public const string Name = "SQLite connection pools";
}
