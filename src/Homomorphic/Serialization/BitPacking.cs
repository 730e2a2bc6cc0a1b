using System.Buffers.Binary;

namespace PrivateHealth.Homomorphic.Serialization;

/// <summary>Packs residues at a fixed bit width (LSB first). The value count times the width must be a multiple of 8.</summary>
internal static class BitPacking
{
    public static int Pack(ReadOnlySpan<ulong> values, int bits, Span<byte> destination, int offset)
    {
        UInt128 acc = 0;
        int accBits = 0;
        foreach (ulong v in values)
        {
            acc |= (UInt128)v << accBits;
            accBits += bits;
            while (accBits >= 64)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(destination[offset..], (ulong)acc);
                offset += 8;
                acc >>= 64;
                accBits -= 64;
            }
        }

        while (accBits > 0)
        {
            destination[offset++] = (byte)acc;
            acc >>= 8;
            accBits -= 8;
        }

        return offset;
    }

    public static int Unpack(ReadOnlySpan<byte> source, int offset, int bits, Span<ulong> values)
    {
        ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        UInt128 acc = 0;
        int accBits = 0;
        int end = offset + checked(values.Length * bits / 8);
        for (int j = 0; j < values.Length; j++)
        {
            while (accBits < bits)
            {
                if (end - offset >= 8)
                {
                    acc |= (UInt128)BinaryPrimitives.ReadUInt64LittleEndian(source[offset..]) << accBits;
                    offset += 8;
                    accBits += 64;
                }
                else
                {
                    acc |= (UInt128)source[offset++] << accBits;
                    accBits += 8;
                }
            }

            values[j] = (ulong)acc & mask;
            acc >>= bits;
            accBits -= bits;
        }

        return offset;
    }
}
