using Google.Protobuf;
using Microsoft.Extensions.Logging;
using PrivateHealth.Coordinator.Hosting;
using PrivateHealth.Coordinator.Keys;
using PrivateHealth.Coordinator.Storage;
using PrivateHealth.Grpc;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Coordinator.Services;

/// <summary>Custodian registration, task delivery and answer validation.</summary>
public sealed class CustodianService(
    ICoordinatorStore store,
    KeySetRegistry keys,
    CustodianTaskBoard board,
    CoordinatorMetrics metrics,
    TimeProvider time,
    ILogger<CustodianService> logger)
{
    /// <summary>Registers (or re-registers) the caller as custodian <c>party</c>.</summary>
    public async Task<CustodianRegistered> RegisterAsync(CustodianRegistration request, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.CustodianId) || request.Party < 1 || request.Party > 64)
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, "custodian_id is required and party must be in [1, 64].");
        }

        if (request.AgreementPublicKey.Length is < 32 or > 512)
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, "agreement_public_key must be a DER SubjectPublicKeyInfo of a P-256 key.");
        }

        try
        {
            using var ecdh = System.Security.Cryptography.ECDiffieHellman.Create();
            ecdh.ImportSubjectPublicKeyInfo(request.AgreementPublicKey.Span, out _);
            if (ecdh.KeySize != 256)
            {
                throw new GrpcStatusException(StatusCode.InvalidArgument, "agreement_public_key must be a P-256 key.");
            }
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, "agreement_public_key is not a valid SubjectPublicKeyInfo.");
        }

        try
        {
            await store.UpsertCustodianAsync(new CustodianRecord
            {
                CustodianId = request.CustodianId,
                Party = request.Party,
                AgreementPublicKey = request.AgreementPublicKey.ToByteArray(),
                RegisteredAt = time.GetUtcNow(),
            }, ct).ConfigureAwait(false);
        }
        catch (StoreConflictException ex)
        {
            throw new GrpcStatusException(StatusCode.AlreadyExists, ex.Message);
        }

        logger.LogInformation("Custodian {CustodianId} registered as party {Party}", request.CustodianId, request.Party);
        var latest = (await store.ListKeySetsAsync(ct).ConfigureAwait(false)).OrderByDescending(k => k.CreatedAt).FirstOrDefault();
        return new CustodianRegistered { KeySetId = latest?.KeySetId ?? string.Empty, Members = latest?.Members ?? 0, Threshold = latest?.Threshold ?? 0 };
    }

    /// <summary>The registered party of a custodian id, or PERMISSION_DENIED.</summary>
    public async Task<int> PartyOfAsync(string custodianId, CancellationToken ct)
    {
        var record = (await store.ListCustodiansAsync(ct).ConfigureAwait(false)).FirstOrDefault(c => c.CustodianId == custodianId)
            ?? throw new GrpcStatusException(StatusCode.PermissionDenied, $"Custodian '{custodianId}' is not registered.");
        return record.Party;
    }

    /// <summary>Validates and stores one answer (once).</summary>
    public async Task<CustodianAnswerReply> SubmitAsync(CustodianAnswer answer, CancellationToken ct)
    {
        int party = await PartyOfAsync(answer.CustodianId, ct).ConfigureAwait(false);
        if (answer.Party != 0 && answer.Party != party)
        {
            throw new GrpcStatusException(StatusCode.PermissionDenied, $"Custodian '{answer.CustodianId}' is party {party}, not {answer.Party}.");
        }

        var task = await store.GetTaskAsync(answer.TaskId, ct).ConfigureAwait(false)
            ?? throw new GrpcStatusException(StatusCode.NotFound, $"Task '{answer.TaskId}' not found.");
        if (task.Party != party)
        {
            throw new GrpcStatusException(StatusCode.PermissionDenied, $"Task '{answer.TaskId}' is addressed to party {task.Party}.");
        }

        if (answer.Refusal.Length == 0)
        {
            var payload = CustodianTask.Parser.ParseFrom(task.Payload);
            var ks = await store.GetKeySetAsync(payload.KeySetId, ct).ConfigureAwait(false)
                ?? throw new GrpcStatusException(StatusCode.FailedPrecondition, $"Key set '{payload.KeySetId}' of the task is unknown.");
            Validate(payload, answer, party, ks);
        }

        var outcome = await store.SaveAnswerAsync(answer.TaskId, party, answer.ToByteArray(), ct).ConfigureAwait(false);
        switch (outcome)
        {
            case AnswerOutcome.Stored:
                metrics.CustodianAnswers.Add(1);
                board.Answered.Pulse();
                return new CustodianAnswerReply { Accepted = true, Message = "stored" };
            case AnswerOutcome.Duplicate:
                return new CustodianAnswerReply { Accepted = true, Duplicate = true, Message = "already stored" };
            case AnswerOutcome.Conflict:
                throw new GrpcStatusException(StatusCode.AlreadyExists, $"A different answer to task '{answer.TaskId}' is already stored; a second share is refused.");
            case AnswerOutcome.Withdrawn:
                throw new GrpcStatusException(StatusCode.FailedPrecondition, $"Task '{answer.TaskId}' was withdrawn.");
            case AnswerOutcome.WrongParty:
                throw new GrpcStatusException(StatusCode.PermissionDenied, $"Task '{answer.TaskId}' is addressed to another party.");
            default:
                throw new GrpcStatusException(StatusCode.NotFound, $"Task '{answer.TaskId}' not found.");
        }
    }

    private void Validate(CustodianTask task, CustodianAnswer answer, int party, KeySetRecord ks)
    {
        var p = keys.Parameters(ks.Preset);
        var serializer = new CkksSerializer(p);
        try
        {
            switch (task.Kind)
            {
                case CustodianTaskKind.PublicKeyShare:
                {
                    using var protocol = new PublicKeyGenProtocol(p.Rlwe);
                    CheckShares(task, answer, party, serializer, ShareKind.PublicKey, i => protocol.AllocateShare(Session(task, i), 0));
                    break;
                }

                case CustodianTaskKind.RelinearizationRound1:
                case CustodianTaskKind.RelinearizationRound2:
                {
                    using var protocol = new RelinearizationKeyGenProtocol(p.Rlwe);
                    int round = task.Kind == CustodianTaskKind.RelinearizationRound1 ? 1 : 2;
                    CheckShares(task, answer, party, serializer, round == 1 ? ShareKind.RelinearizationRound1 : ShareKind.RelinearizationRound2, i => protocol.AllocateShare(Session(task, i), 0, round));
                    break;
                }

                case CustodianTaskKind.GaloisKeyShare:
                {
                    using var protocol = new GaloisKeyGenProtocol(p.Rlwe);
                    CheckShares(task, answer, party, serializer, ShareKind.GaloisKey, i => protocol.AllocateShare(Session(task, i), 0, task.GaloisElements[i]));
                    break;
                }

                case CustodianTaskKind.DecryptionShare:
                {
                    using var protocol = new KeySwitchProtocol(p.Rlwe, new NoiseFlooding(task.FloodingSigma, task.FloodingBound));
                    CheckShares(task, answer, party, serializer, ShareKind.KeySwitch, i => protocol.AllocateShare(Session(task, i), 0, CkksSerializer.ReadHeader(task.Ciphertexts[i].Span).Level));
                    break;
                }

                case CustodianTaskKind.PublicKeySwitch:
                {
                    using var protocol = new PublicKeySwitchProtocol(p.Rlwe, new NoiseFlooding(task.FloodingSigma, task.FloodingBound));
                    CheckShares(task, answer, party, serializer, ShareKind.PublicKeySwitch, i => protocol.AllocateShare(Session(task, i), 0, CkksSerializer.ReadHeader(task.Ciphertexts[i].Span).Level));
                    break;
                }

                case CustodianTaskKind.QueryNoise:
                {
                    if (answer.Shares.Count != 1)
                    {
                        throw new GrpcStatusException(StatusCode.InvalidArgument, $"Query noise is one ciphertext; got {answer.Shares.Count}.");
                    }

                    var ct = serializer.DeserializeCiphertext(answer.Shares[0].Span);
                    if (ct.Size != 2 || ct.Level != task.Level || Math.Abs((ct.Scale / task.Scale) - 1) > CkksEvaluator.ScaleTolerance)
                    {
                        throw new GrpcStatusException(StatusCode.InvalidArgument, $"Query noise must be a fresh encryption at level {task.Level} and the task's scale.");
                    }

                    break;
                }

                case CustodianTaskKind.ThresholdDeal:
                {
                    var members = task.Members.Select(m => m.Party).Order().ToList();
                    var to = answer.SealedShares.Select(s => s.ToParty).Order().ToList();
                    if (!members.SequenceEqual(to) || answer.SealedShares.Any(s => s.FromParty != party || s.Sealed.Length is < 60 or > (8 << 20)))
                    {
                        throw new GrpcStatusException(StatusCode.InvalidArgument, $"A threshold deal needs one sealed share from party {party} to each of parties {string.Join(", ", members)}.");
                    }

                    break;
                }

                case CustodianTaskKind.ThresholdAccept:
                    break;

                case CustodianTaskKind.DpNoise:
                {
                    var packer = new UpdatePacker(p);
                    int expected = packer.CiphertextCount(task.ValueCount);
                    if (answer.Shares.Count != expected)
                    {
                        throw new GrpcStatusException(StatusCode.InvalidArgument, $"DP noise must be {expected} ciphertext(s); got {answer.Shares.Count}.");
                    }

                    foreach (var bytes in answer.Shares)
                    {
                        var ct = serializer.DeserializeCiphertext(bytes.Span);
                        if (ct.Size != 2 || ct.Level != packer.Level)
                        {
                            throw new GrpcStatusException(StatusCode.InvalidArgument, "DP noise must be fresh level-0 encryptions.");
                        }
                    }

                    break;
                }

                default:
                    throw new GrpcStatusException(StatusCode.InvalidArgument, $"Unknown task kind {task.Kind}.");
            }
        }
        catch (HomomorphicFormatException ex)
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, $"Answer is not valid ({ex.Error}): {ex.Message}");
        }
    }

    private static SessionId Session(CustodianTask task, int i) => new(task.Sessions[i].Span);

    private static void CheckShares(CustodianTask task, CustodianAnswer answer, int party, CkksSerializer serializer, ShareKind kind, Func<int, Share> expected)
    {
        if (answer.Shares.Count != task.Sessions.Count)
        {
            throw new GrpcStatusException(StatusCode.InvalidArgument, $"Expected {task.Sessions.Count} share(s); got {answer.Shares.Count}.");
        }

        for (int i = 0; i < answer.Shares.Count; i++)
        {
            var share = serializer.DeserializeShare(answer.Shares[i].Span, kind);
            if (share.Party != party)
            {
                throw new GrpcStatusException(StatusCode.InvalidArgument, $"Share {i} is labelled party {share.Party}; the caller is party {party}.");
            }

            if (!expected(i).IsCompatibleWith(share))
            {
                throw new GrpcStatusException(StatusCode.InvalidArgument, $"Share {i} does not belong to the task's session (kind, session, level or shape differ).");
            }
        }
    }
}
