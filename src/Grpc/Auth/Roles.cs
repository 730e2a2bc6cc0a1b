namespace PrivateHealth.Grpc.Auth;

/// <summary>Values of the <c>role</c> claim understood by the coordinator.</summary>
public static class Roles
{
    /// <summary>A data holder that downloads parameters and uploads encrypted updates as itself.</summary>
    public const string Participant = "participant";

    /// <summary>A key custodian that answers decryption requests for itself only.</summary>
    public const string Custodian = "custodian";

    /// <summary>Submits jobs and reads released results.</summary>
    public const string Researcher = "researcher";

    /// <summary>Runs the coordinator.</summary>
    public const string Operator = "operator";

    /// <summary>All four roles.</summary>
    public static IReadOnlyList<string> All { get; } = [Participant, Custodian, Researcher, Operator];

    /// <summary>Whether <paramref name="role"/> is one of the four roles (exact, case-sensitive).</summary>
    public static bool IsKnown(string? role) => role is Participant or Custodian or Researcher or Operator;
}
