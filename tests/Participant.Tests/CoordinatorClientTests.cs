using System.Net.Http;
using System.Net.Sockets;
using PrivateHealth.Grpc;
using PrivateHealth.Participant.Network;

namespace PrivateHealth.Participant.Tests;

public sealed class CoordinatorClientTests
{
    public static TheoryData<StatusCode, bool> StatusClassification => new()
    {
        { StatusCode.OK, false },
        { StatusCode.Cancelled, true },
        { StatusCode.Unknown, true },
        { StatusCode.InvalidArgument, false },
        { StatusCode.DeadlineExceeded, true },
        { StatusCode.NotFound, false },
        { StatusCode.AlreadyExists, false },
        { StatusCode.PermissionDenied, false },
        { StatusCode.ResourceExhausted, false },
        { StatusCode.FailedPrecondition, false },
        { StatusCode.Aborted, true },
        { StatusCode.OutOfRange, false },
        { StatusCode.Unimplemented, false },
        { StatusCode.Internal, true },
        { StatusCode.Unavailable, true },
        { StatusCode.DataLoss, false },
        { StatusCode.Unauthenticated, false },
    };

    [Theory]
    [MemberData(nameof(StatusClassification))]
    public void GrpcStatusesAreClassified(StatusCode code, bool transient) =>
        Assert.Equal(transient, CoordinatorClient.IsTransient(new GrpcStatusException(code, "detail")));

    [Fact]
    public void EveryStatusCodeIsInTheTable() =>
        Assert.Equal(Enum.GetValues<StatusCode>().Length, StatusClassification.Count);

    public static TheoryData<Exception, bool> ExceptionClassification => new()
    {
        { new HttpRequestException("connection refused"), true },
        { new IOException("connection reset"), true },
        { new EndOfStreamException(), true },
        { new SocketException((int)SocketError.ConnectionRefused), true },
        { new TimeoutException(), true },
        { new OperationCanceledException(), false },
        { new TaskCanceledException(), false },
        { new InvalidOperationException(), false },
        { new ArgumentException("bad"), false },
        { new System.Security.Cryptography.CryptographicException(), false },
        { new AggregateException(new HttpRequestException()), false },
        { new GrpcStatusException("no status"), true },
    };

    [Theory]
    [MemberData(nameof(ExceptionClassification))]
    public void OtherExceptionsAreClassified(Exception exception, bool transient) =>
        Assert.Equal(transient, CoordinatorClient.IsTransient(exception));

    [Fact]
    public void DelayDoublesFromInitialAndCapsAtMax()
    {
        var policy = new RetryPolicy { Initial = TimeSpan.FromMilliseconds(10), Max = TimeSpan.FromMilliseconds(500) };
        Assert.Equal(TimeSpan.FromMilliseconds(10), policy.Delay(0));
        Assert.Equal(TimeSpan.FromMilliseconds(20), policy.Delay(1));
        Assert.Equal(TimeSpan.FromMilliseconds(40), policy.Delay(2));
        Assert.Equal(TimeSpan.FromMilliseconds(320), policy.Delay(5));
        Assert.Equal(TimeSpan.FromMilliseconds(500), policy.Delay(6));
        Assert.Equal(TimeSpan.FromMilliseconds(500), policy.Delay(100));
        Assert.Equal(TimeSpan.FromMilliseconds(500), policy.Delay(int.MaxValue));
        for (int attempt = 1; attempt < 64; attempt++)
        {
            Assert.True(policy.Delay(attempt) >= policy.Delay(attempt - 1));
            Assert.True(policy.Delay(attempt) <= policy.Max);
        }
    }

    [Fact]
    public void DefaultDelaysAreHundredMillisecondsToThreeSeconds()
    {
        var policy = new RetryPolicy();
        Assert.Equal(TimeSpan.FromMilliseconds(100), policy.Delay(0));
        Assert.Equal(TimeSpan.FromMilliseconds(1600), policy.Delay(4));
        Assert.Equal(TimeSpan.FromSeconds(3), policy.Delay(5));
        Assert.Equal(TimeSpan.FromSeconds(3), policy.Delay(1000));
    }

    [Fact]
    public void MaxBelowInitialCapsEveryDelay()
    {
        var policy = new RetryPolicy { Initial = TimeSpan.FromSeconds(1), Max = TimeSpan.FromMilliseconds(5) };
        Assert.Equal(TimeSpan.FromMilliseconds(5), policy.Delay(0));
        Assert.Equal(TimeSpan.FromMilliseconds(5), policy.Delay(3));
    }

    private static RetryPolicy Fast => new() { Initial = TimeSpan.FromMilliseconds(1), Max = TimeSpan.FromMilliseconds(4) };

    [Fact]
    public async Task RunAsyncRetriesTransientFailuresUntilSuccess()
    {
        int calls = 0;
        Exception[] failures =
        [
            new HttpRequestException("refused"),
            new GrpcStatusException(StatusCode.Unavailable, "restarting"),
            new GrpcStatusException(StatusCode.DeadlineExceeded, "slow"),
            new IOException("reset"),
        ];
        int result = await Fast.RunAsync(_ =>
        {
            int n = calls++;
            return n < failures.Length ? Task.FromException<int>(failures[n]) : Task.FromResult(42);
        }, TestContext.Current.CancellationToken);
        Assert.Equal(42, result);
        Assert.Equal(failures.Length + 1, calls);
    }

    [Fact]
    public async Task RunAsyncRetriesFailuresThrownSynchronously()
    {
        int calls = 0;
        int result = await Fast.RunAsync<int>(_ => ++calls < 3 ? throw new HttpRequestException("sync") : Task.FromResult(7), TestContext.Current.CancellationToken);
        Assert.Equal(7, result);
        Assert.Equal(3, calls);
    }

    [Theory]
    [InlineData(StatusCode.InvalidArgument)]
    [InlineData(StatusCode.NotFound)]
    [InlineData(StatusCode.FailedPrecondition)]
    [InlineData(StatusCode.PermissionDenied)]
    [InlineData(StatusCode.Unauthenticated)]
    public async Task RunAsyncRethrowsNonTransientFailuresImmediately(StatusCode code)
    {
        int calls = 0;
        var ex = await Assert.ThrowsAsync<GrpcStatusException>(() => Fast.RunAsync<int>(_ =>
        {
            calls++;
            return Task.FromException<int>(new GrpcStatusException(code, "no"));
        }, TestContext.Current.CancellationToken));
        Assert.Equal(code, ex.StatusCode);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task RunAsyncRethrowsANonTransientFailureAfterTransientOnes()
    {
        int calls = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => Fast.RunAsync<int>(_ =>
            ++calls < 3 ? Task.FromException<int>(new GrpcStatusException(StatusCode.Unavailable, "down")) : Task.FromException<int>(new InvalidOperationException()),
            TestContext.Current.CancellationToken));
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task RunAsyncPassesItsTokenToTheCall()
    {
        using var cts = new CancellationTokenSource();
        CancellationToken seen = default;
        await Fast.RunAsync(c =>
        {
            seen = c;
            return Task.FromResult(0);
        }, cts.Token);
        Assert.Equal(cts.Token, seen);
    }

    [Fact]
    public async Task RunAsyncStopsOnCancellationWhileRetrying()
    {
        using var cts = new CancellationTokenSource();
        int calls = 0;
        var policy = new RetryPolicy { Initial = TimeSpan.FromMilliseconds(1), Max = TimeSpan.FromMilliseconds(20) };
        var run = policy.RunAsync<int>(_ =>
        {
            if (++calls == 5)
            {
                cts.Cancel();
            }

            return Task.FromException<int>(new GrpcStatusException(StatusCode.Unavailable, "down"));
        }, cts.Token);
        var ex = await Record.ExceptionAsync(() => run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));

        // Once the token is cancelled the transient failure is no longer swallowed: either it or the cancellation
        // surfaces, and no further attempt is made.
        Assert.True(ex is OperationCanceledException or GrpcStatusException, ex?.GetType().FullName ?? "completed");
        Assert.Equal(5, calls);
    }

    [Fact]
    public async Task RunAsyncStopsOnCancellationDuringTheBackoffDelay()
    {
        using var cts = new CancellationTokenSource();
        int calls = 0;
        var policy = new RetryPolicy { Initial = TimeSpan.FromMinutes(10), Max = TimeSpan.FromMinutes(10) };
        var run = policy.RunAsync<int>(_ =>
        {
            calls++;
            return Task.FromException<int>(new HttpRequestException("down"));
        }, cts.Token);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task RunAsyncPropagatesTheCallsOwnCancellation()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        int calls = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Fast.RunAsync<int>(c =>
        {
            calls++;
            c.ThrowIfCancellationRequested();
            return Task.FromResult(1);
        }, cts.Token));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task RunAsyncRequiresACall() =>
        await Assert.ThrowsAsync<ArgumentNullException>(() => Fast.RunAsync<int>(null!, TestContext.Current.CancellationToken));

    [Fact]
    public async Task AnUnreachableCoordinatorIsATransientFailure()
    {
        // Port 1 on loopback: connection refused, surfaced as a transient error (Unavailable).
        using var client = new CoordinatorClient(new Uri("http://127.0.0.1:1"), "token") { CallTimeout = TimeSpan.FromSeconds(10) };
        var ex = await Record.ExceptionAsync(() => client.GetJobAsync("job", TestContext.Current.CancellationToken));
        Assert.NotNull(ex);
        Assert.True(CoordinatorClient.IsTransient(ex), ex.ToString());
    }
}
