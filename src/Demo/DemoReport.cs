namespace PrivateHealth.Demo;

/// <summary>How long a phase took and what it did.</summary>
internal sealed record PhaseTiming(string Name, TimeSpan Duration, string Detail);

/// <summary>One check of the summary; the demo exits non-zero when any fails.</summary>
internal sealed record DemoCheck(string Name, bool Passed, string Detail);

/// <summary>A released query value next to the plaintext statistic over the same people, with the tolerance its noise allows.</summary>
internal sealed record QueryComparison(string Group, string Item, double? Released, double Truth, double Tolerance, bool Passed, string Note = "");

/// <summary>Test accuracy of the global model after a round, and how many custodians were online during it.</summary>
internal sealed record RoundAccuracy(int Round, double Accuracy, int CustodiansOnline);

/// <summary>Gas used by one settlement transaction (from its receipt).</summary>
internal sealed record GasUse(string Job, string Step, string Transaction, long Gas, int Transactions = 1);

/// <summary>A contributor's earnings over both jobs.</summary>
internal sealed record Earner(string ParticipantId, string Address, decimal Ether, long QueryWeight, long TrainingWeight);

/// <summary>Everything the summary shows.</summary>
internal sealed class DemoReport
{
    public List<PhaseTiming> Phases { get; } = [];
    public List<DemoCheck> Checks { get; } = [];
    public List<QueryComparison> Query { get; } = [];
    public List<RoundAccuracy> Rounds { get; } = [];
    public List<GasUse> Gas { get; } = [];
    public List<Earner> Earners { get; } = [];
    public string QueryText { get; set; } = "";
    public string ResearcherOutput { get; set; } = "";
    public double CountSigma { get; set; }
    public double StatisticsSigma { get; set; }
    public double QueryEpsilon { get; set; }
    public int SuppressedGroups { get; set; }
    public double FinalAccuracy { get; set; }
    public double PlaintextAccuracy { get; set; }
    public double RelativeDifference { get; set; }
    public double MinAccuracy { get; set; }
    public long AnalyticsBytes { get; set; }
    public long TrainingBytes { get; set; }
    public int TrainingUploads { get; set; }
    public int Participants { get; set; }
    public int Contributors { get; set; }
    public int TrainingRounds { get; set; }
    public string OfflineCustodians { get; set; } = "";
    public decimal QueryPriceEther { get; set; }
    public decimal TrainingPriceEther { get; set; }
    public decimal FeesEther { get; set; }
    public TimeSpan Total { get; set; }

    public bool Passed => Checks.Count > 0 && Checks.All(c => c.Passed);

    public void Check(string name, bool passed, string detail) => Checks.Add(new DemoCheck(name, passed, detail));
}
