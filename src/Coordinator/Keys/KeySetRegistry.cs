using System.Collections.Concurrent;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;

namespace PrivateHealth.Coordinator.Keys;

/// <summary>The published material of a finished key ceremony.</summary>
public sealed class KeyMaterial
{
    internal KeyMaterial(KeySetRecord record, CkksParameters parameters, byte[] publicKeyBytes)
    {
        Record = record;
        Parameters = parameters;
        Serializer = new CkksSerializer(parameters);
        PublicKeyBytes = publicKeyBytes;
        PublicKey = Serializer.DeserializePublicKey(publicKeyBytes);
        ParametersBytes = CkksSerializer.SerializeParameters(parameters);
    }

    public KeySetRecord Record { get; }
    public CkksParameters Parameters { get; }
    public CkksSerializer Serializer { get; }
    public PublicKey PublicKey { get; }
    public byte[] PublicKeyBytes { get; }
    public byte[] ParametersBytes { get; }
}

/// <summary>Parameter sets by preset (built once: NTT tables are costly) and ready key sets by id.</summary>
public sealed class KeySetRegistry(ICoordinatorStore store)
{
    private readonly ConcurrentDictionary<string, Lazy<CkksParameters>> _parameters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyMaterial> _ready = new(StringComparer.Ordinal);

    /// <summary>Scope under which a key set's artifacts are stored.</summary>
    public static string Scope(string keySetId) => "keyset:" + keySetId;

    /// <summary>The parameters of a preset; throws <see cref="ArgumentException"/> naming the valid presets.</summary>
    public CkksParameters Parameters(string preset)
    {
        if (!CkksParametersLiteral.Presets.TryGetValue(preset, out var literal))
        {
            throw new ArgumentException($"Unknown parameter preset '{preset}'; valid: {string.Join(", ", CkksParametersLiteral.Presets.Keys)}.", nameof(preset));
        }

        return _parameters.GetOrAdd(preset, _ => new Lazy<CkksParameters>(() => CkksParameters.FromLiteral(literal))).Value;
    }

    /// <summary>The key material of a ready key set, or null while the ceremony runs (or if unknown).</summary>
    public async Task<KeyMaterial?> GetReadyAsync(string keySetId, CancellationToken cancellationToken)
    {
        if (_ready.TryGetValue(keySetId, out var cached))
        {
            return cached;
        }

        var record = await store.GetKeySetAsync(keySetId, cancellationToken).ConfigureAwait(false);
        if (record is null || record.State != "ready")
        {
            return null;
        }

        var pk = await store.GetArtifactAsync(Scope(keySetId), "public-key", cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Key set {keySetId} is ready but has no public key artifact.");
        var material = new KeyMaterial(record, Parameters(record.Preset), pk);
        return _ready.GetOrAdd(keySetId, material);
    }
}
