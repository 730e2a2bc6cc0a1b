namespace PrivateHealth.Participant;

/// <summary>Marker for the participant agent library.</summary>
internal static class AssemblyMarker;
