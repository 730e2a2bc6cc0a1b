using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class CoordinatorStoreContract
{
    private static readonly Dictionary<string, Func<ICoordinatorStore, Task>> BadCalls = new()
    {
        ["CreateJob null"] = s => s.CreateJobAsync(null!, Ct),
        ["CreateJob empty id"] = s => s.CreateJobAsync(Job(""), Ct),
        ["CreateJob null id"] = s => s.CreateJobAsync(Job(null!), Ct),
        ["CreateJob empty key set"] = s => s.CreateJobAsync(Job() with { KeySetId = "" }, Ct),
        ["CreateJob null spec"] = s => s.CreateJobAsync(Job() with { Spec = null! }, Ct),
        ["CreateJob null model"] = s => s.CreateJobAsync(Job() with { GlobalModel = null! }, Ct),
        ["GetJob empty"] = s => s.GetJobAsync("", Ct),
        ["GetJob null"] = s => s.GetJobAsync(null!, Ct),
        ["UpdateJob null"] = s => s.UpdateJobAsync(null!, Ct),
        ["UpdateJob empty id"] = s => s.UpdateJobAsync(Job(""), Ct),
        ["CreateRound null"] = s => s.CreateRoundAsync(null!, Ct),
        ["CreateRound empty job"] = s => s.CreateRoundAsync(Round(""), Ct),
        ["CreateRound null selected"] = s => s.CreateRoundAsync(Round() with { Selected = null! }, Ct),
        ["GetRound empty"] = s => s.GetRoundAsync("", 0, Ct),
        ["ListRounds empty"] = s => s.ListRoundsAsync("", Ct),
        ["UpdateRound null"] = s => s.UpdateRoundAsync(null!, Ct),
        ["UpdateRound empty job"] = s => s.UpdateRoundAsync(Round(""), Ct),
        ["AddUpload null"] = s => s.AddUploadAsync(null!, Ct),
        ["AddUpload empty job"] = s => s.AddUploadAsync(Upload("p-1", jobId: ""), Ct),
        ["AddUpload empty participant"] = s => s.AddUploadAsync(Upload(""), Ct),
        ["AddUpload null ciphertexts"] = s => s.AddUploadAsync(Upload("p-1") with { Ciphertexts = null! }, Ct),
        ["AddUpload null content ids"] = s => s.AddUploadAsync(Upload("p-1") with { ContentIds = null! }, Ct),
        ["AddUpload count mismatch"] = s => s.AddUploadAsync(Upload("p-1") with { ContentIds = ["only-one"] }, Ct),
        ["AddUpload null ciphertext"] = s => s.AddUploadAsync(Upload("p-1") with { Ciphertexts = [null!], ContentIds = ["a"] }, Ct),
        ["ListUploads empty"] = s => s.ListUploadsAsync("", 0, Ct),
        ["GetUploadSummary empty"] = s => s.GetUploadSummaryAsync("", 0, Ct),
        ["SaveAccumulator null"] = s => s.SaveAccumulatorAsync(null!, Ct),
        ["SaveAccumulator empty job"] = s => s.SaveAccumulatorAsync(new AccumulatorRecord { JobId = "", Ciphertexts = [] }, Ct),
        ["SaveAccumulator null ciphertexts"] = s => s.SaveAccumulatorAsync(new AccumulatorRecord { JobId = "j", Ciphertexts = null! }, Ct),
        ["GetAccumulator empty"] = s => s.GetAccumulatorAsync("", 0, Ct),
        ["AddTask null"] = s => s.AddTaskAsync(null!, Ct),
        ["AddTask empty id"] = s => s.AddTaskAsync(CustodianTask(""), Ct),
        ["AddTask empty scope"] = s => s.AddTaskAsync(CustodianTask("t", scope: ""), Ct),
        ["AddTask null payload"] = s => s.AddTaskAsync(CustodianTask("t") with { Payload = null! }, Ct),
        ["GetTask empty"] = s => s.GetTaskAsync("", Ct),
        ["ListTasks empty"] = s => s.ListTasksAsync("", Ct),
        ["SaveAnswer empty id"] = s => s.SaveAnswerAsync("", 1, [1], Ct),
        ["SaveAnswer null answer"] = s => s.SaveAnswerAsync("t", 1, null!, Ct),
        ["WithdrawTasks empty"] = s => s.WithdrawTasksAsync("", Ct),
        ["UpsertEnrollment null"] = s => s.UpsertEnrollmentAsync(null!, Ct),
        ["UpsertEnrollment empty participant"] = s => s.UpsertEnrollmentAsync(new EnrollmentRecord { ParticipantId = "", CohortId = "c" }, Ct),
        ["UpsertEnrollment empty cohort"] = s => s.UpsertEnrollmentAsync(new EnrollmentRecord { ParticipantId = "p", CohortId = "" }, Ct),
        ["ListEnrollments empty"] = s => s.ListEnrollmentsAsync("", Ct),
        ["UpsertCustodian null"] = s => s.UpsertCustodianAsync(null!, Ct),
        ["UpsertCustodian empty id"] = s => s.UpsertCustodianAsync(Custodian("", 1), Ct),
        ["UpsertCustodian null key"] = s => s.UpsertCustodianAsync(Custodian("c", 1) with { AgreementPublicKey = null! }, Ct),
        ["CreateKeySet null"] = s => s.CreateKeySetAsync(null!, Ct),
        ["CreateKeySet empty id"] = s => s.CreateKeySetAsync(KeySet(""), Ct),
        ["GetKeySet empty"] = s => s.GetKeySetAsync("", Ct),
        ["UpdateKeySet null"] = s => s.UpdateKeySetAsync(null!, Ct),
        ["UpdateKeySet empty id"] = s => s.UpdateKeySetAsync(KeySet(""), Ct),
        ["PutArtifact empty scope"] = s => s.PutArtifactAsync("", "n", [1], Ct),
        ["PutArtifact empty name"] = s => s.PutArtifactAsync("s", "", [1], Ct),
        ["PutArtifact null data"] = s => s.PutArtifactAsync("s", "n", null!, Ct),
        ["GetArtifact empty scope"] = s => s.GetArtifactAsync("", "n", Ct),
        ["GetArtifact null name"] = s => s.GetArtifactAsync("s", null!, Ct),
    };

    public static TheoryData<string> BadCallNames => [.. BadCalls.Keys];

    [Theory]
    [MemberData(nameof(BadCallNames))]
    public async Task BadArgument_ThrowsArgumentExceptionAndChangesNothing(string call)
    {
        var store = await StoreWithOpenRoundAsync();

        var exception = await Assert.ThrowsAnyAsync<ArgumentException>(() => BadCalls[call](store));

        Assert.False(string.IsNullOrWhiteSpace(exception.Message));
        Assert.False(string.IsNullOrEmpty(exception.ParamName), "the exception names the bad parameter");
        Assert.Single(await store.ListJobsAsync(Ct));
        Assert.Empty(await store.ListUploadsAsync("job-1", 0, Ct));
    }

    [Fact]
    public async Task Cancellation_CancelledToken_Throws()
    {
        var store = await StoreWithOpenRoundAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.AddUploadAsync(Upload("p-1"), cancelled.Token));

        Assert.Empty(await store.ListUploadsAsync("job-1", 0, Ct));
    }
}
