using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;

namespace PrivateHealth.EncryptedQuery.Evaluation;

/// <summary>
/// Contributions and aggregates as CKKS ciphertexts: the slot vector of <see cref="SlotLayout"/> in the real parts
/// of the slots, at the top level and the default scale (so ingest is one ciphertext addition per upload).
/// </summary>
public sealed class AnalyticsCodec
{
    private readonly CkksParameters _p;
    private readonly CkksEncoder _encoder;

    public AnalyticsCodec(CkksParameters parameters, SlotLayout layout)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(layout);
        if (layout.SlotCount > parameters.MaxSlots)
        {
            throw new ArgumentException($"The schema needs {layout.SlotCount} slots (padded cells × padded block); parameters with N = {parameters.N} have {parameters.MaxSlots}. Use fewer dimension values or measures.", nameof(layout));
        }

        _p = parameters;
        _encoder = new CkksEncoder(parameters);
        Layout = layout;
        Normalization = new BlockNormalization(layout.Schema, layout.Cells);
    }

    public SlotLayout Layout { get; }

    /// <summary>The [0, 1] rescaling of measures applied before encryption (and undone by the researcher).</summary>
    public BlockNormalization Normalization { get; }

    /// <summary>The slot vector of a contribution (or aggregate) given in cell order: placed, measures normalized.</summary>
    public double[] Slots(ReadOnlySpan<double> cellVector)
    {
        var slots = Layout.Place(cellVector);
        var cells = Layout.Cells;
        for (int cell = 0; cell < cells.CellCount; cell++)
        {
            Normalization.Forward(slots.AsSpan(Layout.SlotOf(cells.Coordinates(cell)), cells.BlockSize));
        }

        return slots;
    }

    /// <summary>Encodes a contribution given in cell order (<c>ContributionEncoder.Encode</c>).</summary>
    public Plaintext Encode(ReadOnlySpan<double> cellVector) => _encoder.Encode(Slots(cellVector), _p.MaxLevel, _p.DefaultScale);

    /// <summary>Encrypts a contribution given in cell order.</summary>
    public Ciphertext Encrypt(ReadOnlySpan<double> cellVector, Encryptor encryptor)
    {
        ArgumentNullException.ThrowIfNull(encryptor);
        return encryptor.Encrypt(Encode(cellVector));
    }

    /// <summary>The real parts of the first <see cref="SlotLayout.SlotCount"/> slots of a decrypted result.</summary>
    public double[] Decode(Plaintext plaintext) => [.. _encoder.Decode(plaintext).Take(Layout.SlotCount)];

    /// <summary>As <see cref="Decode"/> but rounded to <paramref name="logPrecision"/> bits (for released, flooded results).</summary>
    public double[] DecodePublic(Plaintext plaintext, double logPrecision)
    {
        var all = new double[_p.MaxSlots];
        _encoder.DecodePublic(plaintext, all, logPrecision);
        return all[..Layout.SlotCount];
    }
}

/// <summary>
/// Runs a <see cref="QueryPlan"/> on the encrypted cohort aggregate as a linear map in diagonal form:
/// result = Σ_k mask_k ⊙ Rot_k(aggregate), with one rescale at the end (depth 1). Rotations by arbitrary k are
/// composed from power-of-two Galois keys, walking the sorted steps so each rotation reuses the previous one. The
/// cost depends on the schema and the query (number of distinct diagonals), never on the cohort size.
/// </summary>
public sealed class EncryptedQueryEvaluator
{
    private readonly CkksParameters _p;
    private readonly CkksEncoder _encoder;
    private readonly CkksEvaluator _evaluator;

    /// <param name="parameters">The cohort's parameters (at least one level above 0).</param>
    /// <param name="keys">Galois keys for every power-of-two rotation below the slot count (<see cref="SlotLayout.RotationSteps"/>).</param>
    public EncryptedQueryEvaluator(CkksParameters parameters, EvaluationKeySet keys)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _p = parameters;
        _encoder = new CkksEncoder(parameters);
        _evaluator = new CkksEvaluator(parameters, keys);
    }

    /// <summary>Levels a query consumes.</summary>
    public const int Depth = 1;

    /// <summary>Key switches done by the last <see cref="Evaluate"/> (for benchmarks and logs).</summary>
    public int LastRotationCount { get; private set; }

    /// <param name="aggregate">The cohort's encrypted sum.</param>
    /// <param name="plan">The query.</param>
    /// <param name="blocks">Blocks to release (default all; the release policy leaves suppressed groups out).</param>
    /// <param name="countsOnly">Only the count of each block (the noisy counts that decide suppression).</param>
    public Ciphertext Evaluate(Ciphertext aggregate, QueryPlan plan, IEnumerable<OutputBlock>? blocks = null, bool countsOnly = false)
    {
        ArgumentNullException.ThrowIfNull(aggregate);
        ArgumentNullException.ThrowIfNull(plan);
        int slots = _p.MaxSlots;
        if (plan.Layout.SlotCount > slots)
        {
            throw new ArgumentException($"The plan needs {plan.Layout.SlotCount} slots; the parameters have {slots}.", nameof(plan));
        }

        if (aggregate.Level < Depth)
        {
            throw new ArgumentException($"A query needs {Depth} level; the aggregate is at level {aggregate.Level}.", nameof(aggregate));
        }

        double prime = _p.Q[aggregate.Level];
        Ciphertext? result = null;
        var rotated = new Ciphertext(_p.Rlwe, aggregate.Size, aggregate.Level, aggregate.Scale);
        aggregate.CopyTo(rotated);
        int at = 0;
        LastRotationCount = 0;
        foreach (var (k, mask) in plan.Diagonals(slots, blocks, countsOnly))
        {
            for (int delta = k - at; delta != 0; delta &= delta - 1)
            {
                _evaluator.RotateInPlace(rotated, delta & -delta); // lowest set bit: a power-of-two rotation
                LastRotationCount++;
            }

            at = k;
            var term = _evaluator.MultiplyPlain(rotated, _encoder.Encode(mask, rotated.Level, prime));
            if (result is null)
            {
                result = term;
            }
            else
            {
                _evaluator.AddInPlace(result, term);
            }
        }

        if (result is null)
        {
            // nothing passes the filter: an encryption of zero at the result's level and scale
            result = _evaluator.MultiplyPlain(rotated, _encoder.Encode(new double[slots], rotated.Level, prime));
        }

        _evaluator.RescaleInPlace(result);
        return result;
    }
}
