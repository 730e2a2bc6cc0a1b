using System.Numerics;
using PrivateHealth.Ethereum;

namespace PrivateHealth.Settlement;

/// <summary>One payout: <paramref name="Amount"/> (wei or token base units) to <paramref name="Account"/>.</summary>
public sealed record PayoutLeaf(Address Account, BigInteger Amount);

/// <summary>
/// The Merkle tree of a job's payouts, laid out exactly like OpenZeppelin's
/// <c>StandardMerkleTree.of(values, ["bytes32","address","uint256"])</c> (@openzeppelin/merkle-tree 1.x):
/// leaf = keccak256(keccak256(abi.encode(jobId, account, amount))); leaf hashes sorted ascending and
/// stored at the end of a complete binary tree array (the smallest hash at the last index); inner node
/// i = keccak256(min ‖ max) of its children 2i+1 and 2i+2; the root is node 0. So roots and proofs
/// equal OpenZeppelin's and verify with <c>MerkleProof.verify</c> in PayoutDistributor.
/// </summary>
public sealed class PayoutTree
{
    private static readonly BigInteger MaxUint256 = (BigInteger.One << 256) - 1;
    private readonly Hash32[] _nodes;
    private readonly Dictionary<Address, int> _treeIndex;
    private readonly Dictionary<Address, PayoutLeaf> _leafByAccount;

    /// <summary>Builds the tree. One leaf per account; every amount &gt; 0 and &lt; 2^256.</summary>
    /// <exception cref="ArgumentException">No leaves, a duplicate account or an amount out of range.</exception>
    public PayoutTree(Hash32 jobId, IReadOnlyList<PayoutLeaf> leaves)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        if (leaves.Count == 0)
        {
            throw new ArgumentException("A payout tree needs at least one leaf.", nameof(leaves));
        }

        JobId = jobId;
        var hashed = new (Hash32 Hash, Address Account)[leaves.Count];
        _leafByAccount = new Dictionary<Address, PayoutLeaf>(leaves.Count);
        for (int i = 0; i < leaves.Count; i++)
        {
            PayoutLeaf leaf = leaves[i] ?? throw new ArgumentException($"Leaf {i} is null.", nameof(leaves));
            if (!_leafByAccount.TryAdd(leaf.Account, leaf))
            {
                throw new ArgumentException($"Account {leaf.Account} appears more than once; sum its amounts into one leaf.", nameof(leaves));
            }

            if (leaf.Amount.Sign <= 0 || leaf.Amount > MaxUint256)
            {
                throw new ArgumentException($"Leaf {i} ({leaf.Account}): the amount must be in 1..2^256-1; got {leaf.Amount}.", nameof(leaves));
            }

            hashed[i] = (LeafHash(jobId, leaf.Account, leaf.Amount), leaf.Account);
        }

        Array.Sort(hashed, (a, b) => a.Hash.Span.SequenceCompareTo(b.Hash.Span));
        int n = hashed.Length;
        _nodes = new Hash32[(2 * n) - 1];
        _treeIndex = new Dictionary<Address, int>(n);
        for (int i = 0; i < n; i++)
        {
            int index = _nodes.Length - 1 - i;
            _nodes[index] = hashed[i].Hash;
            _treeIndex[hashed[i].Account] = index;
        }

        for (int i = _nodes.Length - 1 - n; i >= 0; i--)
        {
            _nodes[i] = HashPair(_nodes[(2 * i) + 1], _nodes[(2 * i) + 2]);
        }

        Leaves = [.. leaves];
        Total = leaves.Aggregate(BigInteger.Zero, (sum, l) => sum + l.Amount);
    }

    /// <summary>The job the leaves are bound to.</summary>
    public Hash32 JobId { get; }

    /// <summary>The Merkle root (what <c>finalize</c> takes).</summary>
    public Hash32 Root => _nodes[0];

    /// <summary>The leaves in the order they were given.</summary>
    public IReadOnlyList<PayoutLeaf> Leaves { get; }

    /// <summary>The sum of all amounts (the <c>totalPayout</c> of <c>finalize</c>).</summary>
    public BigInteger Total { get; }

    /// <summary>True when the account has a leaf.</summary>
    public bool Contains(Address account) => _treeIndex.ContainsKey(account);

    /// <summary>The leaf of an account.</summary>
    /// <exception cref="KeyNotFoundException">The account has no leaf.</exception>
    public PayoutLeaf LeafFor(Address account) =>
        _leafByAccount.TryGetValue(account, out PayoutLeaf? leaf) ? leaf : throw new KeyNotFoundException($"No payout leaf for {account}.");

    /// <summary>The proof of an account's leaf (siblings from the leaf up; empty for a one-leaf tree).</summary>
    /// <exception cref="KeyNotFoundException">The account has no leaf.</exception>
    public IReadOnlyList<Hash32> ProofFor(Address account)
    {
        if (!_treeIndex.TryGetValue(account, out int index))
        {
            throw new KeyNotFoundException($"No payout leaf for {account}.");
        }

        var proof = new List<Hash32>();
        while (index > 0)
        {
            int sibling = index % 2 == 1 ? index + 1 : index - 1;
            proof.Add(_nodes[sibling]);
            index = (index - 1) / 2;
        }

        return proof;
    }

    /// <summary>keccak256(keccak256(abi.encode(bytes32 jobId, address account, uint256 amount))), as <c>PayoutDistributor.leafOf</c>.</summary>
    public static Hash32 LeafHash(Hash32 jobId, Address account, BigInteger amount)
    {
        if (amount.Sign < 0 || amount > MaxUint256)
        {
            throw new ArgumentOutOfRangeException(nameof(amount), amount, "A uint256 amount is needed.");
        }

        Span<byte> encoded = stackalloc byte[96];
        jobId.Span.CopyTo(encoded);
        account.Span.CopyTo(encoded[44..64]);
        if (!amount.TryWriteBytes(encoded[64..], out int written, isUnsigned: true, isBigEndian: true))
        {
            throw new ArgumentOutOfRangeException(nameof(amount));
        }

        if (written < 32)
        {
            // TryWriteBytes wrote at the start: move the big-endian bytes to the end of the word.
            Span<byte> word = encoded[64..];
            word[..written].CopyTo(word[(32 - written)..]);
            word[..(32 - written)].Clear();
        }

        return new Hash32(Keccak256.Hash(Keccak256.Hash(encoded)));
    }

    /// <summary>Processes a proof from a leaf with sorted-pair hashing and compares with the root (OpenZeppelin MerkleProof.verify).</summary>
    public static bool Verify(Hash32 root, Hash32 leaf, IReadOnlyList<Hash32> proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        Hash32 computed = leaf;
        foreach (Hash32 sibling in proof)
        {
            computed = HashPair(computed, sibling);
        }

        return computed == root;
    }

    /// <summary>keccak256(min(a,b) ‖ max(a,b)).</summary>
    public static Hash32 HashPair(Hash32 a, Hash32 b)
    {
        Span<byte> buffer = stackalloc byte[64];
        if (a.Span.SequenceCompareTo(b.Span) <= 0)
        {
            a.Span.CopyTo(buffer);
            b.Span.CopyTo(buffer[32..]);
        }
        else
        {
            b.Span.CopyTo(buffer);
            a.Span.CopyTo(buffer[32..]);
        }

        return new Hash32(Keccak256.Hash(buffer));
    }
}
