using System.Diagnostics;
using System.Text;
using Google.Protobuf;
using PrivateHealth.Protocol.V1;
using Xunit;

namespace PrivateHealth.Grpc.Tests;

/// <summary>
/// Interop with an official gRPC implementation: Debian's python3-grpcio (gRPC C core) as client.
/// Needs: apt-get install -y python3-grpcio python3-protobuf. Runs /usr/bin/python3 explicitly, because
/// Debian's python packages are only importable by the system interpreter (not pyenv/venv shims on PATH).
/// </summary>
public sealed class PythonInteropTests
{
    private const string Python = "/usr/bin/python3";
    private const string InstallHint = "Install the official gRPC python client with: apt-get install -y python3-grpcio python3-protobuf";

    [Fact]
    public async Task Python_grpcio_unary_call_round_trips()
    {
        await using var host = await TestHost.StartAsync();
        var request = new UploadRequest { JobId = "job-py", Round = 2, ParticipantId = "hospital-a" };
        request.Ciphertexts.Add(ByteString.CopyFromUtf8("ciphertext-0"));
        request.Ciphertexts.Add(ByteString.CopyFrom(new byte[4096]));

        var lines = await RunClientAsync(host, "unary", TestHost.UploadUpdate, request);

        var line = Assert.Single(lines);
        Assert.StartsWith("OK ", line, StringComparison.Ordinal);
        var reply = UploadReply.Parser.ParseFrom(Convert.FromHexString(line[3..]));
        Assert.True(reply.Accepted);
        Assert.Equal("hospital-a@job-py#2", reply.Message);
        Assert.Equal(2, reply.ContentIds.Count);
        Assert.Equal(1, host.UploadCalls);
    }

    [Fact]
    public async Task Python_grpcio_server_streaming_receives_all_events()
    {
        await using var host = await TestHost.StartAsync();

        var lines = await RunClientAsync(host, "stream", TestHost.WatchRounds, new WatchRequest { JobId = "12" });

        Assert.Equal("END OK", lines[^1]);
        var events = lines.SkipLast(1).Select(l =>
        {
            Assert.StartsWith("MSG ", l, StringComparison.Ordinal);
            return RoundEvent.Parser.ParseFrom(Convert.FromHexString(l[4..]));
        }).ToList();
        Assert.Equal(Enumerable.Range(1, 12), events.Select(e => e.Round));
        Assert.Equal("completed", events[^1].State);
    }

    [Theory]
    [InlineData("bad", "INVALID_ARGUMENT", TestHost.InvalidJobMessage)]
    [InlineData("missing", "NOT_FOUND", "no such job")]
    [InlineData("crash", "INTERNAL", "Exception was thrown by handler.")]
    public async Task Python_grpcio_sees_handler_status_and_decoded_message(string jobId, string status, string detail)
    {
        await using var host = await TestHost.StartAsync();

        var lines = await RunClientAsync(host, "unary", TestHost.GetParameters, new GetParametersRequest { JobId = jobId });

        Assert.Equal($"ERR {status} {detail}".TrimEnd(), string.Join("\n", lines).TrimEnd());
    }

    [Fact]
    public async Task Python_grpcio_sees_UNIMPLEMENTED_for_unknown_method()
    {
        await using var host = await TestHost.StartAsync();

        var lines = await RunClientAsync(host, "unary", "/privatehealth.v1.ParticipantProtocol/Nope", new GetParametersRequest());

        Assert.StartsWith("ERR UNIMPLEMENTED", Assert.Single(lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Python_grpcio_deadline_is_DEADLINE_EXCEEDED()
    {
        await using var host = await TestHost.StartAsync();

        var lines = await RunClientAsync(host, "unary", TestHost.GetParameters, new GetParametersRequest { JobId = "slow" }, timeoutSeconds: "0.2");

        Assert.StartsWith("ERR DEADLINE_EXCEEDED", Assert.Single(lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Python_grpcio_stream_error_after_messages()
    {
        await using var host = await TestHost.StartAsync();

        var lines = await RunClientAsync(host, "stream", TestHost.WatchRounds, new WatchRequest { JobId = "2:fail" });

        Assert.Equal(3, lines.Count);
        Assert.Equal("ERR ABORTED job aborted by coordinator", lines[2]);
    }

    private static async Task EnsurePythonGrpcAsync()
    {
        if (!File.Exists(Python))
        {
            Assert.Fail($"{Python} not found. {InstallHint}");
        }

        var (exit, _, stderr) = await RunAsync(["-c", "import grpc, google.protobuf"], TimeSpan.FromSeconds(30));
        if (exit != 0)
        {
            Assert.Fail($"{Python} cannot import grpc ({stderr.Trim()}). {InstallHint}");
        }
    }

    private static async Task<List<string>> RunClientAsync(TestHost host, string mode, string method, IMessage request, string timeoutSeconds = "20")
    {
        await EnsurePythonGrpcAsync();
        var script = Path.Combine(AppContext.BaseDirectory, "interop_client.py");
        var (exit, stdout, stderr) = await RunAsync([script, host.Target, mode, method, Convert.ToHexStringLower(request.ToByteArray()), timeoutSeconds], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, $"python client exited with {exit}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string[] args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["PYTHONIOENCODING"] = "utf-8";
        info.Environment["PYTHONNOUSERSITE"] = "1";
        info.Environment.Remove("PYTHONPATH");
        info.Environment.Remove("PYTHONHOME");
        foreach (var proxy in new[] { "http_proxy", "https_proxy", "all_proxy", "grpc_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY" })
        {
            info.Environment.Remove(proxy);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + Python);
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"python client timed out after {timeout}; stdout so far: {(stdout.IsCompleted ? stdout.Result : "")}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
