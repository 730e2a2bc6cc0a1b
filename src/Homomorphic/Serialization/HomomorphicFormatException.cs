namespace PrivateHealth.Homomorphic.Serialization;

/// <summary>Why a serialized object was rejected.</summary>
public enum FormatError
{
    Truncated,
    BadMagic,
    UnsupportedVersion,
    WrongKind,
    UnknownFlags,
    ParametersMismatch,
    LengthMismatch,
    TooLarge,
    InvalidMetadata,
    CoefficientOutOfRange,
    DigestMismatch,
    TrivialCiphertext,
}

/// <summary>Thrown when bytes do not decode to a valid object for the expected parameters. Nothing is allocated beyond the declared, checked size.</summary>
public sealed class HomomorphicFormatException(FormatError error, string message) : FormatException(message)
{
    public FormatError Error { get; } = error;
}
