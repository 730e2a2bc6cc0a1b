using System.Numerics.Tensors;

namespace PrivateHealth.Learning.Privacy;

/// <summary>L2 clipping of model updates, the sensitivity bound of DP-FedAvg (McMahan et al. 2018).</summary>
public static class UpdateClipping
{
    /// <summary>‖v‖₂.</summary>
    public static double L2Norm(ReadOnlySpan<double> values) => TensorPrimitives.Norm(values);

    /// <summary>
    /// Scales <paramref name="update"/> in place by min(1, C / ‖update‖₂) and returns that factor (1 when the
    /// norm is already ≤ C, including the zero vector). Afterwards ‖update‖₂ ≤ C holds as computed in floating
    /// point: if rounding leaves the norm a few ulps above C, the vector is shrunk by a further 1 − 2⁻⁵⁰ (and the
    /// returned factor includes it).
    /// </summary>
    public static double ClipL2(Span<double> update, double clipNorm)
    {
        if (!(clipNorm > 0) || !double.IsFinite(clipNorm))
        {
            throw new ArgumentOutOfRangeException(nameof(clipNorm), clipNorm, "The clipping norm must be positive and finite.");
        }

        double norm = TensorPrimitives.Norm(update);
        if (!double.IsFinite(norm))
        {
            throw new ArgumentException("The update contains a non-finite value.", nameof(update));
        }

        if (norm <= clipNorm)
        {
            return 1.0;
        }

        double factor = clipNorm / norm;
        TensorPrimitives.Multiply(update, factor, update);
        const double Shrink = 1.0 - (1.0 / (1L << 50));
        while (TensorPrimitives.Norm(update) > clipNorm)
        {
            TensorPrimitives.Multiply(update, Shrink, update);
            factor *= Shrink;
        }

        return factor;
    }
}
