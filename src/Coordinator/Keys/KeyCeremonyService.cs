using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Keys;

/// <summary>Working data of a ceremony, kept as JSON in <see cref="KeySetRecord.Data"/>.</summary>
internal sealed record CeremonyData(string CrsSeed, int[] Rotations, bool Relinearization);

/// <summary>
/// Orchestrates the key ceremony with the n registered custodians as a durable state machine:
/// registration → public-key → (relinearization-1 → relinearization-2) → (galois) → threshold-deal →
/// threshold-accept → done. Every phase sends one task per custodian and waits for all n answers (a ceremony
/// needs every member); answers are validated when they arrive and stored once, so a restart resumes the phase.
/// Threshold re-sharing shares travel sealed to their recipient (ECDH P-256 + AES-GCM): the coordinator relays
/// them without being able to read them.
/// </summary>
public sealed class KeyCeremonyService(
    ICoordinatorStore store,
    KeySetRegistry keys,
    PresenceTracker presence,
    CustodianTaskBoard board,
    TimeProvider time,
    ILogger<KeyCeremonyService> logger,
    JobLeases leases)
{
    private static readonly string[] Phases = ["registration", "public-key", "relinearization-1", "relinearization-2", "galois", "threshold-deal", "threshold-accept", "done"];

    /// <summary>Starts a ceremony; fails with <see cref="ArgumentException"/> on bad settings.</summary>
    public async Task<KeySetRecord> StartAsync(string preset, int members, int threshold, IReadOnlyCollection<int> rotations, bool relinearization, CancellationToken cancellationToken)
    {
        var parameters = keys.Parameters(string.IsNullOrEmpty(preset) ? "TrainingLogN12LogQP109" : preset);
        preset = string.IsNullOrEmpty(preset) ? "TrainingLogN12LogQP109" : preset;
        if (members is < 1 or > 64)
        {
            throw new ArgumentException("members must be in [1, 64].", nameof(members));
        }

        if (threshold < 1 || threshold > members)
        {
            throw new ArgumentException($"threshold must be in [1, {members}].", nameof(threshold));
        }

        int slots = parameters.MaxSlots;
        foreach (int r in rotations)
        {
            if (r == 0 || Math.Abs(r) >= slots)
            {
                throw new ArgumentException($"rotation {r} must be non-zero and |r| < {slots}.", nameof(rotations));
            }
        }

        var record = new KeySetRecord
        {
            KeySetId = "ks-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
            Preset = preset,
            Members = members,
            Threshold = threshold,
            State = "running",
            Phase = "registration",
            Data = JsonSerializer.Serialize(new CeremonyData(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)), [.. rotations.Distinct().Order()], relinearization)),
            CreatedAt = time.GetUtcNow(),
        };
        await store.CreateKeySetAsync(record, cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Key ceremony {KeySetId} started: {Preset}, {Threshold}-of-{Members}", record.KeySetId, preset, threshold, members);
        return record;
    }

    /// <summary>Advances every running ceremony as far as its answers allow.</summary>
    public async Task StepAllAsync(CancellationToken cancellationToken)
    {
        var keySets = await store.ListKeySetsAsync(cancellationToken).ConfigureAwait(false);
        // PostgreSQL cluster: the free leases of the pass in one statement; ceremonies held elsewhere cost no round trip
        var mine = await leases.ClaimAsync(keySets.Where(k => k.State == "running").Select(k => "keyset:" + k.KeySetId), cancellationToken).ConfigureAwait(false);
        foreach (var ks in keySets)
        {
            if (ks.State == "running")
            {
                if (mine is not null && !mine.Contains("keyset:" + ks.KeySetId))
                {
                    continue;
                }

                try
                {
                    using var lease = (await leases.TryAcquireAsync("keyset:" + ks.KeySetId, cancellationToken).ConfigureAwait(false))?.Enter();
                    if (lease is not null)
                    {
                        // re-read under the lease: the listed copy may predate another node's last step
                        var current = await store.GetKeySetAsync(ks.KeySetId, lease.Token).ConfigureAwait(false);
                        if (current?.State == "running")
                        {
                            await StepAsync(current, lease.Token).ConfigureAwait(false);
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // one bad key set must not stop the others; another node may try it
                    logger.LogError(ex, "Stepping key ceremony {KeySetId} failed; its lease is released and the step retried", ks.KeySetId);
                    await leases.ReleaseAsync("keyset:" + ks.KeySetId, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                await leases.ReleaseAsync("keyset:" + ks.KeySetId, cancellationToken).ConfigureAwait(false); // a no-op unless held here
            }
        }
    }

    private static string TaskScope(string keySetId, string phase) => $"keyset:{keySetId}:{phase}";

    private static SessionId Session(string keySetId, string phase, ulong element = 0) =>
        SessionId.FromName(element == 0 ? $"{keySetId}/{phase}" : $"{keySetId}/{phase}/{element}");

    private async Task StepAsync(KeySetRecord ks, CancellationToken ct)
    {
        // loop so that several phases can complete in one step when answers are already there
        for (int guard = 0; guard < Phases.Length && ks.State == "running"; guard++)
        {
            var next = await StepPhaseAsync(ks, ct).ConfigureAwait(false);
            if (next is null)
            {
                return;
            }

            ks = next;
        }
    }

    /// <summary>Returns the updated record when the phase finished (or failed), null when still waiting.</summary>
    private async Task<KeySetRecord?> StepPhaseAsync(KeySetRecord ks, CancellationToken ct)
    {
        var data = JsonSerializer.Deserialize<CeremonyData>(ks.Data!)!;
        var parameters = keys.Parameters(ks.Preset);
        var custodians = (await store.ListCustodiansAsync(ct).ConfigureAwait(false)).Where(c => c.Party >= 1 && c.Party <= ks.Members).OrderBy(c => c.Party).ToList();
        switch (ks.Phase)
        {
            case "registration":
            {
                var online = presence.OnlineCustodians;
                var missing = Enumerable.Range(1, ks.Members).Where(p => custodians.All(c => c.Party != p) || !online.Contains(p)).ToList();
                if (missing.Count > 0)
                {
                    return await SetMessageAsync(ks, $"waiting for custodians {string.Join(", ", missing)} to register and connect", ct).ConfigureAwait(false);
                }

                return await AdvanceAsync(ks, "public-key", ct).ConfigureAwait(false);
            }

            case "public-key":
            {
                var session = Session(ks.KeySetId, ks.Phase);
                var answers = await EnsureTasksAsync(ks, ks.Phase, party => new CustodianTask
                {
                    Kind = CustodianTaskKind.PublicKeyShare,
                    Sessions = { ByteString.CopyFrom(session.Bytes) },
                    CrsSeed = ByteString.CopyFrom(Convert.FromHexString(data.CrsSeed)),
                }, ct).ConfigureAwait(false);
                if (answers is null)
                {
                    return null;
                }

                using var protocol = new PublicKeyGenProtocol(parameters.Rlwe);
                var collector = new ShareCollector(protocol, protocol.AllocateShare(session, 0), ks.Members);
                var serializer = new CkksSerializer(parameters);
                foreach (var a in answers)
                {
                    collector.Add(serializer.DeserializeShare(a.Shares[0].Span, ShareKind.PublicKey));
                }

                var pk = protocol.GenerateKey(collector.Aggregate, protocol.SampleCrp(new CommonReferenceString(Convert.FromHexString(data.CrsSeed)), session));
                await store.PutArtifactAsync(KeySetRegistry.Scope(ks.KeySetId), "public-key", serializer.Serialize(pk), ct).ConfigureAwait(false);
                return await AdvanceAsync(ks, data.Relinearization ? "relinearization-1" : (data.Rotations.Length > 0 ? "galois" : "threshold-deal"), ct).ConfigureAwait(false);
            }

            case "relinearization-1":
            {
                var session = Session(ks.KeySetId, "relinearization");
                var answers = await EnsureTasksAsync(ks, ks.Phase, party => new CustodianTask
                {
                    Kind = CustodianTaskKind.RelinearizationRound1,
                    Sessions = { ByteString.CopyFrom(session.Bytes) },
                    CrsSeed = ByteString.CopyFrom(Convert.FromHexString(data.CrsSeed)),
                }, ct).ConfigureAwait(false);
                if (answers is null)
                {
                    return null;
                }

                using var protocol = new RelinearizationKeyGenProtocol(parameters.Rlwe);
                var serializer = new CkksSerializer(parameters);
                var collector = new ShareCollector(protocol, protocol.AllocateShare(session, 0, 1), ks.Members);
                foreach (var a in answers)
                {
                    collector.Add(serializer.DeserializeShare(a.Shares[0].Span, ShareKind.RelinearizationRound1));
                }

                await store.PutArtifactAsync(KeySetRegistry.Scope(ks.KeySetId), "relinearization-round1", serializer.Serialize(collector.Aggregate), ct).ConfigureAwait(false);
                return await AdvanceAsync(ks, "relinearization-2", ct).ConfigureAwait(false);
            }

            case "relinearization-2":
            {
                var session = Session(ks.KeySetId, "relinearization");
                var round1 = await store.GetArtifactAsync(KeySetRegistry.Scope(ks.KeySetId), "relinearization-round1", ct).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("Round-1 aggregate missing.");
                var answers = await EnsureTasksAsync(ks, ks.Phase, party => new CustodianTask
                {
                    Kind = CustodianTaskKind.RelinearizationRound2,
                    Sessions = { ByteString.CopyFrom(session.Bytes) },
                    AggregatedRound1 = ByteString.CopyFrom(round1),
                }, ct).ConfigureAwait(false);
                if (answers is null)
                {
                    return null;
                }

                using var protocol = new RelinearizationKeyGenProtocol(parameters.Rlwe);
                var serializer = new CkksSerializer(parameters);
                var collector = new ShareCollector(protocol, protocol.AllocateShare(session, 0, 2), ks.Members);
                foreach (var a in answers)
                {
                    collector.Add(serializer.DeserializeShare(a.Shares[0].Span, ShareKind.RelinearizationRound2));
                }

                var rlk = protocol.GenerateKey(serializer.DeserializeShare(round1, ShareKind.RelinearizationRound1), collector.Aggregate);
                await store.PutArtifactAsync(KeySetRegistry.Scope(ks.KeySetId), "relinearization-key", serializer.Serialize(rlk), ct).ConfigureAwait(false);
                return await AdvanceAsync(ks, data.Rotations.Length > 0 ? "galois" : "threshold-deal", ct).ConfigureAwait(false);
            }

            case "galois":
            {
                var elements = data.Rotations.Select(r => parameters.Rlwe.GaloisElementForRotation(r)).Distinct().ToArray();
                var answers = await EnsureTasksAsync(ks, ks.Phase, party =>
                {
                    var task = new CustodianTask { Kind = CustodianTaskKind.GaloisKeyShare, CrsSeed = ByteString.CopyFrom(Convert.FromHexString(data.CrsSeed)) };
                    foreach (var g in elements)
                    {
                        task.Sessions.Add(ByteString.CopyFrom(Session(ks.KeySetId, "galois", g).Bytes));
                        task.GaloisElements.Add(g);
                    }

                    return task;
                }, ct).ConfigureAwait(false);
                if (answers is null)
                {
                    return null;
                }

                using var protocol = new GaloisKeyGenProtocol(parameters.Rlwe);
                var serializer = new CkksSerializer(parameters);
                var crs = new CommonReferenceString(Convert.FromHexString(data.CrsSeed));
                for (int i = 0; i < elements.Length; i++)
                {
                    var session = Session(ks.KeySetId, "galois", elements[i]);
                    var collector = new ShareCollector(protocol, protocol.AllocateShare(session, 0, elements[i]), ks.Members);
                    foreach (var a in answers)
                    {
                        collector.Add(serializer.DeserializeShare(a.Shares[i].Span, ShareKind.GaloisKey));
                    }

                    var gk = protocol.GenerateKey(collector.Aggregate, protocol.SampleCrp(crs, session, elements[i]));
                    await store.PutArtifactAsync(KeySetRegistry.Scope(ks.KeySetId), $"galois-key:{elements[i]}", serializer.Serialize(gk), ct).ConfigureAwait(false);
                }

                return await AdvanceAsync(ks, "threshold-deal", ct).ConfigureAwait(false);
            }

            case "threshold-deal":
            {
                var session = Session(ks.KeySetId, "threshold");
                var answers = await EnsureTasksAsync(ks, ks.Phase, party =>
                {
                    var task = new CustodianTask { Kind = CustodianTaskKind.ThresholdDeal, Sessions = { ByteString.CopyFrom(session.Bytes) }, Threshold = ks.Threshold };
                    task.Members.AddRange(custodians.Select(c => new MemberKey { Party = c.Party, AgreementPublicKey = ByteString.CopyFrom(c.AgreementPublicKey) }));
                    return task;
                }, ct).ConfigureAwait(false);
                return answers is null ? null : await AdvanceAsync(ks, "threshold-accept", ct).ConfigureAwait(false);
            }

            case "threshold-accept":
            {
                var session = Session(ks.KeySetId, "threshold");
                var dealt = (await store.ListTasksAsync(TaskScope(ks.KeySetId, "threshold-deal"), ct).ConfigureAwait(false))
                    .Select(t => CustodianAnswer.Parser.ParseFrom(t.Answer!))
                    .SelectMany(a => a.SealedShares)
                    .ToList();
                var answers = await EnsureTasksAsync(ks, ks.Phase, party =>
                {
                    var task = new CustodianTask { Kind = CustodianTaskKind.ThresholdAccept, Sessions = { ByteString.CopyFrom(session.Bytes) }, Threshold = ks.Threshold };
                    task.Members.AddRange(custodians.Select(c => new MemberKey { Party = c.Party }));
                    task.SealedShares.AddRange(dealt.Where(s => s.ToParty == party).OrderBy(s => s.FromParty));
                    return task;
                }, ct).ConfigureAwait(false);
                if (answers is null)
                {
                    return null;
                }

                var done = await AdvanceAsync(ks, "done", ct).ConfigureAwait(false);
                if (done is null)
                {
                    return null;
                }

                var ready = await store.UpdateKeySetAsync(done with { State = "ready", Message = $"ready: {ks.Threshold}-of-{ks.Members}" }, ct).ConfigureAwait(false);
                logger.LogInformation("Key ceremony {KeySetId} done", ks.KeySetId);
                board.Changed.Pulse();
                return ready;
            }

            default:
                return null;
        }
    }

    /// <summary>
    /// Ensures one task per member exists for the phase; returns the answers in party order once all are in,
    /// null while waiting. A refusal fails the ceremony.
    /// </summary>
    private async Task<IReadOnlyList<CustodianAnswer>?> EnsureTasksAsync(KeySetRecord ks, string phase, Func<int, CustodianTask> build, CancellationToken ct)
    {
        var collection = await CustodianTasks.CollectAsync(store, board, time.GetUtcNow(), TaskScope(ks.KeySetId, phase), $"{ks.KeySetId}/{phase}",
            [.. Enumerable.Range(1, ks.Members)], party =>
            {
                var task = build(party);
                task.KeySetId = ks.KeySetId;
                task.Description = $"key ceremony {ks.KeySetId}: {phase}";
                return task;
            }, phase, timeout: null, ct).ConfigureAwait(false);
        if (collection.Failure is { } failure)
        {
            await FailAsync(ks, failure, ct).ConfigureAwait(false);
            return null;
        }

        if (collection.Answers is null)
        {
            await SetMessageAsync(ks, $"{phase}: waiting for custodians {string.Join(", ", collection.Waiting)}", ct).ConfigureAwait(false);
            return null;
        }

        return [.. collection.Answers.Select(a => a.Answer)];
    }

    private async Task<KeySetRecord?> AdvanceAsync(KeySetRecord ks, string phase, CancellationToken ct)
    {
        var updated = await store.UpdateKeySetAsync(ks with { Phase = phase, Message = phase }, ct).ConfigureAwait(false);
        if (updated is not null)
        {
            logger.LogInformation("Key ceremony {KeySetId}: phase {Phase}", ks.KeySetId, phase);
        }

        return updated;
    }

    private async Task<KeySetRecord?> SetMessageAsync(KeySetRecord ks, string message, CancellationToken ct)
    {
        if (ks.Message != message)
        {
            await store.UpdateKeySetAsync(ks with { Message = message }, ct).ConfigureAwait(false);
        }

        return null;
    }

    private async Task FailAsync(KeySetRecord ks, string message, CancellationToken ct)
    {
        logger.LogWarning("Key ceremony {KeySetId} failed: {Message}", ks.KeySetId, message);
        await store.UpdateKeySetAsync(ks with { State = "failed", Message = message }, ct).ConfigureAwait(false);
    }
}

/// <summary>Wakes custodian task streams when tasks are added (and the state machines when answers arrive).</summary>
public sealed class CustodianTaskBoard
{
    /// <summary>Pulsed when tasks were added or withdrawn.</summary>
    public AsyncSignal Changed { get; } = new();

    /// <summary>Pulsed when an answer was stored.</summary>
    public AsyncSignal Answered { get; } = new();
}
