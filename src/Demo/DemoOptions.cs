namespace PrivateHealth.Demo;

/// <summary>The demo's settings (command-line options of <c>./privatehealth demo</c>).</summary>
internal sealed record DemoOptions
{
    /// <summary>Simulated participants (each with a device agent, a payout key and some breast-cancer records).</summary>
    public int Participants { get; init; } = 200;

    /// <summary>Rounds of federated training.</summary>
    public int Rounds { get; init; } = 20;

    /// <summary>Leave the coordinator and the chain up until Ctrl+C after the summary.</summary>
    public bool KeepRunning { get; init; }

    /// <summary>Working directory (coordinator store, agents, researcher keys); null: a fresh temp directory, removed at the end.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Seed of the split, the partition, the wearable series and local training.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>The final test accuracy the check requires.</summary>
    public double MinAccuracy { get; init; } = 0.97;

    /// <summary>Custodians (n) and threshold (t).</summary>
    public int Custodians { get; init; } = 5;

    public int Threshold { get; init; } = 3;

    /// <summary>ε the researcher's query spends (the cohort's budget is 50).</summary>
    public double QueryEpsilon { get; init; } = 20;

    /// <summary>Local training of each participant per round.</summary>
    public int LocalEpochs { get; init; } = 3;

    public int BatchSize { get; init; } = 16;

    public double LearningRate { get; init; } = 1.0;
}
