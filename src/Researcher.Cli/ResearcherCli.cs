using System.CommandLine;
using System.Globalization;
using Google.Protobuf;
using PrivateHealth.EncryptedQuery.Evaluation;
using PrivateHealth.EncryptedQuery.Planning;
using PrivateHealth.EncryptedQuery.Query;
using PrivateHealth.EncryptedQuery.Schema;
using PrivateHealth.Grpc;
using PrivateHealth.Homomorphic.Rlwe;
using PrivateHealth.Homomorphic.Serialization;
using PrivateHealth.Participant.Network;
using PrivateHealth.Protocol.V1;

namespace PrivateHealth.Researcher.Cli;

/// <summary>
/// <c>privatehealth researcher …</c>: create a key pair for a cohort, get a quote, submit a query, follow it, and decrypt
/// and finish the result locally (the secret key never leaves <c>--home</c>). Address: <c>--address</c> (default
/// http://127.0.0.1:5070); bearer token: <c>--token</c> or $PRIVATEHEALTH_TOKEN.
/// </summary>
public static class ResearcherCli
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var home = new Option<string>("--home")
        {
            Description = "Directory of the researcher's keys.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("PRIVATEHEALTH_RESEARCHER_HOME")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".privatehealth", "researcher"),
            Recursive = true,
        };
        var address = new Option<string>("--address") { Description = "Coordinator gRPC address.", DefaultValueFactory = _ => "http://127.0.0.1:5070", Recursive = true };
        var token = new Option<string?>("--token") { Description = "Bearer token (default $PRIVATEHEALTH_TOKEN).", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("PRIVATEHEALTH_TOKEN"), Recursive = true };
        var cohort = new Option<string>("--cohort") { Description = "Cohort id.", Required = true };
        var query = new Option<string>("--query") { Description = "The query, e.g. \"SELECT COUNT(*), AVG(x) FROM c GROUP BY g\".", Required = true };

        var root = new RootCommand("PrivateHealth researcher: buy statistics over an encrypted cohort; results are decrypted only here.");
        root.Options.Add(home);
        root.Options.Add(address);
        root.Options.Add(token);

        var keys = new Command("keys", "Create this researcher's CKKS key pair for a cohort's parameters.") { cohort };
        keys.SetAction((parse, ct) => Run(error, async () =>
        {
            using var client = Client(parse.GetValue(address)!, parse.GetValue(token));
            var info = await client.GetCohortAsync(parse.GetValue(cohort)!, ct).ConfigureAwait(false);
            var p = CkksSerializer.DeserializeParameters(info.Parameters.Span);
            var serializer = new CkksSerializer(p);
            using var keygen = new KeyGenerator(p.Rlwe);
            using var secret = keygen.GenerateSecretKey();
            string dir = parse.GetValue(home)!;
            Directory.CreateDirectory(dir);
            string secretPath = Path.Combine(dir, $"{info.CohortId}.secret");
            await File.WriteAllBytesAsync(secretPath, serializer.Serialize(secret), ct).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(secretPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            await File.WriteAllBytesAsync(Path.Combine(dir, $"{info.CohortId}.public"), serializer.Serialize(keygen.GeneratePublicKey(secret)), ct).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(dir, $"{info.CohortId}.schema.json"), info.SchemaJson, ct).ConfigureAwait(false);
            await output.WriteLineAsync($"Key pair for cohort {info.CohortId} written to {dir} (the secret key stays here).").ConfigureAwait(false);
        }));

        var epsilon = new Option<double>("--epsilon") { Description = "Privacy budget to spend.", DefaultValueFactory = _ => 1.0 };
        var quote = new Command("quote", "Price a query.") { cohort, query, epsilon };
        quote.SetAction((parse, ct) => Run(error, async () =>
        {
            using var client = Client(parse.GetValue(address)!, parse.GetValue(token));
            var q = await client.QuoteQueryAsync(new QuoteQueryRequest { CohortId = parse.GetValue(cohort)!, Query = parse.GetValue(query)!, Epsilon = parse.GetValue(epsilon) }, ct).ConfigureAwait(false);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"quote {q.QuoteId}: {q.Groups} groups, ε = {q.Epsilon}, δ = {q.Delta:G2}, price {q.PriceMicros / 1e6:F2}, expires {DateTimeOffset.FromUnixTimeMilliseconds(q.ExpiresUnixMs):u}")).ConfigureAwait(false);
        }));

        var quoteId = new Option<string>("--quote") { Description = "Quote id.", Required = true };
        var key = new Option<string?>("--idempotency-key") { Description = "Replaying the same key returns the same job." };
        var submit = new Command("submit", "Run a quoted query; the result is encrypted to this researcher's key.") { cohort, query, quoteId, key };
        submit.SetAction((parse, ct) => Run(error, async () =>
        {
            using var client = Client(parse.GetValue(address)!, parse.GetValue(token));
            string cohortId = parse.GetValue(cohort)!;
            var publicKey = await File.ReadAllBytesAsync(Path.Combine(parse.GetValue(home)!, $"{cohortId}.public"), ct).ConfigureAwait(false);
            var job = await client.SubmitQueryAsync(new SubmitQueryRequest
            {
                CohortId = cohortId,
                Query = parse.GetValue(query)!,
                QuoteId = parse.GetValue(quoteId)!,
                ResearcherPublicKey = ByteString.CopyFrom(publicKey),
                IdempotencyKey = parse.GetValue(key) ?? Guid.NewGuid().ToString("N"),
            }, ct).ConfigureAwait(false);
            await output.WriteLineAsync($"job {job.JobId}: {job.State}").ConfigureAwait(false);
        }));

        var jobId = new Argument<string>("job") { Description = "Query job id." };
        var result = new Command("result", "Wait for a query job, decrypt its result with this researcher's key and print the statistics.") { jobId, cohort };
        result.SetAction((parse, ct) => Run(error, async () =>
        {
            using var client = Client(parse.GetValue(address)!, parse.GetValue(token));
            var status = await client.GetQueryJobAsync(parse.GetValue(jobId)!, ct).ConfigureAwait(false);
            while (status.State is not ("completed" or "failed" or "cancelled"))
            {
                await Task.Delay(200, ct).ConfigureAwait(false);
                status = await client.GetQueryJobAsync(status.JobId, ct).ConfigureAwait(false);
            }

            if (status.State != "completed")
            {
                throw new InvalidOperationException($"Job {status.JobId} {status.State}: {status.Message}");
            }

            await output.WriteAsync(await DecryptAsync(parse.GetValue(home)!, parse.GetValue(cohort)!, status, ct).ConfigureAwait(false)).ConfigureAwait(false);
        }));

        root.Subcommands.Add(keys);
        root.Subcommands.Add(quote);
        root.Subcommands.Add(submit);
        root.Subcommands.Add(result);
        return await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }).ConfigureAwait(false);
    }

    /// <summary>Decrypts a completed job's result with the key in <paramref name="home"/> and formats the statistics.</summary>
    public static async Task<string> DecryptAsync(string home, string cohortId, QueryJobStatus status, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(status);
        var schema = CohortSchema.Parse(await File.ReadAllTextAsync(Path.Combine(home, $"{cohortId}.schema.json"), ct).ConfigureAwait(false));
        var plan = QueryPlanner.Plan(QueryParser.Parse(status.Query), schema);
        var ct0 = CkksSerializer.ReadHeader(status.Result.Span);
        var p = ParametersFor(ct0.ParametersId.ToString());
        var serializer = new CkksSerializer(p);
        using var secret = serializer.DeserializeSecretKey(await File.ReadAllBytesAsync(Path.Combine(home, $"{cohortId}.secret"), ct).ConfigureAwait(false));
        var codec = new AnalyticsCodec(p, plan.Layout);
        var slots = codec.DecodePublic(new Decryptor(p.Rlwe, secret).Decrypt(serializer.DeserializeCiphertext(status.Result.Span)), 30);
        var released = plan.Blocks.Where(b => status.ReleasedSlots.Contains(b.Slot)).ToList();
        var answer = QueryResultReader.Read(plan, slots, released);
        var text = new System.Text.StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{status.Query}");
        text.AppendLine(CultureInfo.InvariantCulture, $"released {released.Count} groups, suppressed {status.SuppressedGroups}; noise σ = {status.StatisticsSigma:G4} per normalized slot (counts σ = {status.CountSigma:G4} when deciding suppression)");
        foreach (var group in answer.Groups)
        {
            string key = group.Key.Count == 0 ? "(all)" : string.Join(", ", group.Key.Select(k => $"{k.Key}={k.Value}"));
            text.AppendLine(CultureInfo.InvariantCulture, $"[{key}] n ≈ {group.Count:F1}");
            foreach (var item in group.Items)
            {
                string value = item.Value is { } v ? v.ToString("G6", CultureInfo.InvariantCulture)
                    : item.Histogram is { } h ? string.Join(" ", h.Select(b => $"{b.Key}:{b.Value:F0}"))
                    : item.Regression is { } r ? $"intercept {r.Intercept:G6}; " + string.Join("; ", r.Coefficients.Select(c => c.ToString("G6", CultureInfo.InvariantCulture))) + $"; R² {r.RSquared:F3}"
                    : "n/a (too few people or too much noise)";
                text.AppendLine(CultureInfo.InvariantCulture, $"  {item.Item} = {value}");
            }
        }

        return text.ToString();
    }

    private static Homomorphic.Ckks.CkksParameters ParametersFor(string id)
    {
        foreach (var literal in Homomorphic.Ckks.CkksParametersLiteral.Presets.Values.OrderBy(l => l.LogN))
        {
            var p = Homomorphic.Ckks.CkksParameters.FromLiteral(literal);
            if (p.Id.ToString() == id)
            {
                return p;
            }
        }

        throw new InvalidOperationException("The result uses parameters of no known preset.");
    }

    private static CoordinatorClient Client(string address, string? token) =>
        new(Uri.TryCreate(address, UriKind.Absolute, out var uri) ? uri : throw new InvalidOperationException($"'{address}' is not an absolute address (e.g. http://127.0.0.1:5070)."),
            token ?? throw new InvalidOperationException("No bearer token: pass --token or set PRIVATEHEALTH_TOKEN."));

    private static async Task<int> Run(TextWriter error, Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
            return 0;
        }
        catch (GrpcStatusException ex)
        {
            await error.WriteLineAsync($"error: {ex.StatusCode}: {ex.Detail}").ConfigureAwait(false);
            return 1;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or FormatException or HttpRequestException)
        {
            await error.WriteLineAsync("error: " + ex.Message).ConfigureAwait(false);
            return 1;
        }
    }
}
