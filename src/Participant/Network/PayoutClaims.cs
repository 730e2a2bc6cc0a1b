using System.Numerics;
using PrivateHealth.Ethereum;
using PrivateHealth.Settlement;

namespace PrivateHealth.Participant.Network;

/// <summary>One payout an agent claimed itself.</summary>
public sealed record ClaimedPayout(string JobId, BigInteger Amount, Hash32 Transaction);

/// <summary>
/// The agent's side of payouts: reads its earnings from the coordinator (amount, Merkle proof, claim status per settled
/// job) and claims the unclaimed ones itself, from its own payout key, directly on the distributor contract. Claiming
/// needs gas in that account; without it the operator's batched claims pay the agent anyway (the default), and the
/// funds always go to the agent's payout address whoever submits the claim.
/// </summary>
public static class PayoutClaims
{
    /// <summary>Claims every unclaimed earning; each proof is checked locally before a transaction is sent.</summary>
    /// <param name="coordinator">The agent's coordinator client.</param>
    /// <param name="participantId">The agent's participant id.</param>
    /// <param name="wallet">The account of the agent's payout key (the address registered at enrollment).</param>
    /// <param name="buildDirectory">The contracts' compiled artifacts (<c>contracts/build</c>), for the distributor's ABI.</param>
    /// <param name="ct">Cancellation.</param>
    public static async Task<IReadOnlyList<ClaimedPayout>> ClaimAsync(CoordinatorClient coordinator, string participantId, EthereumAccount wallet, string buildDirectory, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(coordinator);
        ArgumentNullException.ThrowIfNull(wallet);
        var reply = await coordinator.GetEarningsAsync(participantId, ct).ConfigureAwait(false);
        var claimed = new List<ClaimedPayout>();
        foreach (var earning in reply.Earnings.Where(e => !e.Claimed))
        {
            var account = Address.Parse(earning.PayoutAddress);
            if (account != wallet.Address)
            {
                throw new InvalidOperationException($"Job {earning.JobId} pays {account}, not this wallet ({wallet.Address}).");
            }

            var jobId = Hash32.Parse(earning.ChainJobId);
            var amount = BigInteger.Parse(earning.Amount);
            var proof = earning.Proof.Select(Hash32.Parse).ToList();
            if (!PayoutTree.Verify(Hash32.Parse(earning.Root), PayoutTree.LeafHash(jobId, account, amount), proof))
            {
                throw new InvalidOperationException($"The coordinator's proof for job {earning.JobId} does not verify against its root; not claiming.");
            }

            var deployment = new ChainDeployment(earning.ChainId, Address.Zero, Address.Zero, Address.Zero, Address.Parse(earning.Distributor), Address.Zero, 0);
            var chain = new SettlementChain(wallet.Rpc, deployment, buildDirectory);
            if (await chain.IsClaimedAsync(jobId, account, ct).ConfigureAwait(false))
            {
                continue;
            }

            var receipt = await chain.ClaimAsync(wallet, jobId, account, amount, proof, ct).ConfigureAwait(false);
            claimed.Add(new ClaimedPayout(earning.JobId, amount, receipt.TransactionHash));
        }

        return claimed;
    }
}
