using System.Text.Json;

namespace PrivateHealth.Coordinator.Api;

/// <summary>A cohort as the marketplace sees it: never the exact number of contributors.</summary>
/// <param name="CohortId">The cohort id.</param>
/// <param name="State">"open" (accepting contributions) or "closed".</param>
/// <param name="Schema">The cohort schema (dimensions, measures, minimum group size).</param>
/// <param name="NoisySize">Active contributions rounded down to a multiple of 10 (never the exact count).</param>
/// <param name="EpsilonRemaining">Privacy budget ε left.</param>
/// <param name="DeltaRemaining">Privacy budget δ left.</param>
public sealed record CohortSummary(string CohortId, string State, JsonElement Schema, int NoisySize, double EpsilonRemaining, double DeltaRemaining);

/// <summary>Body of <c>POST /api/quotes</c>.</summary>
/// <param name="CohortId">Required.</param>
/// <param name="Query">Required: the SQL-like query text.</param>
/// <param name="Epsilon">ε to spend; optional (default 1.0), must be positive and finite when given (queries only).</param>
/// <param name="Kind">"query" (default) or "training".</param>
/// <param name="Training">For training: the TrainingJobSpec as protobuf JSON (camelCase: model, features, rounds,
/// minParticipants, localEpochs, batchSize, learningRate, strategy, ...; unset fields get their defaults).</param>
/// <param name="KeySetId">For training: the key set the job's updates are encrypted under.</param>
public sealed record CreateQuoteRequest(string? CohortId, string? Query, double? Epsilon, string? Kind = null, JsonElement? Training = null, string? KeySetId = null);

/// <summary>A price quote; valid until <paramref name="ExpiresAt"/> and usable by one job.</summary>
/// <param name="QuoteId">The quote id to submit with.</param>
/// <param name="CohortId">The cohort.</param>
/// <param name="Query">The priced query text (submit exactly this text).</param>
/// <param name="Price">Price in micro-units of the payment currency.</param>
/// <param name="Epsilon">ε the job will spend.</param>
/// <param name="Delta">δ the job will spend.</param>
/// <param name="ExpiresAt">When the quote expires.</param>
/// <param name="Groups">Number of output groups of the query (before suppression; 0 for training).</param>
/// <param name="Kind">"query" or "training".</param>
/// <param name="Training">For training: the priced spec with its defaults (canonical protobuf JSON).</param>
/// <param name="KeySetId">For training: the key set of the job.</param>
/// <param name="Mode">For queries: "schema" (answered from the cohort's encrypted aggregate) or "federated" (the WHERE clause names
/// fields outside the schema, so online agents evaluate it on their own data in a collection round; priced higher).</param>
public sealed record QuoteResponse(string QuoteId, string CohortId, string Query, long Price, double Epsilon, double Delta, DateTimeOffset ExpiresAt, int Groups,
    string Kind = "query", JsonElement? Training = null, string? KeySetId = null, string? Mode = null);

/// <summary>Body of <c>POST /api/jobs</c>.</summary>
/// <param name="QuoteId">Required: an unexpired, unused quote of the caller.</param>
/// <param name="CohortId">Required for queries (optional for training; must match the quote when given): the quote's cohort.</param>
/// <param name="Query">Required for queries: the quoted query text.</param>
/// <param name="ResearcherPublicKey">Required for queries: base64 of the researcher's CKKS public key (CkksSerializer bytes).</param>
/// <param name="IdempotencyKey">Optional (or the <c>Idempotency-Key</c> header): replaying it returns the first job.</param>
public sealed record SubmitJobRequest(string? QuoteId, string? CohortId, string? Query, string? ResearcherPublicKey, string? IdempotencyKey);

/// <summary>A query job's status.</summary>
/// <param name="JobId">The job id.</param>
/// <param name="State">"pending", "collecting" (federated mode: agents are answering), "ready" (aggregate frozen, waiting for
/// custodians), "counting", "computing", "completed", "failed" or "cancelled".</param>
/// <param name="Message">Progress or failure message.</param>
/// <param name="Query">The query text.</param>
/// <param name="ReleasedSlots">First slots of the released output groups (suppressed groups are absent).</param>
/// <param name="SuppressedGroups">Groups suppressed for being below the minimum group size.</param>
/// <param name="CountSigma">Standard deviation of the Gaussian noise on the group counts.</param>
/// <param name="StatisticsSigma">Standard deviation of the Gaussian noise on the released statistics.</param>
/// <param name="Mode">"schema" or "federated".</param>
/// <param name="CollectionJobId">Federated mode: the collection job (one round over the online agents).</param>
/// <param name="Contributors">How many encrypted contributions the answered aggregate sums (0 until it is frozen).</param>
/// <param name="Settlement">The job's settlement (<c>GET /api/jobs/{id}</c> only; null in other answers).</param>
public sealed record JobResponse(string JobId, string State, string Message, string Query, int[] ReleasedSlots, int SuppressedGroups, double CountSigma, double StatisticsSigma,
    string Mode = "schema", string? CollectionJobId = null, int Contributors = 0, JobSettlement? Settlement = null);

/// <summary>JSON variant of a completed job's result (<c>Accept: application/json</c>).</summary>
/// <param name="JobId">The job id.</param>
/// <param name="Ciphertext">Base64 of the result ciphertext (CkksSerializer bytes), encrypted to the researcher's key.</param>
/// <param name="ReleasedSlots">First slots of the released output groups.</param>
public sealed record JobResultResponse(string JobId, string Ciphertext, int[] ReleasedSlots);

/// <summary>One round of a training job.</summary>
/// <param name="Round">Round number (0-based).</param>
/// <param name="State">Round state.</param>
/// <param name="Selected">Participants sampled for the round.</param>
/// <param name="Received">Updates received.</param>
/// <param name="Bytes">Bytes uploaded.</param>
/// <param name="TotalWeight">Total example weight aggregated.</param>
/// <param name="Extensions">Deadline extensions used.</param>
/// <param name="Message">Round message.</param>
/// <param name="Loss">The global model's loss after the round, when reported (null until per-round metrics are reported).</param>
/// <param name="Accuracy">The global model's accuracy (0..1) after the round, when reported (null until then).</param>
public sealed record TrainingRoundResponse(int Round, string State, int Selected, int Received, long Bytes, double TotalWeight, int Extensions, string Message,
    double? Loss = null, double? Accuracy = null);

/// <summary>A training job's status (<c>GET /api/jobs/{id}</c> for ids <c>job-…</c>).</summary>
/// <param name="JobId">The job id.</param>
/// <param name="Kind">Always "training".</param>
/// <param name="State">"pending" (waiting for its key set or enough participants), "running", "completed", "failed" or "cancelled".</param>
/// <param name="Message">Progress or failure message.</param>
/// <param name="CohortId">The participants' enrollment cohort.</param>
/// <param name="CurrentRound">The round in progress (equals the number of completed rounds while running).</param>
/// <param name="Rounds">Total rounds of the job.</param>
/// <param name="Spec">The job's spec (canonical protobuf JSON).</param>
/// <param name="History">Per-round metrics.</param>
/// <param name="Settlement">The job's settlement (<c>GET /api/jobs/{id}</c> only; null in other answers).</param>
public sealed record TrainingJobResponse(string JobId, string Kind, string State, string Message, string CohortId, int CurrentRound, int Rounds,
    JsonElement Spec, TrainingRoundResponse[] History, JobSettlement? Settlement = null);

/// <summary>The final model of a completed training job.</summary>
/// <param name="JobId">The job id.</param>
/// <param name="Model">"logistic", "linear" or "softmax".</param>
/// <param name="Features">Number of input features.</param>
/// <param name="Classes">Number of classes (1 for logistic/linear).</param>
/// <param name="Parameters">The global model parameters after the last round.</param>
public sealed record TrainingResultResponse(string JobId, string Model, int Features, int Classes, double[] Parameters);
