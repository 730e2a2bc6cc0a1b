using System.Buffers;
using PrivateHealth.Participant.Storage;

namespace PrivateHealth.Participant.Consent;

/// <summary>What a researcher's job would use the participant's data for.</summary>
public enum ConsentPurpose
{
    /// <summary>Encrypted analytics (counts, means, regressions over a cohort).</summary>
    Analytics = 1,

    /// <summary>Federated training (encrypted model updates).</summary>
    Training = 2,
}

public enum ConsentAction
{
    Grant = 1,
    Revoke = 2,
}

/// <summary>One entry of the consent history.</summary>
/// <param name="Sequence">0-based position in the ledger (ties in time are ordered by it).</param>
/// <param name="Purpose">Purpose the decision is about.</param>
/// <param name="CohortId">Cohort the decision is about.</param>
/// <param name="Action">Grant or revoke.</param>
/// <param name="At">When the decision takes effect (UTC).</param>
/// <param name="Note">Optional free text for the audit trail (e.g. the study's title shown to the person).</param>
public sealed record ConsentEvent(long Sequence, ConsentPurpose Purpose, string CohortId, ConsentAction Action, DateTimeOffset At, string? Note);

/// <summary>
/// The participant's consent decisions per purpose and per cohort, as an append-only history kept encrypted in an
/// <see cref="EncryptedSecretStore"/> entry. A purpose is allowed for a cohort at an instant when the latest decision
/// for that (purpose, cohort) taking effect at or before it is a grant: a revocation applies to every job checked at
/// or after it (and nothing is allowed before the first grant); a later grant re-allows from its own time. Decisions
/// for one cohort or purpose never affect another.
/// </summary>
/// <remarks>
/// Decisions are recorded in time order: a decision's time defaults to the time provider's now, raised to the latest
/// recorded time if the clock went backwards, and an explicit time earlier than the latest recorded decision is refused
/// (no back-dating, so the history stays an audit trail). Every change is persisted before the method returns.
/// Thread-safe.
/// </remarks>
public sealed class ConsentLedger
{
    /// <summary>Entry name used in the secret store.</summary>
    public const string SecretName = "participant.consent-ledger.v1";

    private const byte FormatVersion = 1;
    private const int MaxCohortIdLength = 256;
    private const int MaxNoteLength = 4096;

    private readonly EncryptedSecretStore _store;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly List<ConsentEvent> _events;

    private ConsentLedger(EncryptedSecretStore store, TimeProvider time, List<ConsentEvent> events)
    {
        _store = store;
        _time = time;
        _events = events;
    }

    /// <summary>Loads the ledger from <paramref name="store"/> (empty if it has none). The store stays owned by the caller.</summary>
    public static ConsentLedger Open(EncryptedSecretStore store, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        byte[]? bytes = store.Get(SecretName);
        var events = bytes is null ? [] : Decode(bytes);
        return new ConsentLedger(store, timeProvider ?? TimeProvider.System, events);
    }

    /// <summary>The full history, oldest first.</summary>
    public IReadOnlyList<ConsentEvent> History
    {
        get
        {
            lock (_lock)
            {
                return [.. _events];
            }
        }
    }

    /// <summary>The history of one (purpose, cohort), oldest first.</summary>
    public IReadOnlyList<ConsentEvent> HistoryFor(ConsentPurpose purpose, string cohortId)
    {
        CheckPurpose(purpose);
        ArgumentNullException.ThrowIfNull(cohortId);
        lock (_lock)
        {
            return [.. _events.Where(e => e.Purpose == purpose && e.CohortId == cohortId)];
        }
    }

    /// <summary>Records a grant (at <paramref name="at"/>, default now) and persists it.</summary>
    public ConsentEvent Grant(ConsentPurpose purpose, string cohortId, DateTimeOffset? at = null, string? note = null) =>
        Record(purpose, cohortId, ConsentAction.Grant, at, note);

    /// <summary>Records a revocation (at <paramref name="at"/>, default now) and persists it. Every job checked at or after
    /// that time is refused until a new grant.</summary>
    public ConsentEvent Revoke(ConsentPurpose purpose, string cohortId, DateTimeOffset? at = null, string? note = null) =>
        Record(purpose, cohortId, ConsentAction.Revoke, at, note);

    /// <summary>Whether <paramref name="purpose"/> is allowed for <paramref name="cohortId"/> at instant <paramref name="at"/>.</summary>
    public bool IsAllowed(ConsentPurpose purpose, string cohortId, DateTimeOffset at)
    {
        CheckPurpose(purpose);
        ArgumentNullException.ThrowIfNull(cohortId);
        lock (_lock)
        {
            // events are in time order (ties by sequence): the last one at or before `at` decides
            for (int i = _events.Count - 1; i >= 0; i--)
            {
                var e = _events[i];
                if (e.At <= at && e.Purpose == purpose && e.CohortId == cohortId)
                {
                    return e.Action == ConsentAction.Grant;
                }
            }

            return false;
        }
    }

    /// <summary>Whether <paramref name="purpose"/> is allowed for <paramref name="cohortId"/> now (per the time provider).</summary>
    public bool IsAllowed(ConsentPurpose purpose, string cohortId) => IsAllowed(purpose, cohortId, Now());

    /// <summary>Cohorts for which <paramref name="purpose"/> is currently granted, sorted.</summary>
    public IReadOnlyList<string> GrantedCohorts(ConsentPurpose purpose)
    {
        CheckPurpose(purpose);
        var now = Now();
        lock (_lock)
        {
            return [.. _events.Where(e => e.Purpose == purpose).Select(e => e.CohortId).Distinct(StringComparer.Ordinal)
                .Where(c => IsAllowed(purpose, c, now)).Order(StringComparer.Ordinal)];
        }
    }

    private DateTimeOffset Now() => _time.GetUtcNow();

    private ConsentEvent Record(ConsentPurpose purpose, string cohortId, ConsentAction action, DateTimeOffset? at, string? note)
    {
        CheckPurpose(purpose);
        CheckCohortId(cohortId);
        if (note is { Length: > MaxNoteLength })
        {
            throw new ArgumentException($"A consent note is at most {MaxNoteLength} characters.", nameof(note));
        }

        lock (_lock)
        {
            DateTimeOffset latest = _events.Count > 0 ? _events[^1].At : DateTimeOffset.MinValue;
            DateTimeOffset when;
            if (at is { } explicitTime)
            {
                when = explicitTime.ToUniversalTime();
                if (when < latest)
                {
                    throw new ArgumentOutOfRangeException(nameof(at), at,
                        $"Consent decisions are recorded in time order; the latest is at {latest:O} (no back-dating).");
                }
            }
            else
            {
                when = Now();
                if (when < latest)
                {
                    when = latest; // the clock went backwards: keep the history ordered
                }
            }

            var e = new ConsentEvent(_events.Count, purpose, cohortId, action, when, note);
            _events.Add(e);
            try
            {
                _store.Set(SecretName, Encode(_events));
            }
            catch
            {
                _events.RemoveAt(_events.Count - 1);
                throw;
            }

            return e;
        }
    }

    private static void CheckPurpose(ConsentPurpose purpose)
    {
        if (!Enum.IsDefined(purpose))
        {
            throw new ArgumentOutOfRangeException(nameof(purpose), purpose, "Unknown consent purpose.");
        }
    }

    private static void CheckCohortId(string cohortId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cohortId);
        if (cohortId.Length > MaxCohortIdLength || cohortId.Any(char.IsControl))
        {
            throw new ArgumentException($"A cohort id is at most {MaxCohortIdLength} characters without control characters.", nameof(cohortId));
        }
    }

    // u8 format ‖ varint count ‖ events: u8 purpose ‖ u8 action ‖ i64 UTC ticks ‖ string cohort ‖ u8 has-note ‖ [string note]
    private static byte[] Encode(List<ConsentEvent> events)
    {
        var w = new ArrayBufferWriter<byte>();
        w.WriteByte(FormatVersion);
        w.WriteVarUInt((ulong)events.Count);
        foreach (var e in events)
        {
            w.WriteByte((byte)e.Purpose);
            w.WriteByte((byte)e.Action);
            w.WriteInt64(e.At.UtcTicks);
            w.WriteString(e.CohortId);
            w.WriteByte(e.Note is null ? (byte)0 : (byte)1);
            if (e.Note is not null)
            {
                w.WriteString(e.Note);
            }
        }

        return w.WrittenSpan.ToArray();
    }

    private static List<ConsentEvent> Decode(byte[] bytes)
    {
        var r = new BinaryReading(bytes);
        byte version = r.ReadByte();
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Unknown consent ledger format {version}.");
        }

        int count = r.ReadLength(bytes.Length / 12);
        var events = new List<ConsentEvent>(count);
        for (int i = 0; i < count; i++)
        {
            var purpose = (ConsentPurpose)r.ReadByte();
            var action = (ConsentAction)r.ReadByte();
            long ticks = r.ReadInt64();
            string cohort = r.ReadString(MaxCohortIdLength * 4);
            string? note = r.ReadByte() switch
            {
                0 => null,
                1 => r.ReadString(MaxNoteLength * 4),
                var flag => throw new InvalidDataException($"Invalid note flag {flag}."),
            };
            if (!Enum.IsDefined(purpose) || !Enum.IsDefined(action) || ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks)
            {
                throw new InvalidDataException($"Consent event {i} is invalid.");
            }

            var at = new DateTimeOffset(ticks, TimeSpan.Zero);
            if (events.Count > 0 && at < events[^1].At)
            {
                throw new InvalidDataException($"Consent event {i} is out of time order.");
            }

            events.Add(new ConsentEvent(i, purpose, cohort, action, at, note));
        }

        r.ExpectEnd();
        return events;
    }
}
