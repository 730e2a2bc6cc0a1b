using System.Collections.Concurrent;
using System.Numerics;

namespace PrivateHealth.Ethereum;

/// <summary>
/// Hands out nonces per account under concurrency. The first use reads the pending transaction
/// count once; later nonces are counted locally. A lease holds the account's lock from allocation
/// until the caller reports the outcome of the broadcast, so sends from one account are ordered and
/// a failed send never leaves a gap:
/// <list type="bullet">
/// <item><see cref="NonceLease.Broadcast"/>: the nonce is used; the next lease gets nonce + 1.</item>
/// <item><see cref="NonceLease.NotBroadcast"/>: the send definitely did not reach the node; the same nonce is reused.</item>
/// <item><see cref="NonceLease.Resync"/> (and disposal without an outcome): the outcome is unknown or the node reported a nonce conflict; the next lease re-reads the pending count.</item>
/// </list>
/// </summary>
public sealed class NonceManager
{
    private readonly JsonRpcClient _rpc;
    private readonly ConcurrentDictionary<Address, AccountState> _accounts = new();

    public NonceManager(JsonRpcClient rpc) => _rpc = rpc ?? throw new ArgumentNullException(nameof(rpc));

    /// <summary>Waits for the account's lock and returns the next nonce; dispose the lease after reporting the outcome.</summary>
    public async Task<NonceLease> AcquireAsync(Address account, CancellationToken cancellationToken = default)
    {
        AccountState state = _accounts.GetOrAdd(account, _ => new AccountState());
        await state.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            state.Next ??= await _rpc.GetTransactionCountAsync(account, BlockTag.Pending, cancellationToken).ConfigureAwait(false);
            return new NonceLease(state, state.Next.Value);
        }
        catch
        {
            state.Lock.Release();
            throw;
        }
    }

    /// <summary>Forgets the local count of an account so the next lease re-reads it from the node.</summary>
    public async Task ResyncAsync(Address account, CancellationToken cancellationToken = default)
    {
        AccountState state = _accounts.GetOrAdd(account, _ => new AccountState());
        await state.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        state.Next = null;
        state.Lock.Release();
    }

    internal sealed class AccountState
    {
        public SemaphoreSlim Lock { get; } = new(1, 1);

        public BigInteger? Next { get; set; }
    }
}

/// <summary>An allocated nonce; report exactly one outcome, then dispose (disposal releases the account).</summary>
public sealed class NonceLease : IDisposable
{
    private readonly NonceManager.AccountState _state;
    private bool _reported;
    private bool _disposed;

    internal NonceLease(NonceManager.AccountState state, BigInteger nonce)
    {
        _state = state;
        Nonce = nonce;
    }

    /// <summary>The nonce to use.</summary>
    public BigInteger Nonce { get; }

    /// <summary>The transaction reached the node's pool: the next nonce is Nonce + 1.</summary>
    public void Broadcast() => Report(Nonce + 1);

    /// <summary>The transaction definitely did not reach the node (signing failed, estimation failed, the node rejected it): reuse this nonce.</summary>
    public void NotBroadcast() => Report(Nonce);

    /// <summary>Unknown outcome or nonce conflict: re-read the pending count next time.</summary>
    public void Resync() => Report(null);

    private void Report(BigInteger? next)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _state.Next = next;
        _reported = true;
    }

    /// <summary>Releases the account; without a reported outcome the count is resynced (safe default).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        if (!_reported)
        {
            _state.Next = null;
        }

        _disposed = true;
        _state.Lock.Release();
    }
}
