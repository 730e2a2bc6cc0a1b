using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Reflection;
using System.Text;
using Google.Protobuf;

namespace PrivateHealth.Grpc;

/// <summary>Wire-level helpers shared by server and client: framing, status encoding, timeouts.</summary>
internal static class GrpcProtocol
{
    public const string ContentType = "application/grpc";
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";
    public const string SupportedEncodings = "identity,gzip";
    public const int HeaderSize = 5;

    /// <summary>True for <c>application/grpc</c>, <c>application/grpc+proto</c>, <c>application/grpc;...</c>.</summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType) || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (contentType.Length == ContentType.Length)
        {
            return true;
        }

        var next = contentType[ContentType.Length];
        if (next == ';')
        {
            return true;
        }

        if (next != '+')
        {
            return false;
        }

        // Only the protobuf sub-type is understood.
        var subtype = contentType[(ContentType.Length + 1)..];
        var semicolon = subtype.IndexOf(';', StringComparison.Ordinal);
        if (semicolon >= 0)
        {
            subtype = subtype[..semicolon];
        }

        return subtype.Trim().Equals("proto", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Writes the 5-byte prefix and the serialized message.</summary>
    public static void WriteMessage(IBufferWriter<byte> output, IMessage message, int maxSize)
    {
        var size = message.CalculateSize();
        if (size > maxSize)
        {
            throw new GrpcStatusException(StatusCode.ResourceExhausted, $"Sending message exceeds the maximum configured message size ({size} > {maxSize}).");
        }

        var header = output.GetSpan(HeaderSize);
        header[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(header[1..], (uint)size);
        output.Advance(HeaderSize);
        if (size > 0)
        {
            message.WriteTo(output.GetSpan(size)[..size]);
            output.Advance(size);
        }
    }

    /// <summary>Frames a message into a new array (client side).</summary>
    public static byte[] Frame(IMessage message)
    {
        var writer = new ArrayBufferWriter<byte>();
        WriteMessage(writer, message, int.MaxValue);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Parses a message prefix; returns false if fewer than 5 bytes are available.</summary>
    public static bool TryReadHeader(ReadOnlySequence<byte> buffer, out bool compressed, out uint length)
    {
        compressed = false;
        length = 0;
        if (buffer.Length < HeaderSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        if (header[0] > 1)
        {
            throw new GrpcStatusException(StatusCode.Internal, $"Invalid compressed flag {header[0]} in message prefix.");
        }

        compressed = header[0] == 1;
        length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        return true;
    }

    /// <summary>Percent-encodes a status message as required for <c>grpc-message</c>.</summary>
    public static string EncodeMessage(string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var builder = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    /// <summary>Decodes a percent-encoded <c>grpc-message</c>; malformed escapes are kept verbatim.</summary>
    public static string DecodeMessage(string? encoded)
    {
        if (string.IsNullOrEmpty(encoded))
        {
            return string.Empty;
        }

        if (!encoded.Contains('%', StringComparison.Ordinal))
        {
            return encoded;
        }

        var bytes = new List<byte>(encoded.Length);
        for (var i = 0; i < encoded.Length; i++)
        {
            var c = encoded[i];
            if (c == '%' && i + 2 < encoded.Length
                && byte.TryParse(encoded.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var value))
            {
                bytes.Add(value);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>Parses <c>grpc-timeout</c> (1-8 digits followed by H, M, S, m, u or n).</summary>
    public static bool TryParseTimeout(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (string.IsNullOrEmpty(value) || value.Length < 2 || value.Length > 9)
        {
            return false;
        }

        if (!long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
        {
            return false;
        }

        double ticks = value[^1] switch
        {
            'H' => amount * (double)TimeSpan.TicksPerHour,
            'M' => amount * (double)TimeSpan.TicksPerMinute,
            'S' => amount * (double)TimeSpan.TicksPerSecond,
            'm' => amount * (double)TimeSpan.TicksPerMillisecond,
            'u' => amount * (double)TimeSpan.TicksPerMicrosecond,
            'n' => amount / 100.0,
            _ => -1,
        };
        if (ticks < 0)
        {
            return false;
        }

        timeout = ticks >= TimeSpan.MaxValue.Ticks ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)Math.Ceiling(ticks));
        return true;
    }

    /// <summary>Formats a timeout for <c>grpc-timeout</c>, at most 8 digits.</summary>
    public static string FormatTimeout(TimeSpan timeout)
    {
        var ms = Math.Max(1L, (long)Math.Ceiling(timeout.TotalMilliseconds));
        if (ms < 100_000_000)
        {
            return ms.ToString(CultureInfo.InvariantCulture) + "m";
        }

        var seconds = (long)Math.Ceiling(timeout.TotalSeconds);
        if (seconds < 100_000_000)
        {
            return seconds.ToString(CultureInfo.InvariantCulture) + "S";
        }

        var hours = Math.Min(99_999_999L, (long)Math.Ceiling(timeout.TotalHours));
        return hours.ToString(CultureInfo.InvariantCulture) + "H";
    }

    /// <summary>Maps an HTTP status of a non-gRPC reply to a gRPC status (gRPC "HTTP to gRPC status code mapping").</summary>
    public static StatusCode FromHttpStatus(int httpStatus) => httpStatus switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };
}

/// <summary>The <c>MessageParser&lt;T&gt;</c> from the generated static <c>Parser</c> property.</summary>
internal static class ParserCache<T>
    where T : IMessage<T>
{
    public static readonly MessageParser<T> Parser = Resolve();

    private static MessageParser<T> Resolve()
    {
        var property = typeof(T).GetProperty("Parser", BindingFlags.Public | BindingFlags.Static);
        return property?.GetValue(null) as MessageParser<T>
            ?? throw new InvalidOperationException($"{typeof(T)} has no public static MessageParser<{typeof(T).Name}> Parser property.");
    }
}
