using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Evaluation;

/// <summary>
/// Encrypted blocks hold measures rescaled to [0, 1]: x' = (clip(x) − lo)/(hi − lo). A block of sums
/// [n, Σx, Σx², Σx_a·x_b] maps linearly to [n, Σx', Σx'², Σx'_a·x'_b] and back, so the map applies to one person's
/// block and to any sum of blocks alike. Keeping every slot at most the count keeps CKKS's relative errors
/// (mask encoding, rotations, flooding) far below what the statistics need, and gives the release policy an L2
/// sensitivity of √B per person.
/// </summary>
public sealed class BlockNormalization
{
    private readonly CellLayout _layout;
    private readonly double[] _lo;
    private readonly double[] _width;

    public BlockNormalization(CohortSchema schema, CellLayout layout)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(layout);
        _layout = layout;
        _lo = [.. schema.Measures.Select(m => m.Lo)];
        _width = [.. schema.Measures.Select(m => m.Hi - m.Lo)];
    }

    /// <summary>Raw sums → normalized sums (in place, one block).</summary>
    public void Forward(Span<double> block)
    {
        int m = _lo.Length;
        double n = block[CellLayout.CountOffset];
        var s = new double[m];
        var q = new double[m];
        for (int a = 0; a < m; a++)
        {
            s[a] = block[_layout.SumOffset(a)];
            q[a] = block[_layout.SumSquaresOffset(a)];
        }

        for (int a = 0; a < m; a++)
        {
            double lo = _lo[a], w = _width[a];
            block[_layout.SumOffset(a)] = (s[a] - (lo * n)) / w;
            block[_layout.SumSquaresOffset(a)] = (q[a] - (2 * lo * s[a]) + (lo * lo * n)) / (w * w);
            for (int b = a + 1; b < m; b++)
            {
                int o = _layout.ProductOffset(a, b);
                double p = block[o];
                block[o] = (p - (_lo[b] * s[a]) - (lo * s[b]) + (lo * _lo[b] * n)) / (w * _width[b]);
            }
        }
    }

    /// <summary>Normalized sums → raw sums (in place, one block).</summary>
    public void Inverse(Span<double> block)
    {
        int m = _lo.Length;
        double n = block[CellLayout.CountOffset];
        var s = new double[m];
        var q = new double[m];
        for (int a = 0; a < m; a++)
        {
            s[a] = block[_layout.SumOffset(a)];
            q[a] = block[_layout.SumSquaresOffset(a)];
        }

        for (int a = 0; a < m; a++)
        {
            double lo = _lo[a], w = _width[a];
            block[_layout.SumOffset(a)] = (lo * n) + (w * s[a]);
            block[_layout.SumSquaresOffset(a)] = (lo * lo * n) + (2 * lo * w * s[a]) + (w * w * q[a]);
            for (int b = a + 1; b < m; b++)
            {
                int o = _layout.ProductOffset(a, b);
                double p = block[o];
                block[o] = (lo * _lo[b] * n) + (lo * _width[b] * s[b]) + (_lo[b] * w * s[a]) + (w * _width[b] * p);
            }
        }
    }
}
