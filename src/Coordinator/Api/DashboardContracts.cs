using System.Text.Json;

namespace PrivateHealth.Coordinator.Api;

/// <summary>One job in <c>GET /api/jobs</c> (query and training jobs alike).</summary>
/// <param name="JobId">The job id (<c>qj-…</c> query, <c>job-…</c> training).</param>
/// <param name="Kind">"query", "training", or "collection" (the one-round collection job of a federated query; operators only).</param>
/// <param name="State">The job's state (see <see cref="JobResponse"/> and <see cref="TrainingJobResponse"/>).</param>
/// <param name="Message">Progress or failure message.</param>
/// <param name="CohortId">The cohort (analytics cohort of a query; enrollment cohort of a training job).</param>
/// <param name="CreatedAt">When the job was created.</param>
/// <param name="UpdatedAt">When its state last changed.</param>
/// <param name="ResearcherId">Who bought it (null for training jobs created by the operator's gRPC API).</param>
/// <param name="CurrentRound">Training: the round in progress (= completed rounds while running).</param>
/// <param name="Rounds">Training: total rounds.</param>
/// <param name="Paid">Whether the job was bought with a quote (and so is settled on chain when settlement is on).</param>
public sealed record JobSummary(string JobId, string Kind, string State, string Message, string CohortId, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    string? ResearcherId, int? CurrentRound = null, int? Rounds = null, bool Paid = false);

/// <summary>A registered custodian and whether its task stream is open now.</summary>
/// <param name="CustodianId">The custodian's id (its token subject).</param>
/// <param name="Party">Its party number in key ceremonies.</param>
/// <param name="Online">Whether it is connected (watching its tasks) now.</param>
/// <param name="RegisteredAt">When it registered.</param>
public sealed record CustodianSummary(string CustodianId, int Party, bool Online, DateTimeOffset RegisteredAt);

/// <summary><c>GET /api/custodians</c>.</summary>
/// <param name="Online">Number of custodian parties connected now.</param>
/// <param name="Registered">Number of registered custodians.</param>
/// <param name="OnlineParties">Connected parties in ascending order.</param>
/// <param name="Custodians">Every registered custodian, by party.</param>
public sealed record CustodiansResponse(int Online, int Registered, int[] OnlineParties, CustodianSummary[] Custodians);

/// <summary>One recorded settlement step.</summary>
/// <param name="Name">"escrow", "commit", "finalize", "claims", "refunded" or "closed".</param>
/// <param name="Transaction">The transaction hash (0x-hex), when the step sent or observed one.</param>
/// <param name="At">When it was recorded.</param>
/// <param name="Details">What the step saw (escrow: payer, amount, block; commit: hashes; finalize: root, total, fee; claims: transactions).</param>
public sealed record SettlementStepResponse(string Name, string? Transaction, DateTimeOffset At, JsonElement? Details);

/// <summary>A contributor's share of a payout (operators only).</summary>
/// <param name="ParticipantId">The participant.</param>
/// <param name="Address">Its payout address.</param>
/// <param name="Amount">Wei, as a decimal string.</param>
/// <param name="Weight">Its contribution weight (1 for a query; rounds contributed for training).</param>
public sealed record PayoutShare(string ParticipantId, string Address, string Amount, long Weight);

/// <summary>The payout of a job, once decided. Amounts are wei as decimal strings.</summary>
/// <param name="Root">Merkle root of the payout tree.</param>
/// <param name="Escrowed">What the escrow held.</param>
/// <param name="OperatorFee">The operator's fee (to the treasury).</param>
/// <param name="TotalPayout">Split among the contributors (escrowed − fee).</param>
/// <param name="Contributors">Contributors paid (with a payout address).</param>
/// <param name="Unpaid">Contributors left out for having no payout address.</param>
/// <param name="Shares">Per-contributor shares: operators only (null for researchers).</param>
public sealed record PayoutSummary(string Root, string Escrowed, string OperatorFee, string TotalPayout, int Contributors, int Unpaid, PayoutShare[]? Shares = null);

/// <summary>The settlement of one job (section <c>settlement</c> of <c>GET /api/jobs/{id}</c>, rows of <c>GET /api/settlements</c>).</summary>
/// <param name="Enabled">Whether settlement on chain is on (off: jobs run unpaid and this section has no steps).</param>
/// <param name="Paid">Whether the job was bought with a quote.</param>
/// <param name="PriceMicros">The quoted price (micro-units) when paid.</param>
/// <param name="Status">"off", "unpaid", "awaiting-payment", "escrowed", "committed", "finalized", "claimed", "refunded" or "closed".</param>
/// <param name="Steps">The recorded steps in order.</param>
/// <param name="Payout">The payout once decided.</param>
public sealed record JobSettlement(bool Enabled, bool Paid, long? PriceMicros, string Status, SettlementStepResponse[] Steps, PayoutSummary? Payout);

/// <summary>One paid job in <c>GET /api/settlements</c>.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Kind">"query" or "training".</param>
/// <param name="JobState">The job's state.</param>
/// <param name="Settlement">Its settlement, with per-contributor shares.</param>
public sealed record SettlementSummary(string JobId, string Kind, string JobState, JobSettlement Settlement);

/// <summary><c>GET /api/settlements</c>.</summary>
/// <param name="Enabled">Whether settlement on chain is on.</param>
/// <param name="Jobs">Every paid job, newest first.</param>
public sealed record SettlementsResponse(bool Enabled, SettlementSummary[] Jobs);

/// <summary>One finalized payout to a participant.</summary>
/// <param name="JobId">The job.</param>
/// <param name="ChainJobId">bytes32 job id on chain (0x-hex).</param>
/// <param name="Amount">Wei, as a decimal string.</param>
/// <param name="Claimed">Whether it was claimed (by the participant or the operator's batch).</param>
/// <param name="PayoutAddress">The address paid.</param>
/// <param name="Root">The payout tree's root.</param>
/// <param name="Distributor">The distributor contract.</param>
/// <param name="ChainId">The chain id.</param>
/// <param name="Proof">Merkle proof of the leaf (0x-hex hashes).</param>
public sealed record EarningResponse(string JobId, string ChainJobId, string Amount, bool Claimed, string PayoutAddress, string Root, string Distributor, long ChainId, string[] Proof);

/// <summary><c>GET /api/participants/{id}/earnings</c>.</summary>
/// <param name="ParticipantId">The participant.</param>
/// <param name="SettlementEnabled">Whether settlement on chain is on (off: never any earnings).</param>
/// <param name="PayoutAddress">Its payout address (null when it registered none).</param>
/// <param name="Total">Sum of <paramref name="Earnings"/> in wei (decimal string).</param>
/// <param name="Unclaimed">Sum of the unclaimed earnings in wei.</param>
/// <param name="Earnings">Every finalized payout to it.</param>
public sealed record EarningsResponse(string ParticipantId, bool SettlementEnabled, string? PayoutAddress, string Total, string Unclaimed, EarningResponse[] Earnings);
