namespace PrivateHealth.Homomorphic.Multiparty;

/// <summary>
/// Aggregates the shares of one protocol session as they arrive (the coordinator's side): checks each share's
/// kind, session, parameters and shape against the session, refuses a second share from the same party and a
/// party outside the expected set, and reports completion once <see cref="Required"/> distinct parties answered.
/// Not thread-safe.
/// </summary>
public sealed class ShareCollector
{
    private readonly ProtocolBase _protocol;
    private readonly HashSet<int> _parties = [];
    private readonly IReadOnlySet<int>? _allowed;

    /// <param name="protocol">The protocol whose AggregateShares sums the shares.</param>
    /// <param name="aggregate">A freshly allocated share (any party) of the session's kind and shape; receives the sum.</param>
    /// <param name="required">How many distinct parties must contribute.</param>
    /// <param name="allowedParties">The parties allowed to contribute, or null for any party ≥ 1.</param>
    public ShareCollector(ProtocolBase protocol, Share aggregate, int required, IReadOnlySet<int>? allowedParties = null)
    {
        if (required < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(required));
        }

        _protocol = protocol;
        Aggregate = aggregate;
        Required = required;
        _allowed = allowedParties;
        foreach (var p in aggregate.Polys)
        {
            p.Clear();
        }

        Aggregate.Party = 0;
    }

    public Share Aggregate { get; }
    public int Required { get; }
    public IReadOnlyCollection<int> Parties => _parties;
    public bool IsComplete => _parties.Count >= Required;

    /// <summary>Adds a share; throws <see cref="ShareRejectedException"/> (and changes nothing) if it does not belong.</summary>
    public bool Add(Share share)
    {
        if (share.Party < 1)
        {
            throw new ShareRejectedException($"A share must come from a party ≥ 1 (got {share.Party}).");
        }

        if (_allowed is not null && !_allowed.Contains(share.Party))
        {
            throw new ShareRejectedException($"Party {share.Party} is not part of this session.");
        }

        if (_parties.Contains(share.Party))
        {
            throw new ShareRejectedException($"Party {share.Party} already sent a share for session {share.Session.ToString()[..8]}…; a second share is refused (repeated shares enable key recovery).");
        }

        if (IsComplete)
        {
            throw new ShareRejectedException("The session already has all the shares it needs.");
        }

        if (!Aggregate.IsCompatibleWith(share))
        {
            throw new ShareRejectedException($"The {share.Kind} share of party {share.Party} does not match the session (kind, session, parameters or shape differ).");
        }

        _protocol.AggregateShares(Aggregate, share, Aggregate);
        _parties.Add(share.Party);
        return IsComplete;
    }
}
