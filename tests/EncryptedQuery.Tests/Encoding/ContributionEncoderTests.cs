using System.Text.Json;
using PrivateHealth.EncryptedQuery.Encoding;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.EncryptedQuery.Tests.Schema;

namespace PrivateHealth.EncryptedQuery.Tests.Encoding;

public sealed class ContributionEncoderTests
{
    private static readonly ContributionEncoder Encoder = new(EncodingTestData.BreastCancerSchema());

    private static Dictionary<string, object> Person(string target = "1", double radius = 12.5, double texture = 20, double area = 500, double smoothness = 0.1) => new()
    {
        ["target"] = target,
        ["mean_radius"] = radius,
        ["mean_texture"] = texture,
        ["mean_area"] = area,
        ["mean_smoothness"] = smoothness,
        ["unrelated"] = "ignored",
    };

    [Fact]
    public void OnePersonLandsInExactlyOneBlockWithExactValues()
    {
        var layout = Encoder.Layout;
        double[] v = Encoder.Encode(Person());
        Assert.Equal(layout.SlotCount, v.Length);

        // radius 12.5 is in bin 2: [11.21, 13.32).
        int cell = layout.CellIndex([1, 2]);
        int start = cell * layout.BlockSize;
        double[] x = [12.5, 20, 500, 0.1];
        double[] expected = new double[layout.BlockSize];
        expected[CellLayout.CountOffset] = 1;
        for (int a = 0; a < 4; a++)
        {
            expected[layout.SumOffset(a)] = x[a];
            expected[layout.SumSquaresOffset(a)] = x[a] * x[a];
            for (int b = a + 1; b < 4; b++)
            {
                expected[layout.ProductOffset(a, b)] = x[a] * x[b];
            }
        }

        Assert.Equal(expected, v[start..(start + layout.BlockSize)]);
        Assert.All(v[..start], s => Assert.Equal(0, s));
        Assert.All(v[(start + layout.BlockSize)..], s => Assert.Equal(0, s));
    }

    [Fact]
    public void MeasuresAreClippedAndNumericDimensionsClamped()
    {
        var layout = Encoder.Layout;
        double[] v = Encoder.Encode(Person(target: "0", radius: 40, texture: 1, area: 1e9, smoothness: double.NegativeInfinity));
        int start = layout.CellIndex([0, 9]) * layout.BlockSize;   // radius 40 → last bin
        Assert.Equal(1, v[start]);
        Assert.Equal(28.11, v[start + layout.SumOffset(0)]);
        Assert.Equal(9.71, v[start + layout.SumOffset(1)]);
        Assert.Equal(2501, v[start + layout.SumOffset(2)]);
        Assert.Equal(0.05263, v[start + layout.SumOffset(3)]);
        Assert.Equal(2501.0 * 2501.0, v[start + layout.SumSquaresOffset(2)]);
        Assert.Equal(28.11 * 9.71, v[start + layout.ProductOffset(1, 0)]);
        Assert.Equal(1, v.Where((_, i) => i % layout.BlockSize == CellLayout.CountOffset).Sum());

        double[] low = Encoder.Encode(Person(radius: 1));
        Assert.Equal(1, low[layout.CellIndex([1, 0]) * layout.BlockSize]);
    }

    [Fact]
    public void KeysAreCaseInsensitiveAndAcceptOtherNumericTypesAndJson()
    {
        var person = new Dictionary<string, object>
        {
            ["TARGET"] = JsonDocument.Parse("\"0\"").RootElement,
            ["Mean_Radius"] = 12,
            ["mean_texture"] = 20f,
            ["mean_area"] = 500m,
            ["mean_smoothness"] = JsonDocument.Parse("0.1").RootElement,
        };
        double[] v = Encoder.Encode(person);
        var layout = Encoder.Layout;
        int start = layout.CellIndex([0, 2]) * layout.BlockSize;
        Assert.Equal([1, 12, 20, 500, 0.1], v[start..(start + 5)]);
    }

    [Fact]
    public void MissingWrongTypedUnknownAndNaNFieldsAreRejected()
    {
        var missing = Person();
        missing.Remove("mean_area");
        var e = Assert.Throws<ArgumentException>(() => Encoder.Encode(missing));
        Assert.Contains("'mean_area'", e.Message, StringComparison.Ordinal);
        Assert.Contains("missing", e.Message, StringComparison.Ordinal);

        var missingDimension = Person();
        missingDimension.Remove("target");
        e = Assert.Throws<ArgumentException>(() => Encoder.Encode(missingDimension));
        Assert.Contains("'target' (dimension 'label') is missing", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<ArgumentException>(() => Encoder.Encode(Person(target: "2")));
        Assert.Contains("\"2\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("allowed values: \"0\", \"1\"", e.Message, StringComparison.Ordinal);

        var numericLabel = Person();
        numericLabel["target"] = 1.0;
        e = Assert.Throws<ArgumentException>(() => Encoder.Encode(numericLabel));
        Assert.Contains("'target'", e.Message, StringComparison.Ordinal);
        Assert.Contains("must be a string", e.Message, StringComparison.Ordinal);

        var textMeasure = Person();
        textMeasure["mean_texture"] = "20";
        e = Assert.Throws<ArgumentException>(() => Encoder.Encode(textMeasure));
        Assert.Contains("'mean_texture'", e.Message, StringComparison.Ordinal);
        Assert.Contains("must be a number", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<ArgumentException>(() => Encoder.Encode(Person(smoothness: double.NaN)));
        Assert.Contains("'mean_smoothness'", e.Message, StringComparison.Ordinal);
        Assert.Contains("NaN", e.Message, StringComparison.Ordinal);

        e = Assert.Throws<ArgumentException>(() => Encoder.Encode(Person(radius: double.NaN)));
        Assert.Contains("'mean_radius'", e.Message, StringComparison.Ordinal);

        var twice = Person();
        twice["Mean_Area"] = 3.0;
        Assert.Throws<ArgumentException>(() => Encoder.Encode(twice));
    }

    [Fact]
    public void SummarizeAveragesNumbersAndTakesTheLatestCategory()
    {
        IReadOnlyDictionary<string, object>[] records =
        [
            new Dictionary<string, object> { ["target"] = "0", ["mean_radius"] = 10.0, ["mean_area"] = 400.0, ["mean_texture"] = 15 },
            new Dictionary<string, object> { ["target"] = "1", ["MEAN_RADIUS"] = 14.0, ["mean_smoothness"] = 0.09 },
            new Dictionary<string, object> { ["mean_radius"] = 15.0, ["mean_area"] = 700.0, ["mean_texture"] = null! },
        ];
        var summary = ContributionEncoder.Summarize(records);
        Assert.Equal("1", summary["target"]);            // most recent record that has it
        Assert.Equal(13.0, summary["Mean_Radius"]);      // (10 + 14 + 15)/3, keys case-insensitive
        Assert.Equal(550.0, summary["mean_area"]);       // only the records that have it
        Assert.Equal(15.0, summary["mean_texture"]);     // null counts as absent
        Assert.Equal(0.09, summary["mean_smoothness"]);

        double[] v = Encoder.Encode(summary);
        var layout = Encoder.Layout;
        int start = layout.CellIndex([1, 2]) * layout.BlockSize;   // label 1, radius 13 → [11.21, 13.32)
        Assert.Equal([1, 13, 15, 550, 0.09], v[start..(start + 5)]);

        var one = ContributionEncoder.Summarize([Person()]);
        Assert.Equal(Encoder.Encode(Person()), Encoder.Encode(one));
    }

    [Fact]
    public void SummarizeRejectsBadInput()
    {
        Assert.Throws<ArgumentException>(() => ContributionEncoder.Summarize([]));
        Assert.Throws<ArgumentException>(() => ContributionEncoder.Summarize(
            [new Dictionary<string, object> { ["x"] = "a" }, new Dictionary<string, object> { ["x"] = 1.0 }]));
        var e = Assert.Throws<ArgumentException>(() => ContributionEncoder.Summarize(
            [new Dictionary<string, object> { ["x"] = 1.0 }, new Dictionary<string, object> { ["x"] = double.NaN }]));
        Assert.Contains("'x'", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ContributionEncoder.Summarize([new Dictionary<string, object> { ["x"] = true }]));
    }

    [Fact]
    public void PlainAggregatorAddsElementWise()
    {
        Assert.Equal([4.0, 6.0], PlainAggregator.Sum([[1, 2], [3, 4]]));
        Assert.Throws<ArgumentException>(() => PlainAggregator.Sum([]));
        Assert.Throws<ArgumentException>(() => PlainAggregator.Sum([[1, 2], [3]]));
    }
}
