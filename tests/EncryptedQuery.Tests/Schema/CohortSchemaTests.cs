using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Tests.Schema;

public sealed class CohortSchemaTests
{
    [Fact]
    public void BreastCancerSchemaParses()
    {
        var schema = EncodingTestData.BreastCancerSchema();
        Assert.Equal("breast-cancer", schema.Id);
        Assert.Equal(1, schema.Version);
        Assert.Equal(5, schema.Epsilon);
        Assert.Equal(1e-6, schema.Delta);
        Assert.Equal(10, schema.MinGroupSize);

        var label = schema.FindDimension("LABEL")!;
        Assert.Equal(DimensionKind.Categorical, label.Kind);
        Assert.Equal("target", label.Field);
        Assert.Equal(2, label.Size);
        Assert.Equal(["0", "1"], label.Labels);
        Assert.Equal(1, label.IndexOf("1"));
        Assert.Equal(-1, label.IndexOf("2"));

        var radius = schema.FindDimension("radius_bin")!;
        Assert.Equal(DimensionKind.Numeric, radius.Kind);
        Assert.Equal(10, radius.Size);
        Assert.Equal("[6.981, 9.0939)", radius.Labels[0]);   // computed edge 9.093900000000001 printed as written
        Assert.Equal("[25.9971, 28.11]", radius.Labels[9]);
        Assert.Equal(10, radius.Labels.Distinct().Count());
        Assert.Equal(3, radius.IndexOf(radius.Labels[3]));
        Assert.Equal(-1, radius.IndexOf("[0, 1)"));

        Assert.Equal(2, schema.MeasureIndex("Mean_Area"));
        Assert.Equal(-1, schema.MeasureIndex("worst_area"));
        Assert.Equal(0.1634, schema.FindMeasure("mean_smoothness")!.Hi);
        Assert.Null(schema.FindMeasure("label"));
    }

    [Fact]
    public void ToJsonRoundTrips()
    {
        var schema = EncodingTestData.BreastCancerSchema();
        string json = schema.ToJson();
        var again = CohortSchema.Parse(json);
        Assert.Equal(json, again.ToJson());
        Assert.Equal(schema.Dimensions[1].Edges, again.Dimensions[1].Edges);
        Assert.Equal(schema.Measures.Select(m => (m.Name, m.Lo, m.Hi, m.Source)), again.Measures.Select(m => (m.Name, m.Lo, m.Hi, m.Source)));
        Assert.Equal(schema.Description, again.Description);
        Assert.Contains("\"kind\": \"numeric\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultsApplyAndPropertyNamesAreCaseInsensitive()
    {
        var schema = CohortSchema.Parse("""{"ID":"c","Dimensions":[],"MEASURES":[{"name":"x","lo":0,"hi":1}]}""");
        Assert.Equal(1, schema.Version);
        Assert.Equal(10, schema.MinGroupSize);
        Assert.Equal(10, schema.Epsilon);
        Assert.Equal(1e-6, schema.Delta);
        var layout = new CellLayout(schema);
        Assert.Equal(1, layout.CellCount);
        Assert.Equal(3, layout.BlockSize);
    }

    [Fact]
    public void SourceMayBeAnyStringButNameMustBeAnIdentifier()
    {
        var schema = CohortSchema.Parse(
            """{"id":"c","dimensions":[{"name":"sex","kind":"categorical","values":["f","m"],"source":"Sex at birth"}],"measures":[{"name":"bmi","lo":10,"hi":60,"source":"body mass index (kg/m²)"}]}""");
        Assert.Equal("Sex at birth", schema.Dimensions[0].Field);
        Assert.Equal("body mass index (kg/m²)", schema.Measures[0].Field);

        var e = Assert.Throws<SchemaException>(() => CohortSchema.Parse(
            """{"id":"c","dimensions":[],"measures":[{"name":"mean radius","lo":0,"hi":1}]}"""));
        Assert.Contains("'mean radius' is not an identifier", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryProblemIsListedInOneException()
    {
        const string json = """
            {
              "version": 2,
              "id": "",
              "dimensions": [
                { "name": "1abc", "kind": "categorical", "values": [] },
                { "name": "bins", "kind": "numeric", "edges": [0, 1, 1, 3] },
                { "name": "Dup", "kind": "categorical", "values": ["a", "a"] },
                { "name": "odd", "kind": "ordinal", "values": ["x"] },
                { "name": "big", "kind": "numeric", "edges": [0, "Infinity"] },
                { "name": "color", "kind": "categorical", "values": ["red"], "colour": 1 }
              ],
              "measures": [
                { "name": "dup", "lo": 5, "hi": 5 },
                { "name": "w", "lo": "NaN", "hi": 1 },
                { "name": "v", "hi": 1 }
              ],
              "minGroupSize": 0,
              "epsilon": -1,
              "delta": 1
            }
            """;
        var e = Assert.Throws<SchemaException>(() => CohortSchema.Parse(json));
        string[] expected =
        [
            "version 2 is not supported",
            "id is missing or empty",
            "name '1abc' is not an identifier",
            "values is empty",
            "edges must be strictly increasing (edges[2] = 1 <= edges[1] = 1)",
            "value 'a' is listed twice",
            "kind 'ordinal' is not",
            "edges[1] = Infinity is not a finite number",
            "unknown property 'colour'",
            "duplicate name 'dup'",
            "lo = 5 must be less than hi = 5",
            "lo = NaN is not a finite number",
            "measures[2] 'v': lo is missing",
            "minGroupSize = 0 must be at least 1",
            "epsilon = -1 must be a finite number > 0",
            "delta = 1 must be a finite number in [0, 1)",
        ];
        foreach (string fragment in expected)
        {
            Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(expected.Length, e.Problems.Count);
    }

    [Fact]
    public void TooManyCellsIsRejected()
    {
        string edges = string.Join(",", Enumerable.Range(0, 1001));
        string json = $$"""
            {"id":"c","dimensions":[{"name":"a","kind":"numeric","edges":[{{edges}}]},{"name":"b","kind":"numeric","edges":[{{edges}}]}],
             "measures":[{"name":"x","lo":0,"hi":1}]}
            """;
        var e = Assert.Throws<SchemaException>(() => CohortSchema.Parse(json));
        Assert.Contains("too many cells: 1000000 cells × block size 3 = 3000000 slots exceeds the limit of 1048576", e.Message, StringComparison.Ordinal);

        // 1000 × 1000 cells with only a count fit (block size 1, 10⁶ slots).
        var ok = CohortSchema.Parse(json.Replace("""{"name":"x","lo":0,"hi":1}""", "", StringComparison.Ordinal));
        Assert.Equal(1_000_000, new CellLayout(ok).SlotCount);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1, 2]")]
    [InlineData("""{"id":"c","dimensions":{},"measures":[]}""")]
    [InlineData("""{"id":"c","dimensions":[{"name":"a","kind":"numeric","values":["1"]}],"measures":[]}""")]
    [InlineData("""{"id":"c","dimensions":[{"name":"a","kind":"categorical","values":["x",""]}],"measures":[]}""")]
    [InlineData("""{"id":"c","dimensions":[{"name":"a","kind":"numeric","edges":[1]}],"measures":[]}""")]
    [InlineData("""{"id":"c","dimensions":[{"name":"a","kind":"numeric","edges":[0, 1e400]}],"measures":[]}""")]
    [InlineData("""{"id":"c","measures":[]}""")]
    [InlineData("""{"id":"c","dimensions":[],"measures":[{"name":"m","lo":0,"hi":1,"source":" "}]}""")]
    [InlineData("""{"id":"c","version":"1","dimensions":[],"measures":[]}""")]
    public void MalformedSchemasThrowSchemaException(string json)
    {
        var e = Assert.Throws<SchemaException>(() => CohortSchema.Parse(json));
        Assert.StartsWith("Invalid cohort schema", e.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<FormatException>(e);
    }

    [Fact]
    public void SchemasBuiltInCodeAreValidatedByTheLayout()
    {
        var schema = new CohortSchema
        {
            Id = "c",
            Dimensions = [new DimensionSpec { Name = "a", Kind = DimensionKind.Numeric, Edges = [2, 1] }],
            Measures = [new MeasureSpec { Name = "a", Lo = 0, Hi = 1 }],
        };
        var e = Assert.Throws<SchemaException>(() => new CellLayout(schema));
        Assert.Equal(2, e.Problems.Count);
    }

    [Fact]
    public void BinOfClampsOutOfRangeValuesAndRejectsNaN()
    {
        var d = new DimensionSpec { Name = "r", Kind = DimensionKind.Numeric, Edges = [0, 1, 2, 4] };
        Assert.Equal(0, d.BinOf(-5));
        Assert.Equal(0, d.BinOf(double.NegativeInfinity));
        Assert.Equal(0, d.BinOf(0));
        Assert.Equal(0, d.BinOf(0.999));
        Assert.Equal(1, d.BinOf(1));
        Assert.Equal(2, d.BinOf(2));
        Assert.Equal(2, d.BinOf(4));
        Assert.Equal(2, d.BinOf(1e9));
        Assert.Equal(2, d.BinOf(double.PositiveInfinity));
        Assert.Throws<ArgumentException>(() => d.BinOf(double.NaN));
        Assert.Equal(["[0, 1)", "[1, 2)", "[2, 4]"], d.Labels);

        var one = new DimensionSpec { Name = "r", Kind = DimensionKind.Numeric, Edges = [0, 1] };
        Assert.Equal(0, one.BinOf(-1));
        Assert.Equal(0, one.BinOf(2));

        var categorical = new DimensionSpec { Name = "c", Values = ["x"] };
        Assert.Throws<InvalidOperationException>(() => categorical.BinOf(1));
    }

    [Fact]
    public void BinOfMatchesALinearScan()
    {
        var random = new Random(7);
        for (int trial = 0; trial < 50; trial++)
        {
            int count = random.Next(2, 30);
            double[] edges = new double[count];
            edges[0] = random.NextDouble() * 10 - 5;
            for (int i = 1; i < count; i++)
            {
                edges[i] = edges[i - 1] + 0.01 + random.NextDouble();
            }

            var d = new DimensionSpec { Name = "r", Kind = DimensionKind.Numeric, Edges = edges };
            for (int k = 0; k < 50; k++)
            {
                double v = k < edges.Length ? edges[k] : edges[0] - 1 + (random.NextDouble() * (edges[^1] - edges[0] + 2));
                int expected = 0;
                for (int i = 0; i < count - 1; i++)
                {
                    if (v >= edges[i])
                    {
                        expected = i;
                    }
                }

                Assert.Equal(expected, d.BinOf(v));
            }
        }
    }

    [Fact]
    public void LabelsPrintEdgesAsWrittenAndStayDistinct()
    {
        var d = new DimensionSpec { Name = "r", Kind = DimensionKind.Numeric, Edges = [1, 1.00001, 1.00002, 150000, 1e20] };
        Assert.Equal(["[1, 1.00001)", "[1.00001, 1.00002)", "[1.00002, 150000)", "[150000, 1E+20]"], d.Labels);
        var small = new DimensionSpec { Name = "s", Kind = DimensionKind.Numeric, Edges = [-0.5, 0, 0.0525, 0.1 + 0.2] };
        Assert.Equal(["[-0.5, 0)", "[0, 0.0525)", "[0.0525, 0.3]"], small.Labels);
        var close = new DimensionSpec { Name = "c", Kind = DimensionKind.Numeric, Edges = [1, 1 + 1e-14, 2] };
        Assert.Equal(3 - 1, close.Labels.Distinct().Count());
        Assert.Equal("[1, 1.00000000000001)", close.Labels[0]);
    }

    [Fact]
    public void ClipBoundsMeasures()
    {
        var m = new MeasureSpec { Name = "m", Lo = -1, Hi = 2 };
        Assert.Equal(-1, m.Clip(-7));
        Assert.Equal(2, m.Clip(double.PositiveInfinity));
        Assert.Equal(0.5, m.Clip(0.5));
        Assert.Throws<ArgumentException>(() => m.Clip(double.NaN));
    }
}
