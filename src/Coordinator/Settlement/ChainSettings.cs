namespace PrivateHealth.Coordinator.Settlement;

/// <summary>On-chain settlement settings (<c>Coordinator:Chain:*</c>); settlement is off unless <see cref="Enabled"/>.</summary>
public sealed class ChainSettings
{
    /// <summary>Settle paid jobs on chain: escrow before a job runs, result commitment, payout root, claims.</summary>
    public bool Enabled { get; set; }

    /// <summary>JSON-RPC endpoint of the chain.</summary>
    public string? RpcUrl { get; set; }

    /// <summary>Deployment file (addresses of the four contracts; written by <c>SettlementDeployer</c> or <c>contracts/scripts/deploy.js</c>).</summary>
    public string? DeploymentPath { get; set; }

    /// <summary>Directory of the compiled contract artifacts (<c>contracts/build</c>).</summary>
    public string BuildDirectory { get; set; } = "contracts/build";

    /// <summary>Hex private key of the operator account (OPERATOR_ROLE: commits results, finalizes, batches claims).</summary>
    public string? OperatorKey { get; set; }

    /// <summary>
    /// Hex private key of the marketplace's paying account, which pays each job's price into escrow on the researcher's
    /// behalf (researchers need no wallet). Unset: the coordinator only waits for the payment of the job id.
    /// </summary>
    public string? PayerKey { get; set; }

    /// <summary>Confirmations to wait for before a payment or a step counts. Default 1.</summary>
    public int Confirmations { get; set; } = 1;

    /// <summary>Share of each job's payment kept as the operator fee (to the treasury), in percent. Default 10.</summary>
    public int OperatorFeePercent { get; set; } = 10;

    /// <summary>Wei per micro-unit of a quote's price. Default 10^12 (a price of 1,000,000 micros is 1 ether).</summary>
    public long WeiPerMicro { get; set; } = 1_000_000_000_000;

    /// <summary>Escrow deadline after payment: after it an unfinished job can be refunded by anyone. Default 1 day.</summary>
    public TimeSpan JobDeadline { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The operator claims every contributor's payout in batches after finalization (contributors need no gas). Default true.</summary>
    public bool BatchClaims { get; set; } = true;

    /// <summary>Leaves per claim batch transaction. Default 100.</summary>
    public int ClaimBatchSize { get; set; } = 100;

    /// <summary>Every problem of the settings (empty when valid or disabled).</summary>
    public IReadOnlyList<string> Problems()
    {
        var p = new List<string>();
        if (!Enabled)
        {
            return p;
        }

        if (!Uri.TryCreate(RpcUrl, UriKind.Absolute, out _)) { p.Add("Chain:RpcUrl must be an absolute URL."); }
        if (string.IsNullOrWhiteSpace(DeploymentPath) || !File.Exists(DeploymentPath)) { p.Add($"Chain:DeploymentPath '{DeploymentPath}' does not exist."); }
        if (!Directory.Exists(BuildDirectory)) { p.Add($"Chain:BuildDirectory '{BuildDirectory}' does not exist."); }
        if (string.IsNullOrWhiteSpace(OperatorKey)) { p.Add("Chain:OperatorKey is required."); }
        if (Confirmations < 1) { p.Add("Chain:Confirmations must be >= 1."); }
        if (OperatorFeePercent is < 0 or > 100) { p.Add("Chain:OperatorFeePercent must be in [0, 100]."); }
        if (WeiPerMicro < 1) { p.Add("Chain:WeiPerMicro must be >= 1."); }
        if (JobDeadline < TimeSpan.FromMinutes(1)) { p.Add("Chain:JobDeadline must be at least 1 minute."); }
        if (ClaimBatchSize is < 1 or > 1000) { p.Add("Chain:ClaimBatchSize must be in [1, 1000]."); }
        return p;
    }
}
