using Google.Protobuf;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Keys;

/// <summary>Where a set of custodian tasks stands: all answers, a failure (refusal or timeout), or still waiting.</summary>
/// <param name="Answers">Every party's answer in party order, once all are in; otherwise null.</param>
/// <param name="Failure">Why the tasks cannot complete (a refusal, or no answer within the timeout); otherwise null.</param>
/// <param name="Waiting">Parties that have not answered yet.</param>
public sealed record TaskCollection(IReadOnlyList<(int Party, CustodianAnswer Answer)>? Answers, string? Failure, IReadOnlyList<int> Waiting);

/// <summary>
/// The one way the coordinator asks custodians for something: one task per party with a deterministic id, created
/// once (a restart finds them), then the stored answers collected. Used by the key ceremony, training rounds and
/// query jobs, which differ only in what they do with a failure.
/// </summary>
public static class CustodianTasks
{
    /// <param name="store">Where tasks and answers live.</param>
    /// <param name="board">Pulsed when tasks were added, so custodian streams deliver them.</param>
    /// <param name="now">The current time.</param>
    /// <param name="scope">Groups the tasks (e.g. <c>job:j:round:3:decrypt</c>).</param>
    /// <param name="taskIdPrefix">Task ids are <c>{prefix}/p{party}</c>.</param>
    /// <param name="parties">The custodians asked.</param>
    /// <param name="build">The task for one party (its id is set here).</param>
    /// <param name="kind">What is asked, for messages.</param>
    /// <param name="timeout">Unanswered tasks older than this fail the collection; null waits indefinitely.</param>
    /// <param name="ct">Cancellation.</param>
    public static async Task<TaskCollection> CollectAsync(ICoordinatorStore store, CustodianTaskBoard board, DateTimeOffset now, string scope, string taskIdPrefix,
        IReadOnlyCollection<int> parties, Func<int, CustodianTask> build, string kind, TimeSpan? timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(parties);
        ArgumentNullException.ThrowIfNull(build);
        var tasks = await store.ListTasksAsync(scope, ct).ConfigureAwait(false);
        if (tasks.Count < parties.Count)
        {
            bool added = false;
            foreach (int party in parties)
            {
                var task = build(party);
                task.TaskId = $"{taskIdPrefix}/p{party}";
                added |= await store.AddTaskAsync(new CustodianTaskRecord
                {
                    TaskId = task.TaskId,
                    Scope = scope,
                    Party = party,
                    Payload = task.ToByteArray(),
                    CreatedAt = now,
                }, ct).ConfigureAwait(false);
            }

            if (added)
            {
                board.Changed.Pulse();
            }

            tasks = await store.ListTasksAsync(scope, ct).ConfigureAwait(false);
        }

        var answered = tasks.Where(t => t.Answer is not null).Select(t => (t.Party, Answer: CustodianAnswer.Parser.ParseFrom(t.Answer!))).ToList();
        var waiting = tasks.Where(t => t.Answer is null).Select(t => t.Party).Order().ToList();
        if (answered.FirstOrDefault(a => a.Answer.Refusal.Length > 0) is { Answer: not null } refused)
        {
            return new TaskCollection(null, $"custodian {refused.Party} refused the {kind} task: {refused.Answer.Refusal}", waiting);
        }

        if (answered.Count >= parties.Count)
        {
            return new TaskCollection([.. answered.OrderBy(a => a.Party)], null, waiting);
        }

        if (timeout is { } limit && now - tasks.Min(t => t.CreatedAt) > limit)
        {
            return new TaskCollection(null, $"custodian(s) {string.Join(", ", waiting)} did not answer the {kind} task within {limit.TotalSeconds:0} s", waiting);
        }

        return new TaskCollection(null, null, waiting);
    }
}
