namespace PrivateHealth.Protocol;

/// <summary>gRPC method paths of the coordinator.</summary>
public static class Methods
{
    /// <summary>gRPC method path.</summary>
    public const string Participant = "/privatehealth.v1.ParticipantProtocol/";
    /// <summary>gRPC method path.</summary>
    public const string Custodian = "/privatehealth.v1.CustodianProtocol/";
    /// <summary>gRPC method path.</summary>
    public const string Operator = "/privatehealth.v1.OperatorProtocol/";
    /// <summary>gRPC method path.</summary>
    public const string GetParameters = Participant + "GetParameters";
    /// <summary>gRPC method path.</summary>
    public const string Enroll = Participant + "Enroll";
    /// <summary>gRPC method path.</summary>
    public const string WatchRounds = Participant + "WatchRounds";
    /// <summary>gRPC method path.</summary>
    public const string UploadUpdate = Participant + "UploadUpdate";
    /// <summary>gRPC method path.</summary>
    public const string WatchJobs = Participant + "WatchJobs";
    /// <summary>gRPC method path.</summary>
    public const string GetEarnings = Participant + "GetEarnings";
    /// <summary>gRPC method path.</summary>
    public const string Register = Custodian + "Register";
    /// <summary>gRPC method path.</summary>
    public const string WatchTasks = Custodian + "WatchTasks";
    /// <summary>gRPC method path.</summary>
    public const string SubmitAnswer = Custodian + "SubmitAnswer";
    /// <summary>gRPC method path.</summary>
    public const string StartKeyCeremony = Operator + "StartKeyCeremony";
    /// <summary>gRPC method path.</summary>
    public const string GetKeyCeremony = Operator + "GetKeyCeremony";
    /// <summary>gRPC method path.</summary>
    public const string CreateTrainingJob = Operator + "CreateTrainingJob";
    /// <summary>gRPC method path.</summary>
    public const string GetJob = Operator + "GetJob";
    /// <summary>gRPC method path.</summary>
    public const string CancelJob = Operator + "CancelJob";
    /// <summary>gRPC method path.</summary>
    public const string GetCohort = Participant + "GetCohort";
    /// <summary>gRPC method path.</summary>
    public const string UploadContribution = Participant + "UploadContribution";
    /// <summary>gRPC method path.</summary>
    public const string RevokeContribution = Participant + "RevokeContribution";
    /// <summary>gRPC method path.</summary>
    public const string CreateCohort = Operator + "CreateCohort";
    /// <summary>gRPC method path.</summary>
    public const string GetCohortStatus = Operator + "GetCohortStatus";
    /// <summary>gRPC method path.</summary>
    public const string QuoteQuery = Operator + "QuoteQuery";
    /// <summary>gRPC method path.</summary>
    public const string SubmitQuery = Operator + "SubmitQuery";
    /// <summary>gRPC method path.</summary>
    public const string GetQueryJob = Operator + "GetQueryJob";
}
