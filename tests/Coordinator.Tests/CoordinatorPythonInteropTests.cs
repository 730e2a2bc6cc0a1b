using System.Diagnostics;
using System.Text;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Protocol;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Tests;

/// <summary>
/// The real coordinator driven by an official gRPC implementation: Debian's python3-grpcio (gRPC C core) as a
/// participant, with a bearer token in its metadata. Needs /usr/bin/python3 with python3-grpcio and
/// python3-protobuf (installed by ./privatehealth test).
/// </summary>
public sealed class CoordinatorPythonInteropTests
{
    private const string Python = "/usr/bin/python3";
    private const string InstallHint = "Install the official gRPC python client with: apt-get install -y python3-grpcio python3-protobuf";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Python_grpcio_participant_gets_parameters_watches_the_open_round_and_uploads_to_the_real_coordinator()
    {
        await EnsurePythonGrpcAsync();
        await using var harness = await CoordinatorHarness.StartAsync(ct: Ct);
        var store = harness.App.Services.GetRequiredService<ICoordinatorStore>();
        string target = $"{harness.Address.Host}:{harness.Address.Port}";
        harness.StartCustodians([1, 2, 3]);
        string keySet = await harness.RunCeremonyAsync(3, 2, relinearization: false, rotations: [], Ct);
        var spec = new TrainingJobSpec { CohortId = "py-cohort", Model = "logistic", Features = 4, Rounds = 1, MinParticipants = 2, RoundDeadlineMs = 600_000, OnTooFew = "fail", Seed = 3 };
        using var op = harness.Operator();
        var job = await op.CreateTrainingJobAsync(new CreateTrainingJobRequest { Spec = spec, KeySetId = keySet }, Ct);
        string pyToken = harness.Issuer.CreateToken("py-0", Roles.Participant);

        // unary with a bearer token: the same parameters and key the C# client gets
        var lines = await RunAsync(target, "unary", Methods.GetParameters, pyToken, new GetParametersRequest { JobId = job.JobId });
        var parameters = ParametersReply.Parser.ParseFrom(Ok(lines));
        using var cs = harness.Client("p-cs", Roles.Participant);
        var expected = await cs.GetParametersAsync(job.JobId, Ct);
        Assert.Equal(expected.ParametersId, parameters.ParametersId);
        Assert.Equal(expected.PublicKey, parameters.PublicKey);
        Assert.Equal(job.JobId, parameters.Job.JobId);
        Assert.Equal(keySet, parameters.KeySetId);

        // no token: UNAUTHENTICATED, unknown job: NOT_FOUND
        lines = await RunAsync(target, "unary", Methods.GetParameters, null, new GetParametersRequest { JobId = job.JobId });
        Assert.Equal("ERR UNAUTHENTICATED Missing bearer token.", Assert.Single(lines));
        lines = await RunAsync(target, "unary", Methods.GetParameters, pyToken, new GetParametersRequest { JobId = "job-nope" });
        Assert.Equal("ERR NOT_FOUND Job 'job-nope' not found.", Assert.Single(lines));

        // enroll, then follow WatchRounds (server streaming) until the round opens: it opens only once both are online
        lines = await RunAsync(target, "unary", Methods.Enroll, pyToken, new EnrollRequest { ParticipantId = "py-0", CohortId = "py-cohort", Training = true });
        Assert.True(EnrollReply.Parser.ParseFrom(Ok(lines)).Enrolled);
        var pyWatch = RunAsync(target, "stream", Methods.WatchRounds, pyToken, new WatchRequest { JobId = job.JobId, ParticipantId = "py-0" }, stopHex: Convert.ToHexStringLower(new RoundEvent { State = "open" }.ToByteArray()));
        await cs.EnrollAsync(new EnrollRequest { ParticipantId = "p-cs", CohortId = "py-cohort", Training = true }, Ct);
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var csOpen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var csWatch = Task.Run(async () =>
        {
            try
            {
                await foreach (var ev in cs.WatchRoundsAsync(job.JobId, "p-cs", watching.Token))
                {
                    if (ev.State == "open")
                    {
                        csOpen.TrySetResult();
                    }
                }
            }
            catch (Exception ex) when (watching.IsCancellationRequested)
            {
                _ = ex;
            }
            catch (Exception ex)
            {
                csOpen.TrySetException(ex);
            }
        }, CancellationToken.None);
        try
        {
            lines = await pyWatch;
            Assert.Equal("END STOP", lines[^1]);
            var events = lines.SkipLast(1).Select(l =>
            {
                Assert.StartsWith("MSG ", l, StringComparison.Ordinal);
                return RoundEvent.Parser.ParseFrom(Convert.FromHexString(l[4..]));
            }).ToList();
            var open = events[^1];
            Assert.Equal(("open", 0, true, job.JobId), (open.State, open.Round, open.Selected, open.JobId));
            Assert.Equal(spec.ParameterCount(), open.GlobalModel.Count);
            Assert.True(open.DeadlineUnixMs > DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            Assert.All(events.SkipLast(1), e => Assert.Equal("waiting", e.State));
            await csOpen.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

            // uploads from python: a malformed one (INVALID_ARGUMENT), one without a token (UNAUTHENTICATED), one as
            // somebody else (PERMISSION_DENIED), then a valid encrypted update (accepted)
            var p = CkksSerializer.DeserializeParameters(parameters.Parameters.Span);
            var pk = new CkksSerializer(p).DeserializePublicKey(parameters.PublicKey.Span);
            byte[] Encrypt(double value)
            {
                var vector = new double[spec.UploadLength()];
                int count = spec.ParameterCount();
                Array.Fill(vector, value, 0, count);
                vector[count] = 1.0; // the weight; the three metric values after it stay 0
                using var encryptor = new Encryptor(p.Rlwe, pk);
                return new CkksSerializer(p).Serialize(Assert.Single(new UpdatePacker(p).Encrypt(vector, encryptor)));
            }

            UploadRequest Upload(string participant, byte[] ciphertext) => new()
            {
                JobId = job.JobId, Round = 0, ParticipantId = participant, ParametersId = parameters.ParametersId, Ciphertexts = { ByteString.CopyFrom(ciphertext) },
            };

            byte[] valid = Encrypt(0.25);
            var corrupt = (byte[])valid.Clone();
            corrupt[corrupt.Length / 2] ^= 0x10;
            lines = await RunAsync(target, "unary", Methods.UploadUpdate, pyToken, Upload("py-0", corrupt));
            Assert.StartsWith("ERR INVALID_ARGUMENT Ciphertext 0 is not valid for this job (DigestMismatch)", Assert.Single(lines), StringComparison.Ordinal);
            lines = await RunAsync(target, "unary", Methods.UploadUpdate, null, Upload("py-0", valid));
            Assert.Equal("ERR UNAUTHENTICATED Missing bearer token.", Assert.Single(lines));
            lines = await RunAsync(target, "unary", Methods.UploadUpdate, pyToken, Upload("p-cs", valid));
            Assert.Equal("ERR PERMISSION_DENIED Caller may only act as itself.", Assert.Single(lines));
            Assert.Empty(await store.ListUploadsAsync(job.JobId, 0, Ct));

            lines = await RunAsync(target, "unary", Methods.UploadUpdate, pyToken, Upload("py-0", valid));
            var reply = UploadReply.Parser.ParseFrom(Ok(lines));
            Assert.True(reply.Accepted);
            Assert.False(reply.Duplicate);
            Assert.Equal(Convert.ToHexStringLower(CkksSerializer.ContentId(valid)), Assert.Single(reply.ContentIds));
            var stored = Assert.Single(await store.ListUploadsAsync(job.JobId, 0, Ct));
            Assert.Equal("py-0", stored.ParticipantId);
            Assert.Equal(valid, stored.Ciphertexts[0]);

            // the identical resend from python is counted once
            lines = await RunAsync(target, "unary", Methods.UploadUpdate, pyToken, Upload("py-0", valid));
            Assert.True(UploadReply.Parser.ParseFrom(Ok(lines)).Duplicate);

            // the C# participant completes the round: the python upload is part of the released average
            Assert.True((await cs.UploadAsync(Upload("p-cs", Encrypt(0.75)), Ct)).Accepted);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            JobStatus status;
            while ((status = await op.GetJobAsync(job.JobId, Ct)).State != "completed" || status.History.Any(h => h.State != "completed"))
            {
                Assert.True(status.State is "running" or "completed" && DateTime.UtcNow < deadline, $"job {status.State}: {status.Message}");
                await Task.Delay(50, Ct);
            }

            var round = Assert.Single(status.History);
            Assert.Equal((2, 2, 2.0), (round.Selected, round.Received, Math.Round(round.TotalWeight, 3)));
            Assert.All(status.GlobalModel, w => Assert.Equal(0.5, w, 3));
        }
        finally
        {
            await watching.CancelAsync();
            await csWatch;
        }
    }

    private static byte[] Ok(List<string> lines)
    {
        var line = Assert.Single(lines);
        Assert.StartsWith("OK ", line, StringComparison.Ordinal);
        return Convert.FromHexString(line[3..]);
    }

    private static async Task EnsurePythonGrpcAsync()
    {
        Assert.True(File.Exists(Python), $"{Python} not found. {InstallHint}");
        var (exit, _, stderr) = await RunProcessAsync(["-c", "import grpc, google.protobuf"], string.Empty, TimeSpan.FromSeconds(30));
        Assert.True(exit == 0, $"{Python} cannot import grpc ({stderr.Trim()}). {InstallHint}");
    }

    private static async Task<List<string>> RunAsync(string target, string mode, string method, string? token, IMessage request, string? stopHex = null)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "interop_coordinator.py");
        List<string> args = [script, target, mode, method, token ?? "-", "60"];
        if (stopHex is not null)
        {
            args.Add(stopHex);
        }

        var (exit, stdout, stderr) = await RunProcessAsync(args, Convert.ToHexStringLower(request.ToByteArray()), TimeSpan.FromSeconds(90));
        Assert.True(exit == 0, $"python client exited with {exit}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        return [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r'))];
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunProcessAsync(IEnumerable<string> args, string stdin, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
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
        foreach (var proxy in new[] { "http_proxy", "https_proxy", "all_proxy", "no_proxy", "grpc_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY" })
        {
            info.Environment.Remove(proxy);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + Python);
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.StandardInput.WriteAsync(stdin.AsMemory(), Ct);
        process.StandardInput.Close();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
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
