using PrivateHealth.Learning.Data;

namespace PrivateHealth.Learning.Models;

/// <summary>Whole-dataset conveniences over <see cref="IModel"/>.</summary>
public static class ModelExtensions
{
    /// <summary>A copy of the parameter vector.</summary>
    public static double[] GetParameters(this IModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Parameters.ToArray();
    }

    /// <summary>Overwrites the parameter vector; the length must equal <see cref="IModel.ParameterCount"/>.</summary>
    public static void SetParameters(this IModel model, ReadOnlySpan<double> parameters)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (parameters.Length != model.ParameterCount)
        {
            throw new ArgumentException($"Got {parameters.Length} parameters; the model has {model.ParameterCount}.", nameof(parameters));
        }

        parameters.CopyTo(model.Parameters);
    }

    /// <summary>Predictions for every row, row-major (Count × OutputDimension).</summary>
    public static double[] PredictAll(this IModel model, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        int k = model.OutputDimension;
        double[] output = new double[data.Count * k];
        for (int i = 0; i < data.Count; i++)
        {
            model.Predict(data.Row(i), output.AsSpan(i * k, k));
        }

        return output;
    }

    /// <summary>
    /// Predicted classes: P(y=1) ≥ 0.5 → 1 for binary models, the arg-max (lowest index on ties) for multiclass.
    /// </summary>
    public static int[] PredictClasses(this IModel model, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Task == ModelTask.Regression)
        {
            throw new InvalidOperationException("A regression model does not predict classes.");
        }

        double[] output = model.PredictAll(data);
        int k = model.OutputDimension;
        int[] classes = new int[data.Count];
        for (int i = 0; i < classes.Length; i++)
        {
            if (model.Task == ModelTask.BinaryClassification)
            {
                classes[i] = output[i] >= 0.5 ? 1 : 0;
            }
            else
            {
                ReadOnlySpan<double> p = output.AsSpan(i * k, k);
                int best = 0;
                for (int c = 1; c < k; c++)
                {
                    if (p[c] > p[best])
                    {
                        best = c;
                    }
                }

                classes[i] = best;
            }
        }

        return classes;
    }

    /// <summary>Mean loss over all rows.</summary>
    public static double Loss(this IModel model, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        return model.Loss(data, AllRows(data.Count));
    }

    /// <summary>0, 1, …, count − 1.</summary>
    public static int[] AllRows(int count)
    {
        int[] rows = new int[count];
        for (int i = 0; i < count; i++)
        {
            rows[i] = i;
        }

        return rows;
    }
}
