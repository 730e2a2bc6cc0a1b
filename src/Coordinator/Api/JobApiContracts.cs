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
/// <param name="Epsilon">ε to spend; optional (default 1.0), must be positive and finite when given.</param>
public sealed record CreateQuoteRequest(string? CohortId, string? Query, double? Epsilon);

/// <summary>A price quote; valid until <paramref name="ExpiresAt"/> and usable by one job.</summary>
/// <param name="QuoteId">The quote id to submit with.</param>
/// <param name="CohortId">The cohort.</param>
/// <param name="Query">The priced query text (submit exactly this text).</param>
/// <param name="Price">Price in micro-units of the payment currency.</param>
/// <param name="Epsilon">ε the job will spend.</param>
/// <param name="Delta">δ the job will spend.</param>
/// <param name="ExpiresAt">When the quote expires.</param>
/// <param name="Groups">Number of output groups of the query (before suppression).</param>
public sealed record QuoteResponse(string QuoteId, string CohortId, string Query, long Price, double Epsilon, double Delta, DateTimeOffset ExpiresAt, int Groups);

/// <summary>Body of <c>POST /api/jobs</c>.</summary>
/// <param name="QuoteId">Required: an unexpired, unused quote of the caller.</param>
/// <param name="CohortId">Required: the quote's cohort.</param>
/// <param name="Query">Required: the quoted query text.</param>
/// <param name="ResearcherPublicKey">Required: base64 of the researcher's CKKS public key (CkksSerializer bytes).</param>
/// <param name="IdempotencyKey">Optional (or the <c>Idempotency-Key</c> header): replaying it returns the first job.</param>
public sealed record SubmitJobRequest(string? QuoteId, string? CohortId, string? Query, string? ResearcherPublicKey, string? IdempotencyKey);

/// <summary>A query job's status.</summary>
/// <param name="JobId">The job id.</param>
/// <param name="State">"pending", "counting", "computing", "completed", "failed" or "cancelled".</param>
/// <param name="Message">Progress or failure message.</param>
/// <param name="Query">The query text.</param>
/// <param name="ReleasedSlots">First slots of the released output groups (suppressed groups are absent).</param>
/// <param name="SuppressedGroups">Groups suppressed for being below the minimum group size.</param>
/// <param name="CountSigma">Standard deviation of the Gaussian noise on the group counts.</param>
/// <param name="StatisticsSigma">Standard deviation of the Gaussian noise on the released statistics.</param>
public sealed record JobResponse(string JobId, string State, string Message, string Query, int[] ReleasedSlots, int SuppressedGroups, double CountSigma, double StatisticsSigma);

/// <summary>JSON variant of a completed job's result (<c>Accept: application/json</c>).</summary>
/// <param name="JobId">The job id.</param>
/// <param name="Ciphertext">Base64 of the result ciphertext (CkksSerializer bytes), encrypted to the researcher's key.</param>
/// <param name="ReleasedSlots">First slots of the released output groups.</param>
public sealed record JobResultResponse(string JobId, string Ciphertext, int[] ReleasedSlots);
