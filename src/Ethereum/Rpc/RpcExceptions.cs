using System.Text.Json;

namespace PrivateHealth.Ethereum;

/// <summary>A JSON-RPC error response from the node (deterministic: not retried).</summary>
public class RpcException : Exception
{
    public RpcException(string method, long code, string rpcMessage, JsonElement? data)
        : base($"JSON-RPC {method} failed with code {code}: {rpcMessage}" + (data is null ? string.Empty : $" (data: {Json.Describe(data)})"))
    {
        Method = method;
        Code = code;
        RpcMessage = rpcMessage;
        ErrorData = data;
    }

    public RpcException()
    {
        Method = RpcMessage = string.Empty;
    }

    public RpcException(string message)
        : base(message)
    {
        Method = RpcMessage = string.Empty;
    }

    public RpcException(string message, Exception innerException)
        : base(message, innerException)
    {
        Method = RpcMessage = string.Empty;
    }

    /// <summary>The method that failed.</summary>
    public string Method { get; }

    /// <summary>The JSON-RPC error code.</summary>
    public long Code { get; }

    /// <summary>The node's error message.</summary>
    public string RpcMessage { get; }

    /// <summary>The error's "data" member, if any.</summary>
    public JsonElement? ErrorData { get; }

    /// <summary>Revert data carried by the error (a hex string, or an object with a hex "data" member), if any.</summary>
    public byte[]? RevertData
    {
        get
        {
            JsonElement? data = ErrorData;
            if (data is { ValueKind: JsonValueKind.Object } obj && obj.TryGetProperty("data", out JsonElement inner))
            {
                data = inner;
            }

            if (data is { ValueKind: JsonValueKind.String } s && s.GetString() is { } text && text.StartsWith("0x", StringComparison.Ordinal))
            {
                try
                {
                    return Hex.Decode(text);
                }
                catch (FormatException)
                {
                    return null;
                }
            }

            return null;
        }
    }

    /// <summary>True when the error says the call/transaction reverted.</summary>
    public bool IsRevert =>
        Code == 3 || RevertData is not null
        || RpcMessage.Contains("revert", StringComparison.OrdinalIgnoreCase);

    /// <summary>True for "nonce too low", "already known" and similar: the nonce was consumed or the transaction is already in the pool.</summary>
    public bool IsNonceConflict =>
        RpcMessage.Contains("nonce too low", StringComparison.OrdinalIgnoreCase)
        || RpcMessage.Contains("already known", StringComparison.OrdinalIgnoreCase)
        || RpcMessage.Contains("known transaction", StringComparison.OrdinalIgnoreCase)
        || RpcMessage.Contains("nonce too high", StringComparison.OrdinalIgnoreCase)
        || RpcMessage.Contains("replacement transaction underpriced", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The node could not be reached or did not answer properly (after retries where they apply).</summary>
public class RpcTransportException : Exception
{
    public RpcTransportException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    public RpcTransportException()
    {
    }

    public RpcTransportException(string message)
        : base(message)
    {
    }
}

/// <summary>A call did not complete within the per-call timeout (after retries).</summary>
public sealed class RpcTimeoutException : RpcTransportException
{
    public RpcTimeoutException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    public RpcTimeoutException()
    {
    }

    public RpcTimeoutException(string message)
        : base(message)
    {
    }
}

/// <summary>An eth_call or gas estimation reverted; <see cref="Reason"/> is the decoded revert data.</summary>
public sealed class ContractRevertException : Exception
{
    public ContractRevertException(RevertReason reason, RpcException? innerException = null)
        : base($"Execution reverted: {reason}", innerException)
    {
        Reason = reason;
    }

    public ContractRevertException()
    {
        Reason = new RevertReason(RevertKind.Empty, []);
    }

    public ContractRevertException(string message)
        : base(message)
    {
        Reason = new RevertReason(RevertKind.Empty, []);
    }

    public ContractRevertException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = new RevertReason(RevertKind.Empty, []);
    }

    public RevertReason Reason { get; }
}

/// <summary>A mined transaction has status 0; <see cref="Reason"/> is the revert reason obtained by replaying it, when available.</summary>
public sealed class TransactionRevertedException : Exception
{
    public TransactionRevertedException(TransactionReceipt receipt, RevertReason? reason)
        : base($"Transaction {receipt?.TransactionHash} reverted in block {receipt?.BlockNumber}: {(reason is null ? "reason unavailable" : reason.ToString())}")
    {
        Receipt = receipt!;
        Reason = reason;
    }

    public TransactionRevertedException()
    {
        Receipt = null!;
    }

    public TransactionRevertedException(string message)
        : base(message)
    {
        Receipt = null!;
    }

    public TransactionRevertedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Receipt = null!;
    }

    public TransactionReceipt Receipt { get; }

    public RevertReason? Reason { get; }
}
