using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace PrivateHealth.Participant.Storage;

/// <summary>Little-endian and LEB128 writers over an <see cref="IBufferWriter{T}"/>.</summary>
internal static class BinaryWriting
{
    public static void WriteByte(this IBufferWriter<byte> w, byte value)
    {
        w.GetSpan(1)[0] = value;
        w.Advance(1);
    }

    public static void WriteVarUInt(this IBufferWriter<byte> w, ulong value)
    {
        var span = w.GetSpan(10);
        int n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[n++] = (byte)value;
        w.Advance(n);
    }

    public static void WriteInt64(this IBufferWriter<byte> w, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(w.GetSpan(8), value);
        w.Advance(8);
    }

    public static void WriteDouble(this IBufferWriter<byte> w, double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(w.GetSpan(8), value);
        w.Advance(8);
    }

    public static void WriteBytes(this IBufferWriter<byte> w, ReadOnlySpan<byte> bytes)
    {
        w.WriteVarUInt((ulong)bytes.Length);
        w.Write(bytes);
    }

    public static void WriteString(this IBufferWriter<byte> w, string value)
    {
        int n = Encoding.UTF8.GetByteCount(value);
        w.WriteVarUInt((ulong)n);
        int written = Encoding.UTF8.GetBytes(value, w.GetSpan(n));
        w.Advance(written);
    }
}

/// <summary>Reader of what <see cref="BinaryWriting"/> writes; malformed input throws <see cref="InvalidDataException"/>.</summary>
internal ref struct BinaryReading(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _pos;

    public readonly int Remaining => _data.Length - _pos;

    public byte ReadByte()
    {
        Need(1);
        return _data[_pos++];
    }

    public ulong ReadVarUInt()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = ReadByte();
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                if (shift == 63 && b > 1)
                {
                    break;
                }

                return result;
            }
        }

        throw new InvalidDataException("Malformed variable-length integer.");
    }

    public int ReadLength(int max)
    {
        ulong value = ReadVarUInt();
        if (value > (ulong)max)
        {
            throw new InvalidDataException($"Length {value} exceeds {max}.");
        }

        return (int)value;
    }

    public long ReadInt64()
    {
        Need(8);
        long v = BinaryPrimitives.ReadInt64LittleEndian(_data[_pos..]);
        _pos += 8;
        return v;
    }

    public double ReadDouble()
    {
        Need(8);
        double v = BinaryPrimitives.ReadDoubleLittleEndian(_data[_pos..]);
        _pos += 8;
        return v;
    }

    public ReadOnlySpan<byte> ReadBytes(int max)
    {
        int n = ReadLength(max);
        Need(n);
        var v = _data.Slice(_pos, n);
        _pos += n;
        return v;
    }

    public string ReadString(int maxBytes)
    {
        var bytes = ReadBytes(maxBytes);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException("Invalid UTF-8 text.", e);
        }
    }

    public readonly void ExpectEnd()
    {
        if (_pos != _data.Length)
        {
            throw new InvalidDataException($"{_data.Length - _pos} unexpected trailing bytes.");
        }
    }

    private readonly void Need(int n)
    {
        if (n < 0 || _data.Length - _pos < n)
        {
            throw new InvalidDataException("Unexpected end of data.");
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
