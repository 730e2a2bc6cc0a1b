using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PrivateHealth.Coordinator.Storage;

/// <summary>Column encodings of <see cref="SqliteCoordinatorStore"/> (all little-endian).</summary>
internal static class SqliteEncoding
{
    /// <summary>Encodes a list of byte strings as <c>int32 count</c>, then <c>int32 length + bytes</c> for each.</summary>
    public static byte[] EncodeBlobs(IReadOnlyList<byte[]> items)
    {
        long total = 4;
        foreach (var item in items)
        {
            total += 4 + item.Length;
        }

        if (total > int.MaxValue)
        {
            throw new ArgumentException("The ciphertexts are too large to store (more than 2 GiB in total).", nameof(items));
        }

        var buffer = new byte[total];
        BinaryPrimitives.WriteInt32LittleEndian(buffer, items.Count);
        var offset = 4;
        foreach (var item in items)
        {
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(offset), item.Length);
            offset += 4;
            item.CopyTo(buffer, offset);
            offset += item.Length;
        }

        return buffer;
    }

    public static byte[][] DecodeBlobs(ReadOnlySpan<byte> data)
    {
        var count = ReadLength(ref data);
        var items = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var length = ReadLength(ref data);
            if (length > data.Length)
            {
                throw Corrupt();
            }

            items[i] = data[..length].ToArray();
            data = data[length..];
        }

        return data.IsEmpty ? items : throw Corrupt();
    }

    public static byte[] EncodeDoubles(double[] values)
    {
        var buffer = new byte[checked(values.Length * sizeof(double))];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(buffer.AsSpan(i * sizeof(double)), values[i]);
        }

        return buffer;
    }

    public static double[] DecodeDoubles(ReadOnlySpan<byte> data)
    {
        if (data.Length % sizeof(double) != 0)
        {
            throw Corrupt();
        }

        var values = new double[data.Length / sizeof(double)];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadDoubleLittleEndian(data[(i * sizeof(double))..]);
        }

        return values;
    }

    public static string EncodeStrings(IReadOnlyList<string> values) =>
        JsonSerializer.Serialize(values as string[] ?? [.. values], StorageJsonContext.Default.StringArray);

    public static string[] DecodeStrings(string json) =>
        JsonSerializer.Deserialize(json, StorageJsonContext.Default.StringArray) ?? throw Corrupt();

    public static long ToUnixMilliseconds(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    public static DateTimeOffset FromUnixMilliseconds(long value) => DateTimeOffset.FromUnixTimeMilliseconds(value);

    private static int ReadLength(ref ReadOnlySpan<byte> data)
    {
        if (data.Length < 4)
        {
            throw Corrupt();
        }

        var value = BinaryPrimitives.ReadInt32LittleEndian(data);
        data = data[4..];
        return value >= 0 ? value : throw Corrupt();
    }

    private static InvalidDataException Corrupt() => new("A stored coordinator record is corrupt (bad encoding).");
}

[JsonSerializable(typeof(string[]))]
internal sealed partial class StorageJsonContext : JsonSerializerContext;
