namespace PrivateHealth.Learning;

/// <summary>Marker for the learning core: models, local training, metrics, update packing and privacy.</summary>
internal static class AssemblyMarker;
