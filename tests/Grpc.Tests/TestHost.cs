using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using PrivateHealth.Protocol.V1;
using Xunit;

namespace PrivateHealth.Grpc.Tests;

/// <summary>A real Kestrel host on 127.0.0.1 (port 0) serving ParticipantProtocol test handlers.</summary>
internal sealed class TestHost : IAsyncDisposable
{
    public const string GetParameters = "/privatehealth.v1.ParticipantProtocol/GetParameters";
    public const string UploadUpdate = "/privatehealth.v1.ParticipantProtocol/UploadUpdate";
    public const string WatchRounds = "/privatehealth.v1.ParticipantProtocol/WatchRounds";
    public const int MaxReceiveMessageSize = 64 * 1024;
    public const string InvalidJobMessage = "job id 'bad' is not known: ünïcødé 100%\r\n";

    private readonly WebApplication _app;
    private int _uploadCalls;
    private int _parameterCalls;

    private TestHost(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>host:port for the python client.</summary>
    public string Target => $"{Address.Host}:{Address.Port}";

    public int UploadCalls => Volatile.Read(ref _uploadCalls);

    public int ParameterCalls => Volatile.Read(ref _parameterCalls);

    public static async Task<TestHost> StartAsync(bool acceptHttp1 = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (acceptHttp1)
        {
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1AndHttp2));
        }
        else
        {
            builder.ListenLoopbackHttp2();
        }

        builder.Services.AddGrpcLite(o => o.MaxReceiveMessageSize = MaxReceiveMessageSize);
        var app = builder.Build();
        TestHost? host = null;

        app.MapGrpcUnary<GetParametersRequest, ParametersReply>(GetParameters, async (request, context) =>
        {
            Interlocked.Increment(ref host!._parameterCalls);
            switch (request.JobId)
            {
                case "bad":
                    throw new GrpcStatusException(StatusCode.InvalidArgument, InvalidJobMessage);
                case "missing":
                    throw new GrpcStatusException(StatusCode.NotFound, "no such job");
                case "argument":
                    throw new ArgumentException("job id must be lowercase");
                case "crash":
                    throw new InvalidOperationException("secret internal detail");
                case "slow":
                    await Task.Delay(TimeSpan.FromSeconds(10), context.CancellationToken);
                    break;
                case "slow-ignoring-cancellation":
                    await Task.Delay(TimeSpan.FromSeconds(3), CancellationToken.None);
                    break;
                default:
                    break;
            }

            return new ParametersReply
            {
                Parameters = Google.Protobuf.ByteString.CopyFrom(1, 2, 3, 250),
                ParametersId = "params-" + request.JobId,
            };
        });

        app.MapGrpcUnary<UploadRequest, UploadReply>(UploadUpdate, (request, context) =>
        {
            Interlocked.Increment(ref host!._uploadCalls);
            var reply = new UploadReply
            {
                Accepted = request.Ciphertexts.Count > 0,
                Message = $"{request.ParticipantId}@{request.JobId}#{request.Round}",
            };
            foreach (var ciphertext in request.Ciphertexts)
            {
                reply.ContentIds.Add(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(ciphertext.Span))[..16]);
            }

            return Task.FromResult(reply);
        });

        app.MapGrpcServerStreaming<WatchRequest, RoundEvent>(WatchRounds, async (request, writer, context) =>
        {
            // job id "N" or "N:fail" (fail with ABORTED after N events) or "N:slow".
            var parts = request.JobId.Split(':');
            var count = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
            for (var round = 1; round <= count; round++)
            {
                await writer.WriteAsync(new RoundEvent { Round = round, State = round == count ? "completed" : "aggregating" }, context.CancellationToken);
                if (parts.Length > 1 && parts[1] == "slow")
                {
                    await Task.Delay(50, context.CancellationToken);
                }
            }

            if (parts.Length > 1 && parts[1] == "fail")
            {
                throw new GrpcStatusException(StatusCode.Aborted, "job aborted by coordinator");
            }
        });

        app.MapGrpcUnimplemented();
        await app.StartAsync(TestContext.Current.CancellationToken);
        host = new TestHost(app, app.GetBoundAddress());
        return host;
    }

    public GrpcChannelLite CreateChannel() => new(Address);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
