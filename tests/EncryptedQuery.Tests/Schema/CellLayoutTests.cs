using FsCheck;
using FsCheck.Fluent;
using PrivateHealth.EncryptedQuery.Schema;

namespace PrivateHealth.EncryptedQuery.Tests.Schema;

public sealed class CellLayoutTests
{
    private static CohortSchema SchemaOf(int[] sizes, int measures) => new()
    {
        Id = "c",
        Dimensions = [.. sizes.Select((s, i) => new DimensionSpec { Name = $"d{i}", Values = [.. Enumerable.Range(0, s).Select(v => $"v{v}")] })],
        Measures = [.. Enumerable.Range(0, measures).Select(m => new MeasureSpec { Name = $"m{m}", Lo = 0, Hi = 1 })],
    };

    [Fact]
    public void CellIndexAndCoordinatesAreInverseBijections()
    {
        var sizes = Gen.Choose(0, 4).SelectMany(length => Gen.ArrayOf(Gen.Choose(1, 5), length)).ToArbitrary();
        Prop.ForAll(sizes, s =>
        {
            var layout = new CellLayout(SchemaOf(s, 1));
            if (layout.CellCount != s.Aggregate(1, (a, b) => a * b))
            {
                return false;
            }

            var seen = new HashSet<string>();
            for (int cell = 0; cell < layout.CellCount; cell++)
            {
                int[] coordinates = layout.Coordinates(cell);
                if (coordinates.Length != s.Length || coordinates.Where((c, i) => c < 0 || c >= s[i]).Any()
                    || layout.CellIndex(coordinates) != cell || !seen.Add(string.Join(",", coordinates)))
                {
                    return false;
                }
            }

            return true;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void RowMajorWithTheFirstDimensionSlowest()
    {
        var layout = new CellLayout(SchemaOf([2, 3, 4], 0));
        Assert.Equal(24, layout.CellCount);
        Assert.Equal(0, layout.CellIndex([0, 0, 0]));
        Assert.Equal(1, layout.CellIndex([0, 0, 1]));
        Assert.Equal(4, layout.CellIndex([0, 1, 0]));
        Assert.Equal(12, layout.CellIndex([1, 0, 0]));
        Assert.Equal([1, 2, 3], layout.Coordinates(23));
        Assert.Throws<ArgumentException>(() => layout.CellIndex([0, 0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => layout.CellIndex([0, 3, 0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => layout.Coordinates(24));
        Assert.Throws<ArgumentOutOfRangeException>(() => layout.Coordinates(-1));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(7)]
    public void OffsetsAreDistinctAndCoverTheBlock(int m)
    {
        var layout = new CellLayout(SchemaOf([3], m));
        Assert.Equal(1 + (2 * m) + (m * (m - 1) / 2), layout.BlockSize);
        Assert.Equal(3 * layout.BlockSize, layout.SlotCount);
        var offsets = new List<int> { CellLayout.CountOffset };
        for (int a = 0; a < m; a++)
        {
            Assert.Equal(1 + a, layout.SumOffset(a));
            Assert.Equal(1 + m + a, layout.SumSquaresOffset(a));
            offsets.Add(layout.SumOffset(a));
            offsets.Add(layout.SumSquaresOffset(a));
        }

        int expected = 1 + (2 * m);
        for (int a = 0; a < m; a++)
        {
            for (int b = a + 1; b < m; b++)
            {
                Assert.Equal(expected++, layout.ProductOffset(a, b));   // lexicographic order
                Assert.Equal(layout.ProductOffset(a, b), layout.ProductOffset(b, a));
                offsets.Add(layout.ProductOffset(a, b));
            }
        }

        Assert.Equal(layout.BlockSize, offsets.Count);
        Assert.Equal(offsets.Count, offsets.Distinct().Count());
        Assert.All(offsets, o => Assert.InRange(o, 0, layout.BlockSize - 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => layout.SumOffset(m));
        if (m > 0)
        {
            Assert.Throws<ArgumentException>(() => layout.ProductOffset(0, 0));
        }
    }

    [Fact]
    public void BreastCancerLayout()
    {
        var layout = new CellLayout(EncodingTestData.BreastCancerSchema());
        Assert.Equal(20, layout.CellCount);
        Assert.Equal(4, layout.MeasureCount);
        Assert.Equal(15, layout.BlockSize);
        Assert.Equal(300, layout.SlotCount);
        Assert.Equal([2, 10], layout.DimensionSizes);
    }
}
