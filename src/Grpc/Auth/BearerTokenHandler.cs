using System.Net.Http.Headers;

namespace PrivateHealth.Grpc.Auth;

/// <summary>
/// Adds <c>authorization: Bearer &lt;token&gt;</c> to every call of a <see cref="GrpcChannelLite"/>:
/// <c>using var handler = new BearerTokenHandler(token); using var channel = new GrpcChannelLite(address, handler);</c>.
/// The channel does not dispose a handler it was given; dispose the handler after the channel
/// (it disposes its inner <see cref="SocketsHttpHandler"/>).
/// </summary>
public sealed class BearerTokenHandler : DelegatingHandler
{
    private readonly Func<CancellationToken, ValueTask<string?>> _tokenProvider;

    /// <summary>Sends a fixed token.</summary>
    public BearerTokenHandler(string token, HttpMessageHandler? innerHandler = null)
        : this(_ => ValueTask.FromResult<string?>(token), innerHandler)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(token);
    }

    /// <summary>Asks <paramref name="tokenProvider"/> for the token on each call (null: send no header), e.g. to refresh it.</summary>
    public BearerTokenHandler(Func<CancellationToken, ValueTask<string?>> tokenProvider, HttpMessageHandler? innerHandler = null)
        : base(innerHandler ?? new SocketsHttpHandler { UseProxy = false })
    {
        ArgumentNullException.ThrowIfNull(tokenProvider);
        _tokenProvider = tokenProvider;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var token = await _tokenProvider(cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(token))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
