using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PrivateHealth.Grpc;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Multiparty;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Learning.Randomness;
using PrivateHealth.Participant.Custodian;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Participant.Network;

/// <summary>
/// The custodian side over the network: registers its party number and key-agreement key, follows its task
/// stream, and answers each task with <see cref="CustodianRole"/> (which refuses to answer a session or a
/// ciphertext twice). Each answer is stored in the vault before it is sent, so after a disconnect or a coordinator
/// restart the identical bytes are re-sent rather than a fresh share.
/// </summary>
public sealed class CustodianRunner : IDisposable
{
    private const string AgreementKeyName = "custodian/agreement-key";
    private readonly CoordinatorClient _client;
    private readonly string _custodianId;
    private readonly int _party;
    private readonly ICustodianVault _vault;
    private readonly CkksParameters _parameters;
    private readonly CkksSerializer _serializer;
    private readonly CustodianRole _role;
    private readonly ECDiffieHellman _agreement;
    private readonly RetryPolicy _retry;
    private readonly ILogger _log;

    public CustodianRunner(CoordinatorClient client, string custodianId, int party, CkksParameters parameters, ICustodianVault vault, RetryPolicy? retry = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(vault);
        _client = client;
        _custodianId = custodianId;
        _party = party;
        _vault = vault;
        _parameters = parameters;
        _serializer = new CkksSerializer(parameters);
        _role = new CustodianRole(parameters, party, vault);
        _retry = retry ?? new RetryPolicy();
        _log = logger ?? NullLogger.Instance;
        _agreement = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        if (vault.Get(AgreementKeyName) is { } stored)
        {
            _agreement.ImportPkcs8PrivateKey(stored, out _);
            CryptographicOperations.ZeroMemory(stored);
        }
        else
        {
            vault.Set(AgreementKeyName, _agreement.ExportPkcs8PrivateKey());
        }
    }

    /// <summary>Tasks answered (sent and acknowledged) by this runner.</summary>
    public int Answered { get; private set; }

    /// <summary>The role (for inspection in tests and tools).</summary>
    public CustodianRole Role => _role;

    /// <summary>Registers, then answers tasks until cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        await _retry.RunAsync(c => _client.RegisterCustodianAsync(new CustodianRegistration
        {
            CustodianId = _custodianId,
            Party = _party,
            AgreementPublicKey = ByteString.CopyFrom(_agreement.ExportSubjectPublicKeyInfo()),
        }, c), ct).ConfigureAwait(false);
        for (int attempt = 0; !ct.IsCancellationRequested; attempt++)
        {
            try
            {
                await foreach (var task in _client.WatchTasksAsync(_custodianId, ct).ConfigureAwait(false))
                {
                    attempt = 0;
                    await AnswerAsync(task, ct).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (CoordinatorClient.IsTransient(ex) && !ct.IsCancellationRequested)
            {
                _log.LogDebug(ex, "Custodian {Party}: connection lost; retrying", _party);
            }

            await Task.Delay(_retry.Delay(attempt), ct).ConfigureAwait(false);
        }
    }

    private async Task AnswerAsync(CustodianTask task, CancellationToken ct)
    {
        string cacheName = "custodian/answers/" + task.TaskId;
        CustodianAnswer answer;
        if (_vault.Get(cacheName) is { } cached)
        {
            answer = CustodianAnswer.Parser.ParseFrom(cached);
        }
        else
        {
            answer = new CustodianAnswer { TaskId = task.TaskId, CustodianId = _custodianId, Party = _party };
            try
            {
                Produce(task, answer);
            }
            catch (Exception ex) when (ex is CustodianRefusedException or ShareRejectedException or HomomorphicFormatException or CryptographicException or ArgumentException or NotSupportedException or FormatException or InvalidOperationException)
            {
                answer.Shares.Clear();
                answer.SealedShares.Clear();
                answer.Refusal = ex.Message;
                _log.LogWarning("Custodian {Party} refuses task {Task}: {Reason}", _party, task.TaskId, ex.Message);
            }

            _vault.Set(cacheName, answer.ToByteArray());
        }

        try
        {
            await _retry.RunAsync(c => _client.SubmitAnswerAsync(answer, c), ct).ConfigureAwait(false);
            Answered++;
        }
        catch (GrpcStatusException ex) when (ex.StatusCode is StatusCode.FailedPrecondition or StatusCode.NotFound or StatusCode.AlreadyExists or StatusCode.InvalidArgument)
        {
            _log.LogWarning("Custodian {Party}: answer to {Task} not taken: {Detail}", _party, task.TaskId, ex.Detail);
        }
    }

    private void Produce(CustodianTask task, CustodianAnswer answer)
    {
        SessionId Session(int i) => new(task.Sessions[i].Span);
        switch (task.Kind)
        {
            case CustodianTaskKind.PublicKeyShare:
                answer.Shares.Add(ByteString.CopyFrom(_serializer.Serialize(_role.CreatePublicKeyShare(Session(0), new CommonReferenceString(task.CrsSeed.Span)))));
                break;
            case CustodianTaskKind.RelinearizationRound1:
                answer.Shares.Add(ByteString.CopyFrom(_serializer.Serialize(_role.CreateRelinearizationRound1(Session(0), new CommonReferenceString(task.CrsSeed.Span)))));
                break;
            case CustodianTaskKind.RelinearizationRound2:
                answer.Shares.Add(ByteString.CopyFrom(_serializer.Serialize(_role.CreateRelinearizationRound2(Session(0), _serializer.DeserializeShare(task.AggregatedRound1.Span, ShareKind.RelinearizationRound1)))));
                break;
            case CustodianTaskKind.GaloisKeyShare:
            {
                var crs = new CommonReferenceString(task.CrsSeed.Span);
                for (int i = 0; i < task.Sessions.Count; i++)
                {
                    answer.Shares.Add(ByteString.CopyFrom(_serializer.Serialize(_role.CreateGaloisKeyShare(Session(i), crs, task.GaloisElements[i]))));
                }

                break;
            }

            case CustodianTaskKind.ThresholdDeal:
            {
                var session = Session(0);
                var dealt = _role.CreateThresholdShares(session, task.Threshold, task.Members.Select(m => m.Party));
                foreach (var member in task.Members)
                {
                    answer.SealedShares.Add(new SealedShare
                    {
                        FromParty = _party,
                        ToParty = member.Party,
                        Sealed = ByteString.CopyFrom(SealedBox.Seal(member.AgreementPublicKey.Span, _serializer.Serialize(dealt[member.Party]), SealContext(session, _party, member.Party))),
                    });
                }

                break;
            }

            case CustodianTaskKind.ThresholdAccept:
            {
                var session = Session(0);
                var shares = task.SealedShares.Select(s =>
                {
                    if (s.ToParty != _party)
                    {
                        throw new CustodianRefusedException($"A share addressed to party {s.ToParty} was delivered to party {_party}.");
                    }

                    return _serializer.DeserializeShare(SealedBox.Open(_agreement, s.Sealed.Span, SealContext(session, s.FromParty, _party)), ShareKind.Threshold);
                }).ToList();
                _role.AcceptThresholdShares(session, shares, task.Members.Count);
                break;
            }

            case CustodianTaskKind.DecryptionShare:
            {
                var flooding = new NoiseFlooding(task.FloodingSigma, task.FloodingBound);
                var active = task.ActiveSet.ToArray();
                if (!active.Contains((ulong)_party))
                {
                    throw new CustodianRefusedException($"Party {_party} is not in the task's active set.");
                }

                for (int i = 0; i < task.Sessions.Count; i++)
                {
                    var ct = _serializer.DeserializeCiphertext(task.Ciphertexts[i].Span);
                    answer.Shares.Add(ByteString.CopyFrom(_serializer.Serialize(_role.CreateDecryptionShare(Session(i), ct, active, task.Threshold, flooding))));
                }

                break;
            }

            case CustodianTaskKind.DpNoise:
            {
                if (!(task.NoiseSigma >= 0) || task.ValueCount < 1 || task.NoisyValues > task.ValueCount)
                {
                    throw new CustodianRefusedException("DP noise task has invalid sizes.");
                }

                var publicKey = _serializer.DeserializePublicKey(task.PublicKey.Span);
                foreach (var ct in CustodianNoise.EncryptUpdateNoise(_parameters, publicKey, task.ValueCount, task.NoisyValues, task.NoiseSigma))
                {
                    answer.Shares.Add(ByteString.CopyFrom(_serializer.Serialize(ct)));
                }

                break;
            }

            case CustodianTaskKind.QueryNoise:
            {
                if (!(task.NoiseSigma >= 0) || task.Level < 0 || task.Level > _parameters.MaxLevel || !(task.Scale > 0)
                    || task.NoiseSlots.Any(s => s < 0 || s >= _parameters.MaxSlots))
                {
                    throw new CustodianRefusedException("Query noise task has invalid slots, level or scale.");
                }

                var publicKey = _serializer.DeserializePublicKey(task.PublicKey.Span);
                var noise = CustodianNoise.EncryptSlotNoise(_parameters, publicKey, task.NoiseSlots, task.NoiseSigma, task.Level, task.Scale);
                answer.Shares.Add(ByteString.CopyFrom(_serializer.Serialize(noise)));
                break;
            }

            case CustodianTaskKind.PublicKeySwitch:
            {
                var flooding = new NoiseFlooding(task.FloodingSigma, task.FloodingBound);
                var active = task.ActiveSet.ToArray();
                if (!active.Contains((ulong)_party))
                {
                    throw new CustodianRefusedException($"Party {_party} is not in the task's active set.");
                }

                var receiver = _serializer.DeserializePublicKey(task.PublicKey.Span);
                for (int i = 0; i < task.Sessions.Count; i++)
                {
                    var ct = _serializer.DeserializeCiphertext(task.Ciphertexts[i].Span);
                    answer.Shares.Add(ByteString.CopyFrom(_serializer.Serialize(_role.CreatePublicKeySwitchShare(Session(i), ct, receiver, active, task.Threshold, flooding))));
                }

                break;
            }

            default:
                throw new CustodianRefusedException($"Unknown task kind {task.Kind}.");
        }
    }

    private static string SealContext(SessionId session, int from, int to) => $"{session}/{from}/{to}";

    public void Dispose()
    {
        _role.Dispose();
        _agreement.Dispose();
    }
}
