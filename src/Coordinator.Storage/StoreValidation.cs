namespace PrivateHealth.Coordinator.Storage;

/// <summary>
/// Argument validation and enum parsing shared by every store implementation (SQLite, PostgreSQL), so that both reject
/// exactly the same calls with the same exceptions.
/// </summary>
internal static class StoreValidation
{
    public static T ParseEnum<T>(string value)
        where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: false, out var parsed) && Enum.IsDefined(parsed)
            ? parsed
            : throw new InvalidDataException($"Unknown {typeof(T).Name} '{value}' in the database.");

    public static void ValidateJob(JobRecord job)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentException.ThrowIfNullOrEmpty(job.JobId);
        ArgumentException.ThrowIfNullOrEmpty(job.KeySetId);
        ArgumentNullException.ThrowIfNull(job.Spec);
        ArgumentNullException.ThrowIfNull(job.GlobalModel);
        ValidateEnum(job.State, nameof(job));
    }

    public static void ValidateRound(RoundRecord round)
    {
        ArgumentNullException.ThrowIfNull(round);
        ArgumentException.ThrowIfNullOrEmpty(round.JobId);
        ArgumentOutOfRangeException.ThrowIfNegative(round.Round);
        ArgumentNullException.ThrowIfNull(round.Selected);
        if (round.Selected.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("Selected participant ids must not be null or empty.", nameof(round));
        }

        ValidateEnum(round.State, nameof(round));
    }

    public static void ValidateUpload(UploadRecord upload)
    {
        ArgumentNullException.ThrowIfNull(upload);
        ArgumentException.ThrowIfNullOrEmpty(upload.JobId);
        ArgumentOutOfRangeException.ThrowIfNegative(upload.Round);
        ArgumentException.ThrowIfNullOrEmpty(upload.ParticipantId);
        ValidateBlobs(upload.Ciphertexts, nameof(upload));
        ArgumentNullException.ThrowIfNull(upload.ContentIds);
        if (upload.ContentIds.Any(id => id is null))
        {
            throw new ArgumentException("Content ids must not be null.", nameof(upload));
        }

        if (upload.ContentIds.Count != upload.Ciphertexts.Count)
        {
            throw new ArgumentException(
                $"An upload needs one content id per ciphertext ({upload.Ciphertexts.Count} ciphertexts, {upload.ContentIds.Count} content ids).",
                nameof(upload));
        }
    }

    public static void ValidateBlobs(IReadOnlyList<byte[]> blobs, string paramName)
    {
        ArgumentNullException.ThrowIfNull(blobs, paramName);
        if (blobs.Any(b => b is null))
        {
            throw new ArgumentException("Ciphertexts must not be null.", paramName);
        }
    }

    public static void ValidateKeySet(KeySetRecord keySet)
    {
        ArgumentNullException.ThrowIfNull(keySet);
        ArgumentException.ThrowIfNullOrEmpty(keySet.KeySetId);
        ArgumentNullException.ThrowIfNull(keySet.Preset);
        ArgumentNullException.ThrowIfNull(keySet.State);
        ArgumentNullException.ThrowIfNull(keySet.Phase);
    }

    public static void ValidateEnum<T>(T value, string paramName)
        where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            throw new ArgumentException($"{value} is not a valid {typeof(T).Name}.", paramName);
        }
    }

    public static void ValidateCohort(CohortRecord cohort)
    {
        ArgumentNullException.ThrowIfNull(cohort);
        ArgumentException.ThrowIfNullOrEmpty(cohort.CohortId);
        ArgumentException.ThrowIfNullOrEmpty(cohort.KeySetId);
        ArgumentNullException.ThrowIfNull(cohort.SchemaJson);
        ArgumentException.ThrowIfNullOrEmpty(cohort.State);
        ValidateAmount(cohort.EpsilonBudget, nameof(cohort));
        ValidateAmount(cohort.DeltaBudget, nameof(cohort));
    }

    public static void ValidateAmount(double value, string paramName)
    {
        if (!double.IsFinite(value) || value < 0)
        {
            throw new ArgumentOutOfRangeException(paramName, value, "A privacy budget or cost must be finite and non-negative.");
        }
    }

    public static void ValidateQuote(QuoteRecord quote)
    {
        ArgumentNullException.ThrowIfNull(quote);
        ArgumentException.ThrowIfNullOrEmpty(quote.QuoteId);
        ArgumentException.ThrowIfNullOrEmpty(quote.CohortId);
        ArgumentException.ThrowIfNullOrEmpty(quote.ResearcherId);
        ArgumentException.ThrowIfNullOrEmpty(quote.Kind);
        ArgumentNullException.ThrowIfNull(quote.Request);
        ValidateAmount(quote.Epsilon, nameof(quote));
        ValidateAmount(quote.Delta, nameof(quote));
        ArgumentOutOfRangeException.ThrowIfNegative(quote.PriceMicros, nameof(quote));
    }

    public static void ValidateQueryJob(QueryJobRecord job)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentException.ThrowIfNullOrEmpty(job.JobId);
        ArgumentException.ThrowIfNullOrEmpty(job.QuoteId);
        ArgumentException.ThrowIfNullOrEmpty(job.CohortId);
        ArgumentException.ThrowIfNullOrEmpty(job.ResearcherId);
        ArgumentNullException.ThrowIfNull(job.QueryText);
        ArgumentNullException.ThrowIfNull(job.ResearcherPublicKey);
        ArgumentException.ThrowIfNullOrEmpty(job.State);
    }
}
