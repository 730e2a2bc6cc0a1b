using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Protocol.V1;
using Xunit;

namespace PrivateHealth.Grpc.Tests;

/// <summary>A real Kestrel host whose methods require bearer tokens from an embedded development issuer.</summary>
internal sealed class AuthTestHost : IAsyncDisposable
{
    public const string GetParameters = "/privatehealth.v1.ParticipantProtocol/GetParameters";
    public const string UploadUpdate = "/privatehealth.v1.ParticipantProtocol/UploadUpdate";
    public const string WatchRounds = "/privatehealth.v1.ParticipantProtocol/WatchRounds";
    public const string CustodianAnswer = "/privatehealth.v1.CustodianProtocol/SubmitShare";

    private readonly WebApplication _app;
    private int _uploadCalls;

    private AuthTestHost(WebApplication app, Uri address, DevelopmentTokenIssuer issuer)
    {
        _app = app;
        Address = address;
        Issuer = issuer;
    }

    public Uri Address { get; }

    public DevelopmentTokenIssuer Issuer { get; }

    public int UploadCalls => Volatile.Read(ref _uploadCalls);

    public static async Task<AuthTestHost> StartAsync()
    {
        var issuer = new DevelopmentTokenIssuer();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.ListenLoopbackHttp2();
        builder.Services.AddGrpcLite();
        builder.Services.AddPrivateHealthAuthentication(new PrivateHealthAuthenticationOptions { DevelopmentIssuer = issuer });
        var app = builder.Build();
        AuthTestHost? host = null;

        // Any authenticated caller.
        app.MapGrpcUnary<GetParametersRequest, ParametersReply>(GetParameters, (request, context) =>
            Task.FromResult(new ParametersReply { ParametersId = $"{context.Role}:{context.PrincipalId}:{request.JobId}" }))
            .RequireGrpcAuthentication();

        // Participants only, and only as themselves.
        app.MapGrpcUnary<UploadRequest, UploadReply>(UploadUpdate, (request, context) =>
        {
            context.EnsureCallerIs(request.ParticipantId);
            Interlocked.Increment(ref host!._uploadCalls);
            return Task.FromResult(new UploadReply { Accepted = true, Message = context.User.Identity?.Name ?? string.Empty });
        }).RequireRoles(Roles.Participant);

        app.MapGrpcServerStreaming<WatchRequest, RoundEvent>(WatchRounds, async (request, writer, context) =>
        {
            for (var round = 1; round <= 2; round++)
            {
                await writer.WriteAsync(new RoundEvent { Round = round, State = context.PrincipalId ?? "?" }, context.CancellationToken);
            }
        }).RequireRoles(Roles.Participant, Roles.Researcher);

        // Custodians only, answering for themselves (participant_id carries the custodian id here).
        app.MapGrpcUnary<UploadRequest, UploadReply>(CustodianAnswer, (request, context) =>
        {
            context.EnsureCallerIs(request.ParticipantId);
            return Task.FromResult(new UploadReply { Accepted = true, Message = "custodian " + context.PrincipalId });
        }).RequireRoles(Roles.Custodian);

        app.MapGrpcUnimplemented();
        await app.StartAsync(TestContext.Current.CancellationToken);
        host = new AuthTestHost(app, app.GetBoundAddress(), issuer);
        return host;
    }

    public string Token(string subject, string role) => Issuer.CreateToken(subject, role);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        Issuer.Dispose();
    }
}
