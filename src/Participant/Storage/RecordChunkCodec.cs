using System.Buffers;
using PrivateHealth.Participant.Data;

namespace PrivateHealth.Participant.Storage;

/// <summary>What a decoded chunk holds, to skip it in later queries without decrypting it again.</summary>
internal sealed record ChunkSummary(string[] Metrics, long MinStartTicks, long MaxStartTicks)
{
    public bool MayMatch(string? metric, long fromTicks, long toTicks) =>
        MaxStartTicks >= fromTicks && MinStartTicks < toTicks && (metric is null || Array.IndexOf(Metrics, metric) >= 0);
}

/// <summary>
/// Plaintext of a record chunk: <c>u8 encoding (1) ‖ varint stringCount ‖ strings (varint length ‖ UTF-8) ‖ varint
/// recordCount ‖ records</c>, each record <c>varint metric ‖ varint unit ‖ varint source</c> (string-table indices)
/// <c>‖ i64 start (UTC ticks, LE) ‖ varint duration (ticks) ‖ f64 value (LE)</c>; about 22 bytes per record.
/// </summary>
internal sealed class RecordChunkCodec
{
    public const byte Encoding = 1;
    private const int MaxStringBytes = 4096;
    private readonly Dictionary<string, int> _indices = new(StringComparer.Ordinal);
    private readonly List<string> _strings = [];

    public void Encode(IReadOnlyList<HealthRecord> records, ArrayBufferWriter<byte> output)
    {
        _indices.Clear();
        _strings.Clear();
        foreach (var r in records)
        {
            Index(r.Metric);
            Index(r.Unit);
            Index(r.Source);
        }

        output.WriteByte(Encoding);
        output.WriteVarUInt((ulong)_strings.Count);
        foreach (string s in _strings)
        {
            output.WriteString(s);
        }

        output.WriteVarUInt((ulong)records.Count);
        foreach (var r in records)
        {
            output.WriteVarUInt((ulong)_indices[r.Metric]);
            output.WriteVarUInt((ulong)_indices[r.Unit]);
            output.WriteVarUInt((ulong)_indices[r.Source]);
            output.WriteInt64(r.Start.UtcTicks);
            output.WriteVarUInt((ulong)(r.End.UtcTicks - r.Start.UtcTicks));
            output.WriteDouble(r.Value);
        }
    }

    private void Index(string s)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(s) > MaxStringBytes)
        {
            throw new ArgumentException($"A metric, unit or source longer than {MaxStringBytes} UTF-8 bytes cannot be stored.");
        }

        if (_indices.TryAdd(s, _strings.Count))
        {
            _strings.Add(s);
        }
    }

    public static ChunkSummary Summarize(IReadOnlyList<HealthRecord> records)
    {
        long min = long.MaxValue, max = long.MinValue;
        var metrics = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in records)
        {
            min = Math.Min(min, r.Start.UtcTicks);
            max = Math.Max(max, r.Start.UtcTicks);
            metrics.Add(r.Metric);
        }

        return new ChunkSummary([.. metrics], min, max);
    }

    /// <summary>Decodes a chunk's records into <paramref name="into"/>, sharing string instances through
    /// <paramref name="strings"/>; malformed input throws <see cref="InvalidDataException"/>.</summary>
    public static void Decode(ReadOnlySpan<byte> plaintext, List<HealthRecord> into, Dictionary<string, string> strings)
    {
        var reader = new BinaryReading(plaintext);
        byte encoding = reader.ReadByte();
        if (encoding != Encoding)
        {
            throw new InvalidDataException($"Unknown chunk encoding {encoding}.");
        }

        var table = new string[reader.ReadLength(plaintext.Length)];
        for (int i = 0; i < table.Length; i++)
        {
            string s = reader.ReadString(MaxStringBytes);
            if (!strings.TryGetValue(s, out var shared))
            {
                if (strings.Count < 4096)
                {
                    strings[s] = s;
                }

                shared = s;
            }

            table[i] = shared;
        }

        int count = reader.ReadLength(plaintext.Length / 20);
        into.EnsureCapacity(into.Count + count);
        for (int i = 0; i < count; i++)
        {
            string metric = table[Index(ref reader, table.Length)];
            string unit = table[Index(ref reader, table.Length)];
            string source = table[Index(ref reader, table.Length)];
            long start = reader.ReadInt64();
            ulong duration = reader.ReadVarUInt();
            double value = reader.ReadDouble();
            if (start < DateTime.MinValue.Ticks || start > DateTime.MaxValue.Ticks
                || duration > (ulong)(DateTime.MaxValue.Ticks - start) || !double.IsFinite(value) || string.IsNullOrWhiteSpace(metric))
            {
                throw new InvalidDataException($"Record {i} of the chunk is out of range.");
            }

            into.Add(new HealthRecord(metric, new DateTimeOffset(start, TimeSpan.Zero), new DateTimeOffset(start + (long)duration, TimeSpan.Zero), value, unit, source));
        }

        reader.ExpectEnd();
    }

    private static int Index(ref BinaryReading reader, int count)
    {
        ulong i = reader.ReadVarUInt();
        return i < (ulong)count ? (int)i : throw new InvalidDataException($"String index {i} is outside the chunk's table of {count}.");
    }
}
