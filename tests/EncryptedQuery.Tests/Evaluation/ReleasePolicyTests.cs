using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Release;
using PrivateHealth.Homomorphic.Ckks;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Learning.Encrypted;
using PrivateHealth.Learning.Randomness;

namespace PrivateHealth.EncryptedQuery.Tests.Evaluation;

/// <summary>
/// Issue 6 acceptance (DP on): noisy counts decide suppression, the statistics of the released groups get Gaussian
/// noise added under encryption by the t custodians, the result is key-switched to the researcher, and the privacy
/// budget refuses a query that would exceed it without spending anything.
/// </summary>
public sealed class ReleasePolicyTests(ITestOutputHelper output, EncryptedCohortFixture cohort) : IClassFixture<EncryptedCohortFixture>
{
    [Fact]
    public void NoisyReleaseSuppressesSmallGroupsHasTheConfiguredNoiseAndOnlyTheResearcherDecrypts()
    {
        var p = cohort.Parameters;
        var settings = new ReleaseSettings { MinGroupSize = 10, EpsilonPerQuery = 1.0, DeltaPerQuery = 1e-7 };
        settings.Validate();
        var budget = new PrivacyBudgetLedger(2.5, 1e-6);
        var (countSigma, statSigma) = ReleasePolicy.Sigmas(cohort.Schema, settings);
        var plan = QueryPlanner.Plan(QueryParser.Parse("SELECT COUNT(*), AVG(mean_radius), VAR(mean_texture) FROM breast_cancer GROUP BY label, radius_bin"), cohort.Schema);
        var truth = plan.EvaluatePlain(cohort.PlainAggregate);
        using var random = new CryptoRandomSource();
        var gaussian = new GaussianSampler(random);
        using var encryptor = new Encryptor(p.Rlwe, cohort.Committee.PublicKey);
        var evaluator = new CkksEvaluator(p);
        var encoder = new CkksEncoder(p);

        Ciphertext AddNoise(Ciphertext result, IEnumerable<OutputBlock> blocks, double sigma, bool countsOnly)
        {
            // each of the t decrypting custodians encrypts its own share N(0, σ²/t) under the collective key
            var list = blocks.ToList();
            for (int c = 0; c < cohort.Committee.Threshold; c++)
            {
                var share = ReleasePolicy.NoiseShare(plan, list, sigma, cohort.Committee.Threshold, gaussian.NextStandard, p.MaxSlots, countsOnly);
                var ct = encryptor.Encrypt(encoder.Encode(share, result.Level, result.Scale));
                evaluator.AddInPlace(result, ct);
            }

            return result;
        }

        var residuals = new List<double>();
        for (int query = 0; query < 2; query++)
        {
            budget.Spend(settings.EpsilonPerQuery, settings.DeltaPerQuery);

            // pass 1: public noisy counts decide which groups are released
            var counts = AddNoise(cohort.Evaluator.Evaluate(cohort.Aggregate, plan, countsOnly: true), plan.Blocks, countSigma, countsOnly: true);
            var flooding = UpdateRelease.FloodingFor(p, 5, cohort.People.Count + 64);
            double precision = UpdateRelease.PrecisionBits(p, flooding, 3);
            var noisyCounts = cohort.Codec.DecodePublic(cohort.Committee.Decrypt([counts], flooding)[0], precision);
            var released = ReleasePolicy.Released(plan, noisyCounts, settings.MinGroupSize);
            foreach (var block in plan.Blocks)
            {
                residuals.Add((noisyCounts[block.Slot] - truth[block.Slot]) / countSigma);
                Assert.Equal(noisyCounts[block.Slot] >= settings.MinGroupSize, released.Contains(block));
            }

            // pass 2: the released groups' statistics, noised under encryption, re-encrypted to the researcher (PCKS)
            using var keygen = new KeyGenerator(p.Rlwe);
            using var researcherSecret = keygen.GenerateSecretKey();
            var researcherPublic = keygen.GeneratePublicKey(researcherSecret);
            var statistics = AddNoise(cohort.Evaluator.Evaluate(cohort.Aggregate, plan, released), released, statSigma, countsOnly: false);
            var forResearcher = cohort.Committee.KeySwitchTo([statistics], researcherPublic, flooding)[0];
            var slots = cohort.Codec.DecodePublic(new Decryptor(p.Rlwe, researcherSecret).Decrypt(forResearcher), precision);
            int b = plan.Layout.Cells.BlockSize;
            foreach (var block in plan.Blocks)
            {
                for (int t = 0; t < b; t++)
                {
                    if (released.Contains(block))
                    {
                        residuals.Add((slots[block.Slot + t] - truth[block.Slot + t]) / statSigma);
                    }
                    else
                    {
                        Assert.True(Math.Abs(slots[block.Slot + t]) < 1e-3, "a suppressed group must release nothing");
                    }
                }
            }

            // the committee's own key does not open the researcher's result
            var wrong = cohort.Codec.Decode(cohort.Committee.Decrypt([forResearcher], flooding)[0]);
            Assert.True(wrong.Take(plan.Layout.SlotCount).Select((v, i) => Math.Abs(v - slots[i])).Max() > 1e3);

            var answer = QueryResultReader.Read(plan, slots, released);
            output.WriteLine($"query {query}: {released.Count} of {plan.Blocks.Count} groups released (σ counts {countSigma:F2}, σ statistics {statSigma:F2} in normalized units); first group n ≈ {answer.Groups[0].Count:F1}");
        }

        double mean = residuals.Average();
        double std = Math.Sqrt(residuals.Sum(r => (r - mean) * (r - mean)) / (residuals.Count - 1));
        output.WriteLine($"{residuals.Count} noise samples / σ: mean {mean:F3}, std {std:F3}");
        Assert.InRange(std, 1 - (4 / Math.Sqrt(2.0 * residuals.Count)), 1 + (4 / Math.Sqrt(2.0 * residuals.Count)));
        Assert.InRange(mean, -4 / Math.Sqrt(residuals.Count), 4 / Math.Sqrt(residuals.Count));

        // a third query would exceed ε = 2.5: refused, and nothing is spent
        var before = budget.Remaining;
        var refused = Assert.Throws<PrivacyBudgetExceededException>(() => budget.Spend(settings.EpsilonPerQuery, settings.DeltaPerQuery));
        Assert.Contains("Nothing was spent", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, budget.Remaining);
    }

    [Fact]
    public void SensitivityAndSigmaFollowTheGaussianMechanism()
    {
        var settings = new ReleaseSettings { EpsilonPerQuery = 0.5, DeltaPerQuery = 1e-6, CountShare = 0.5 };
        var (count, stats) = ReleasePolicy.Sigmas(cohort.Schema, settings);
        int blockSize = plan().Layout.Cells.BlockSize;
        Assert.Equal(Math.Sqrt(2 * Math.Log(1.25 / 5e-7)) / 0.25, count, 12);
        Assert.Equal(Math.Sqrt(blockSize) * Math.Sqrt(2 * Math.Log(1.25 / 5e-7)) / 0.25, stats, 9);
        Assert.Equal((0.0, 0.0), ReleasePolicy.Sigmas(cohort.Schema, settings with { DifferentialPrivacy = false }));

        QueryPlan plan() => QueryPlanner.Plan(QueryParser.Parse("SELECT COUNT(*) FROM breast_cancer"), cohort.Schema);
    }
}
