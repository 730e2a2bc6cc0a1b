using Xunit;

namespace PrivateHealth.Coordinator.Storage.Tests;

public abstract partial class CoordinatorStoreContract
{
    private const string Scope = "keyset:ks-1:public-key";

    [Fact]
    public async Task AddTask_New_ReturnsTrueAndRoundTrips()
    {
        var store = await NewStoreAsync();
        var task = CustodianTask("t-1") with { Party = 3, Payload = [0, 1, 2, 255] };

        Assert.True(await store.AddTaskAsync(task, Ct));

        AssertTask(task, await store.GetTaskAsync("t-1", Ct));
    }

    [Fact]
    public async Task AddTask_ExistingId_ReturnsFalseAndKeepsFirst()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-1"), Ct);

        Assert.False(await store.AddTaskAsync(CustodianTask("t-1", scope: "other", party: 2) with { Payload = [9] }, Ct));

        AssertTask(CustodianTask("t-1"), await store.GetTaskAsync("t-1", Ct));
    }

    [Fact]
    public async Task GetTask_Unknown_ReturnsNull()
    {
        var store = await NewStoreAsync();

        Assert.Null(await store.GetTaskAsync("t-x", Ct));
    }

    [Fact]
    public async Task ListTasks_ReturnsScopeInCreationOrderIncludingWithdrawnAndAnswered()
    {
        var store = await NewStoreAsync();
        string[] ids = ["t-c", "t-a", "t-b", "t-d"];
        for (var i = 0; i < ids.Length; i++)
        {
            await store.AddTaskAsync(CustodianTask(ids[i], party: i + 1) with { CreatedAt = T0.AddSeconds(-i) }, Ct);
        }

        await store.AddTaskAsync(CustodianTask("t-other", scope: "job:j-1:round:0:decrypt"), Ct);
        Assert.Equal(AnswerOutcome.Stored, await store.SaveAnswerAsync("t-a", 2, [1], Ct));
        Assert.Equal(3, await store.WithdrawTasksAsync(Scope, Ct));

        var tasks = await store.ListTasksAsync(Scope, Ct);

        Assert.Equal(ids, tasks.Select(t => t.TaskId));
        Assert.Equal([true, false, true, true], tasks.Select(t => t.Withdrawn));
        Assert.Empty(await store.ListTasksAsync("unknown-scope", Ct));
    }

    [Fact]
    public async Task ListPendingTasks_OnlyUnansweredNotWithdrawnOfThatParty_InCreationOrder()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-z", party: 1) with { CreatedAt = T0.AddHours(1) }, Ct);
        await store.AddTaskAsync(CustodianTask("t-y", party: 2), Ct);
        await store.AddTaskAsync(CustodianTask("t-answered", party: 1), Ct);
        await store.AddTaskAsync(CustodianTask("t-withdrawn", scope: "job:j:round:0:noise", party: 1), Ct);
        await store.AddTaskAsync(CustodianTask("t-a", scope: "job:j:round:0:decrypt", party: 1) with { CreatedAt = T0.AddHours(-1) }, Ct);
        await store.SaveAnswerAsync("t-answered", 1, [1], Ct);
        await store.WithdrawTasksAsync("job:j:round:0:noise", Ct);

        var pending = await store.ListPendingTasksAsync(1, Ct);

        Assert.Equal(["t-z", "t-a"], pending.Select(t => t.TaskId));
        Assert.Equal(["t-y"], (await store.ListPendingTasksAsync(2, Ct)).Select(t => t.TaskId));
        Assert.Empty(await store.ListPendingTasksAsync(9, Ct));
    }

    [Fact]
    public async Task SaveAnswer_Unanswered_StoredWithAnsweredAt()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-1", party: 2), Ct);
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);

        Assert.Equal(AnswerOutcome.Stored, await store.SaveAnswerAsync("t-1", 2, [4, 5, 6], Ct));

        var task = await store.GetTaskAsync("t-1", Ct);
        Assert.Equal([4, 5, 6], task!.Answer);
        Assert.NotNull(task.AnsweredAt);
        Assert.InRange(task.AnsweredAt.Value, before, DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.False(task.Withdrawn);
        Assert.Empty(await store.ListPendingTasksAsync(2, Ct));
    }

    [Fact]
    public async Task SaveAnswer_SameAnswerTwice_SecondIsDuplicate()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-1"), Ct);
        await store.SaveAnswerAsync("t-1", 1, [4, 5, 6], Ct);
        var answeredAt = (await store.GetTaskAsync("t-1", Ct))!.AnsweredAt;

        Assert.Equal(AnswerOutcome.Duplicate, await store.SaveAnswerAsync("t-1", 1, [4, 5, 6], Ct));

        Assert.Equal(answeredAt, (await store.GetTaskAsync("t-1", Ct))!.AnsweredAt);
    }

    [Fact]
    public async Task SaveAnswer_DifferentAnswer_IsConflictAndKeepsFirst()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-1"), Ct);
        await store.SaveAnswerAsync("t-1", 1, [4, 5, 6], Ct);

        Assert.Equal(AnswerOutcome.Conflict, await store.SaveAnswerAsync("t-1", 1, [4, 5, 7], Ct));
        Assert.Equal(AnswerOutcome.Conflict, await store.SaveAnswerAsync("t-1", 1, [4, 5], Ct));

        Assert.Equal([4, 5, 6], (await store.GetTaskAsync("t-1", Ct))!.Answer);
    }

    [Fact]
    public async Task SaveAnswer_UnknownTask_UnknownTask()
    {
        var store = await NewStoreAsync();

        Assert.Equal(AnswerOutcome.UnknownTask, await store.SaveAnswerAsync("t-x", 1, [1], Ct));
    }

    [Fact]
    public async Task SaveAnswer_OtherParty_WrongPartyAndNothingStored()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-1", party: 1), Ct);

        Assert.Equal(AnswerOutcome.WrongParty, await store.SaveAnswerAsync("t-1", 2, [1], Ct));

        Assert.Null((await store.GetTaskAsync("t-1", Ct))!.Answer);
    }

    [Fact]
    public async Task SaveAnswer_WithdrawnTask_WithdrawnAndNothingStored()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-1"), Ct);
        await store.WithdrawTasksAsync(Scope, Ct);

        Assert.Equal(AnswerOutcome.Withdrawn, await store.SaveAnswerAsync("t-1", 1, [1], Ct));

        var task = await store.GetTaskAsync("t-1", Ct);
        Assert.Null(task!.Answer);
        Assert.Null(task.AnsweredAt);
        Assert.True(task.Withdrawn);
    }

    [Fact]
    public async Task SaveAnswer_ParallelDifferentAnswers_ExactlyOneStored()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-1"), Ct);

        var outcomes = await InParallelAsync(64, i => store.SaveAnswerAsync("t-1", 1, [(byte)(i % 2)], Ct));

        Assert.Equal(1, outcomes.Count(o => o == AnswerOutcome.Stored));
        var winner = (await store.GetTaskAsync("t-1", Ct))!.Answer![0];
        for (var i = 0; i < outcomes.Length; i++)
        {
            if (outcomes[i] != AnswerOutcome.Stored)
            {
                Assert.Equal(i % 2 == winner ? AnswerOutcome.Duplicate : AnswerOutcome.Conflict, outcomes[i]);
            }
        }
    }

    [Fact]
    public async Task WithdrawTasks_MarksOnlyUnansweredOfScope_AndReturnsCount()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-1", party: 1), Ct);
        await store.AddTaskAsync(CustodianTask("t-2", party: 2), Ct);
        await store.AddTaskAsync(CustodianTask("t-3", party: 3), Ct);
        await store.AddTaskAsync(CustodianTask("t-4", scope: "other", party: 1), Ct);
        await store.SaveAnswerAsync("t-2", 2, [1], Ct);

        Assert.Equal(2, await store.WithdrawTasksAsync(Scope, Ct));

        Assert.True((await store.GetTaskAsync("t-1", Ct))!.Withdrawn);
        Assert.False((await store.GetTaskAsync("t-2", Ct))!.Withdrawn);
        Assert.True((await store.GetTaskAsync("t-3", Ct))!.Withdrawn);
        Assert.False((await store.GetTaskAsync("t-4", Ct))!.Withdrawn);
        Assert.Equal(["t-4"], (await store.ListPendingTasksAsync(1, Ct)).Select(t => t.TaskId));
    }

    [Fact]
    public async Task WithdrawTasks_Again_ReturnsZero()
    {
        var store = await NewStoreAsync();
        await store.AddTaskAsync(CustodianTask("t-1"), Ct);
        await store.WithdrawTasksAsync(Scope, Ct);

        Assert.Equal(0, await store.WithdrawTasksAsync(Scope, Ct));
        Assert.Equal(0, await store.WithdrawTasksAsync("unknown", Ct));
    }

    // ---- enrollments

    [Fact]
    public async Task UpsertEnrollment_New_Listed()
    {
        var store = await NewStoreAsync();
        var enrollment = new EnrollmentRecord { ParticipantId = "p-1", CohortId = "c-1", Training = true, Analytics = false, UpdatedAt = T0 };

        await store.UpsertEnrollmentAsync(enrollment, Ct);

        var listed = Assert.Single(await store.ListEnrollmentsAsync("c-1", Ct));
        Assert.Equal(enrollment, listed);
    }

    [Fact]
    public async Task UpsertEnrollment_Existing_ReplacesConsent()
    {
        var store = await NewStoreAsync();
        await store.UpsertEnrollmentAsync(new EnrollmentRecord { ParticipantId = "p-1", CohortId = "c-1", Training = true, Analytics = true, UpdatedAt = T0 }, Ct);
        var revoked = new EnrollmentRecord { ParticipantId = "p-1", CohortId = "c-1", Training = false, Analytics = true, UpdatedAt = T0.AddDays(1) };

        await store.UpsertEnrollmentAsync(revoked, Ct);

        Assert.Equal(revoked, Assert.Single(await store.ListEnrollmentsAsync("c-1", Ct)));
    }

    [Fact]
    public async Task ListEnrollments_OnlyThatCohort_ParticipantInTwoCohortsKeptSeparately()
    {
        var store = await NewStoreAsync();
        await store.UpsertEnrollmentAsync(new EnrollmentRecord { ParticipantId = "p-2", CohortId = "c-1", Training = true, UpdatedAt = T0 }, Ct);
        await store.UpsertEnrollmentAsync(new EnrollmentRecord { ParticipantId = "p-1", CohortId = "c-1", Analytics = true, UpdatedAt = T0 }, Ct);
        await store.UpsertEnrollmentAsync(new EnrollmentRecord { ParticipantId = "p-1", CohortId = "c-2", Training = true, UpdatedAt = T0 }, Ct);

        var c1 = await store.ListEnrollmentsAsync("c-1", Ct);
        var c2 = await store.ListEnrollmentsAsync("c-2", Ct);

        Assert.Equal(["p-1", "p-2"], c1.Select(e => e.ParticipantId).Order(StringComparer.Ordinal));
        Assert.False(c1.Single(e => e.ParticipantId == "p-1").Training);
        Assert.True(Assert.Single(c2).Training);
        Assert.Empty(await store.ListEnrollmentsAsync("c-3", Ct));
    }

    // ---- custodians

    [Fact]
    public async Task UpsertCustodian_New_Listed()
    {
        var store = await NewStoreAsync();

        await store.UpsertCustodianAsync(Custodian("cu-1", 1), Ct);

        var listed = Assert.Single(await store.ListCustodiansAsync(Ct));
        Assert.Equal("cu-1", listed.CustodianId);
        Assert.Equal(1, listed.Party);
        Assert.Equal(Custodian("cu-1", 1).AgreementPublicKey, listed.AgreementPublicKey);
        Assert.Equal(T0, listed.RegisteredAt);
    }

    [Fact]
    public async Task UpsertCustodian_SameIdSameParty_ReplacesKey()
    {
        var store = await NewStoreAsync();
        await store.UpsertCustodianAsync(Custodian("cu-1", 1, key: 1), Ct);

        await store.UpsertCustodianAsync(Custodian("cu-1", 1, key: 9), Ct);

        var listed = Assert.Single(await store.ListCustodiansAsync(Ct));
        Assert.Equal(Custodian("cu-1", 1, key: 9).AgreementPublicKey, listed.AgreementPublicKey);
    }

    [Fact]
    public async Task UpsertCustodian_PartyTakenByOtherId_ThrowsStoreConflictAndKeepsFirst()
    {
        var store = await NewStoreAsync();
        await store.UpsertCustodianAsync(Custodian("cu-1", 1, key: 1), Ct);

        await Assert.ThrowsAsync<StoreConflictException>(() => store.UpsertCustodianAsync(Custodian("cu-2", 1, key: 2), Ct));

        var listed = Assert.Single(await store.ListCustodiansAsync(Ct));
        Assert.Equal("cu-1", listed.CustodianId);
        Assert.Equal(Custodian("cu-1", 1, key: 1).AgreementPublicKey, listed.AgreementPublicKey);
    }

    [Fact]
    public async Task UpsertCustodian_ParallelSamePartyDifferentIds_ExactlyOneRegistered()
    {
        var store = await NewStoreAsync();

        var results = await InParallelAsync(
            32,
            async i =>
            {
                try
                {
                    await store.UpsertCustodianAsync(Custodian($"cu-{i}", 1), Ct);
                    return true;
                }
                catch (StoreConflictException)
                {
                    return false;
                }
            });

        Assert.Single(results, r => r);
        Assert.Single(await store.ListCustodiansAsync(Ct));
    }

    [Fact]
    public async Task ListCustodians_SeveralParties_AllListedByParty()
    {
        var store = await NewStoreAsync();
        await store.UpsertCustodianAsync(Custodian("cu-c", 3), Ct);
        await store.UpsertCustodianAsync(Custodian("cu-a", 1), Ct);
        await store.UpsertCustodianAsync(Custodian("cu-b", 2), Ct);

        var listed = await store.ListCustodiansAsync(Ct);

        Assert.Equal([1, 2, 3], listed.Select(c => c.Party).Order());
        Assert.Equal(["cu-a", "cu-b", "cu-c"], listed.OrderBy(c => c.Party).Select(c => c.CustodianId));
    }

    [Fact]
    public async Task ListCustodians_Empty_ReturnsEmpty()
    {
        var store = await NewStoreAsync();

        Assert.Empty(await store.ListCustodiansAsync(Ct));
    }
}
