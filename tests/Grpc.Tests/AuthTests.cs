using System.Net;
using PrivateHealth.Grpc.Auth;
using PrivateHealth.Protocol.V1;
using Xunit;

namespace PrivateHealth.Grpc.Tests;

public sealed class AuthTests : IAsyncLifetime
{
    private AuthTestHost _host = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _host = await AuthTestHost.StartAsync();

    public async ValueTask DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task No_token_is_unauthenticated_in_grpc_status_not_http_401()
    {
        var result = await RawGrpc.SendAsync(_host.Address, AuthTestHost.UploadUpdate, GrpcProtocol.Frame(Upload("p1")));

        Assert.Equal(HttpStatusCode.OK, result.HttpStatus);
        Assert.True(result.TrailersOnly);
        Assert.Equal(16, result.GrpcStatus);

        using var channel = new GrpcChannelLite(_host.Address);
        var ex = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync<UploadRequest, UploadReply>(AuthTestHost.UploadUpdate, Upload("p1"), cancellationToken: Ct));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Equal(0, _host.UploadCalls);
    }

    [Fact]
    public async Task Expired_token_is_unauthenticated()
    {
        var token = _host.Issuer.CreateToken("p1", Roles.Participant, TimeSpan.FromMinutes(5), DateTimeOffset.UtcNow.AddHours(-1));

        var ex = await CallUploadAsync(token, "p1");

        Assert.Equal(StatusCode.Unauthenticated, ex?.StatusCode);
        Assert.Contains("expired", ex!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_signed_by_another_key_is_unauthenticated()
    {
        using var other = new DevelopmentTokenIssuer();
        var ex = await CallUploadAsync(other.CreateToken("p1", Roles.Participant), "p1");
        Assert.Equal(StatusCode.Unauthenticated, ex?.StatusCode);
    }

    [Fact]
    public async Task Wrong_audience_or_issuer_is_unauthenticated()
    {
        var wrongAudience = _host.Issuer.CreateToken("p1", Roles.Participant, audience: "urn:someone-else");
        Assert.Equal(StatusCode.Unauthenticated, (await CallUploadAsync(wrongAudience, "p1"))?.StatusCode);

        using var otherIssuer = DevelopmentTokenIssuer.FromPem(_host.Issuer.ExportPrivateKeyPem(), issuer: "urn:other-issuer");
        Assert.Equal(StatusCode.Unauthenticated, (await CallUploadAsync(otherIssuer.CreateToken("p1", Roles.Participant), "p1"))?.StatusCode);
    }

    [Fact]
    public async Task Garbage_and_tampered_tokens_are_unauthenticated()
    {
        Assert.Equal(StatusCode.Unauthenticated, (await CallUploadAsync("not-a-jwt", "p1"))?.StatusCode);

        var token = _host.Token("p1", Roles.Participant);
        var parts = token.Split('.');
        var researcherPayload = _host.Token("p1", Roles.Researcher).Split('.')[1];
        var tampered = $"{parts[0]}.{researcherPayload}.{parts[2]}";
        Assert.Equal(StatusCode.Unauthenticated, (await CallUploadAsync(tampered, "p1"))?.StatusCode);
        Assert.Equal(0, _host.UploadCalls);
    }

    [Fact]
    public async Task Same_key_loaded_from_pem_is_accepted()
    {
        using var copy = DevelopmentTokenIssuer.FromPem(_host.Issuer.ExportPrivateKeyPem());
        Assert.Null(await CallUploadAsync(copy.CreateToken("p1", Roles.Participant), "p1"));
    }

    [Fact]
    public async Task Researcher_on_participant_method_is_permission_denied()
    {
        var ex = await CallUploadAsync(_host.Token("r1", Roles.Researcher), "r1");
        Assert.Equal(StatusCode.PermissionDenied, ex?.StatusCode);
        Assert.Equal(0, _host.UploadCalls);
    }

    [Fact]
    public async Task Participant_uploading_as_itself_is_ok()
    {
        using var handler = new BearerTokenHandler(_host.Token("p1", Roles.Participant));
        using var channel = new GrpcChannelLite(_host.Address, handler);

        var reply = await channel.UnaryAsync<UploadRequest, UploadReply>(AuthTestHost.UploadUpdate, Upload("p1"), cancellationToken: Ct);

        Assert.True(reply.Accepted);
        Assert.Equal("p1", reply.Message);
        Assert.Equal(1, _host.UploadCalls);
    }

    [Fact]
    public async Task Participant_spoofing_another_participant_is_permission_denied_by_handler()
    {
        var ex = await CallUploadAsync(_host.Token("p1", Roles.Participant), "p2");
        Assert.Equal(StatusCode.PermissionDenied, ex?.StatusCode);
        Assert.Equal(0, _host.UploadCalls);
    }

    [Fact]
    public async Task Custodian_method_accepts_only_custodians_answering_for_themselves()
    {
        Assert.Null(await CallAsync(AuthTestHost.CustodianAnswer, _host.Token("c1", Roles.Custodian), "c1"));
        Assert.Equal(StatusCode.PermissionDenied, (await CallAsync(AuthTestHost.CustodianAnswer, _host.Token("c1", Roles.Custodian), "c2"))?.StatusCode);
        foreach (var role in new[] { Roles.Participant, Roles.Researcher, Roles.Operator })
        {
            Assert.Equal(StatusCode.PermissionDenied, (await CallAsync(AuthTestHost.CustodianAnswer, _host.Token("c1", role), "c1"))?.StatusCode);
        }

        Assert.Equal(StatusCode.Unauthenticated, (await CallAsync(AuthTestHost.CustodianAnswer, null, "c1"))?.StatusCode);
    }

    [Fact]
    public async Task Any_role_method_sees_caller_identity()
    {
        using var handler = new BearerTokenHandler(_host.Token("op", Roles.Operator));
        using var channel = new GrpcChannelLite(_host.Address, handler);

        var reply = await channel.UnaryAsync<GetParametersRequest, ParametersReply>(AuthTestHost.GetParameters, new GetParametersRequest { JobId = "j" }, cancellationToken: Ct);

        Assert.Equal("operator:op:j", reply.ParametersId);
    }

    [Fact]
    public async Task Server_streaming_checks_roles_too()
    {
        string? token = _host.Token("r9", Roles.Researcher);
        using var handler = new BearerTokenHandler(_ => ValueTask.FromResult<string?>(token));
        using var channel = new GrpcChannelLite(_host.Address, handler);

        var events = new List<RoundEvent>();
        await foreach (var e in channel.ServerStreamingAsync<WatchRequest, RoundEvent>(AuthTestHost.WatchRounds, new WatchRequest { JobId = "j" }, cancellationToken: Ct))
        {
            events.Add(e);
        }

        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal("r9", e.State));

        token = _host.Token("c1", Roles.Custodian);
        var ex = await Assert.ThrowsAsync<GrpcStatusException>(async () =>
        {
            await foreach (var unused in channel.ServerStreamingAsync<WatchRequest, RoundEvent>(AuthTestHost.WatchRounds, new WatchRequest { JobId = "j" }, cancellationToken: Ct))
            {
                _ = unused;
            }
        });
        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
    }

    [Fact]
    public void Issuer_rejects_unknown_roles()
    {
        Assert.Throws<ArgumentException>(() => _host.Issuer.CreateToken("x", "admin"));
        Assert.Throws<ArgumentException>(() => new Microsoft.AspNetCore.Builder.RouteHandlerBuilder([]).RequireRoles("admin"));
    }

    private static UploadRequest Upload(string participantId)
    {
        var request = new UploadRequest { JobId = "job", Round = 1, ParticipantId = participantId };
        request.Ciphertexts.Add(Google.Protobuf.ByteString.CopyFrom(1, 2, 3));
        return request;
    }

    private Task<GrpcStatusException?> CallUploadAsync(string? token, string participantId) => CallAsync(AuthTestHost.UploadUpdate, token, participantId);

    private async Task<GrpcStatusException?> CallAsync(string method, string? token, string participantId)
    {
        using var handler = new BearerTokenHandler(_ => ValueTask.FromResult<string?>(token));
        using var channel = new GrpcChannelLite(_host.Address, handler);
        try
        {
            await channel.UnaryAsync<UploadRequest, UploadReply>(method, Upload(participantId), cancellationToken: Ct);
            return null;
        }
        catch (GrpcStatusException ex)
        {
            return ex;
        }
    }
}
