using System.Globalization;
using System.Text;
using System.Text.Json;
using Dllm.Sampling;

namespace Dllm.Chat;

/// <summary>
/// The diffusion decoding knobs as a user sets them, by name, one at a time: from CLI flags
/// (<c>--block-length 32</c>), a chat <c>/set steps 64</c>, extra fields of an OpenAI request
/// (<c>"cfg_scale": 1.5</c>) or <c>ChatOptions.AdditionalProperties</c>. This is the one place that knows
/// the names, their types and how they map to <see cref="DecodingOptions"/>; <see cref="Resolve"/> turns
/// the settings into options and checks them.
/// </summary>
/// <remarks>
/// <para>Names are snake_case (<see cref="Names"/>); case and '-' versus '_' do not matter, so
/// <c>block-length</c>, <c>Block_Length</c> and <c>block_length</c> are the same knob.</para>
/// <para>Lengths whose best value depends on others stay unset (null) until <see cref="Resolve"/>:
/// gen_length defaults to max_tokens rounded up to a whole number of blocks (else 128), block_length to
/// 32 (clamped to gen_length), steps to gen_length (one token per step, as LLaDA's chat.py).
/// max_tokens is a cap on the answer, not the canvas: a 100-token cap with 32-token blocks denoises 128
/// positions and returns at most the first 100 (an OpenAI client may send any max_tokens).</para>
/// <para>Setting a knob to null (JSON null, a null object) puts it back to its default. Instances are
/// mutable and not thread-safe; <see cref="Clone"/> one per request.</para>
/// </remarks>
public sealed class DecodingKnobs
{
    /// <summary>Default answer length when neither gen_length nor max_tokens is given (LLaDA's chat.py).</summary>
    public const int DefaultGenLength = 128;

    /// <summary>Default semi-autoregressive block (LLaDA's chat.py).</summary>
    public const int DefaultBlockLength = 32;

    private enum Kind { Int, Double, Bool, Name }

    private sealed record Knob(string Name, Kind Kind, string Help, Action<DecodingKnobs, object?> Set, Func<DecodingKnobs, object?> Get, string[]? Choices = null);

    private static readonly string[] RemaskingNames = ["low_confidence", "random", "topk_margin", "entropy"];
    private static readonly string[] CommitNames = ["schedule", "threshold", "factor", "dream"];
    private static readonly string[] CacheNames = ["none", "prefix", "dual"];

    private static readonly Knob[] Table =
    [
        new("gen_length", Kind.Int, "answer canvas length in tokens (default: max_tokens rounded up to whole blocks, else 128)", (k, v) => k.GenLength = (int?)v, k => k.GenLength),
        new("max_tokens", Kind.Int, "cap on the answer tokens returned", (k, v) => k.MaxTokens = (int?)v, k => k.MaxTokens),
        new("steps", Kind.Int, "total denoising steps, a multiple of the block count (default gen_length)", (k, v) => k.Steps = (int?)v, k => k.Steps),
        new("block_length", Kind.Int, "semi-autoregressive block length, divides gen_length (default 32)", (k, v) => k.BlockLength = (int?)v, k => k.BlockLength),
        new("temperature", Kind.Double, "Gumbel temperature; 0 = greedy", (k, v) => k.Temperature = (double?)v ?? 0, k => k.Temperature),
        new("cfg_scale", Kind.Double, "classifier-free guidance scale; 0 = off", (k, v) => k.CfgScale = (double?)v ?? 0, k => k.CfgScale),
        new("remasking", Kind.Name, "ordering", (k, v) => k.Remasking = (OrderingRule?)(int?)v ?? OrderingRule.LowConfidence, k => (int)k.Remasking, RemaskingNames),
        new("commit", Kind.Name, "how many to unmask per step", (k, v) => k.Commit = (CommitRule?)(int?)v ?? CommitRule.Schedule, k => (int)k.Commit, CommitNames),
        new("threshold", Kind.Double, "confidence threshold of commit=threshold", (k, v) => k.Threshold = (double?)v ?? 0.9, k => k.Threshold),
        new("factor", Kind.Double, "f of commit=factor", (k, v) => k.Factor = (double?)v ?? 1.0, k => k.Factor),
        new("alg_temp", Kind.Double, "Dream alg_temp (schedule and dream commits); 0 = top-k", (k, v) => k.AlgTemp = (double?)v ?? 0, k => k.AlgTemp),
        new("cache", Kind.Name, "Fast-dLLM KV cache", (k, v) => k.Cache = (CacheMode?)(int?)v ?? CacheMode.None, k => (int)k.Cache, CacheNames),
        new("refresh_interval", Kind.Int, "with a cache, also refresh every N steps; 0 = block starts only", (k, v) => k.RefreshInterval = (int?)v ?? 0, k => k.RefreshInterval),
        new("early_stop", Kind.Bool, "stop once the answer ends in EOS with nothing masked before it", (k, v) => k.EarlyStop = (bool?)v ?? false, k => k.EarlyStop),
        new("remdm", Kind.Int, "ReMDM loop: re-mask N committed tokens per late step; 0 = off", (k, v) => k.Remdm = (int?)v ?? 0, k => k.Remdm),
        new("seed", Kind.Int, "seed of the Gumbel noise and random remasking", (k, v) => k.Seed = (int?)v ?? 0, k => k.Seed),
    ];

    private static readonly Dictionary<string, Knob> ByName = Table.ToDictionary(k => k.Name);

    /// <summary>Answer canvas length; null = from <see cref="MaxTokens"/>, else <see cref="DefaultGenLength"/>.</summary>
    public int? GenLength { get; set; }
    /// <summary>Cap on the returned answer tokens; null = the whole canvas.</summary>
    public int? MaxTokens { get; set; }
    /// <summary>Total steps; null = the resolved gen_length.</summary>
    public int? Steps { get; set; }
    /// <summary>Block length; null = <see cref="DefaultBlockLength"/>. Clamped to gen_length.</summary>
    public int? BlockLength { get; set; }
    /// <summary>Gumbel temperature (0 = greedy).</summary>
    public double Temperature { get; set; }
    /// <summary>CFG scale (0 = off).</summary>
    public double CfgScale { get; set; }
    /// <summary>Ordering.</summary>
    public OrderingRule Remasking { get; set; } = OrderingRule.LowConfidence;
    /// <summary>Commit rule.</summary>
    public CommitRule Commit { get; set; } = CommitRule.Schedule;
    /// <summary>τ of the threshold rule.</summary>
    public double Threshold { get; set; } = 0.9;
    /// <summary>f of the factor rule.</summary>
    public double Factor { get; set; } = 1.0;
    /// <summary>Dream alg_temp.</summary>
    public double AlgTemp { get; set; }
    /// <summary>KV cache mode.</summary>
    public CacheMode Cache { get; set; } = CacheMode.None;
    /// <summary>Extra cache refresh interval.</summary>
    public int RefreshInterval { get; set; }
    /// <summary>Early stop at EOS.</summary>
    public bool EarlyStop { get; set; }
    /// <summary>ReMDM loop count (0 = off).</summary>
    public int Remdm { get; set; }
    /// <summary>RNG seed.</summary>
    public int Seed { get; set; }

    /// <summary>Every knob name, snake_case, in a stable order.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Table.Select(k => k.Name)];

    /// <summary>True when <paramref name="name"/> (any case, '-' or '_') is a knob.</summary>
    public static bool IsKnob(string name) => ByName.ContainsKey(Normalize(name));

    /// <summary>True when the knob is a boolean (a CLI switch without a value).</summary>
    /// <exception cref="InvalidRequestException">Unknown name.</exception>
    public static bool IsBoolean(string name) => Find(name).Kind == Kind.Bool;

    /// <summary>A one-line description of a knob and its accepted values, for help screens.</summary>
    /// <exception cref="InvalidRequestException">Unknown name.</exception>
    public static string Help(string name)
    {
        Knob k = Find(name);
        return k.Choices is null ? $"{k.Name} ({k.Kind.ToString().ToLowerInvariant()}): {k.Help}" : $"{k.Name} ({string.Join(" | ", k.Choices)}): {k.Help}";
    }

    /// <summary>A copy whose changes do not affect this instance.</summary>
    public DecodingKnobs Clone() => (DecodingKnobs)MemberwiseClone();

    /// <summary>Sets a knob from text (a CLI flag value, a chat <c>/set</c> argument). Null or "" resets it.</summary>
    /// <exception cref="InvalidRequestException">Unknown knob, or text that is not a value of its type; the message names the knob.</exception>
    public void Set(string name, string? text)
    {
        Knob k = Find(name);
        if (string.IsNullOrWhiteSpace(text)) { k.Set(this, null); return; }
        string t = text.Trim();
        object value = k.Kind switch
        {
            Kind.Int => int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) ? i : throw TypeError(name, "an integer", $"'{t}'"),
            Kind.Double => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : throw TypeError(name, "a number", $"'{t}'"),
            Kind.Bool => t.ToLowerInvariant() switch
            {
                "true" or "1" or "on" or "yes" => true,
                "false" or "0" or "off" or "no" => false,
                _ => throw TypeError(name, "true or false", $"'{t}'"),
            },
            _ => ChoiceIndex(k, name, t),
        };
        k.Set(this, value);
    }

    /// <summary>
    /// Sets a knob from a JSON value (an extra field of a request), strictly: integers must be JSON
    /// integers, numbers JSON numbers, booleans JSON booleans, names JSON strings. JSON null resets it.
    /// </summary>
    /// <exception cref="InvalidRequestException">Unknown knob or a value of the wrong JSON type; the message names the field.</exception>
    public void Set(string name, JsonElement value)
    {
        Knob k = Find(name);
        if (value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) { k.Set(this, null); return; }
        object parsed = k.Kind switch
        {
            Kind.Int => value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int i) ? i
                : throw TypeError(name, "an integer", Describe(value)),
            Kind.Double => value.ValueKind == JsonValueKind.Number ? value.GetDouble() : throw TypeError(name, "a number", Describe(value)),
            Kind.Bool => value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw TypeError(name, "a boolean", Describe(value)),
            },
            _ => value.ValueKind == JsonValueKind.String ? ChoiceIndex(k, name, value.GetString()!) : throw TypeError(name, "a string", Describe(value)),
        };
        k.Set(this, parsed);
    }

    /// <summary>
    /// Sets a knob from a .NET value (<c>ChatOptions.AdditionalProperties</c>): integral numbers, floating
    /// numbers, booleans, strings (parsed as by <see cref="Set(string, string?)"/>), <see cref="JsonElement"/>s,
    /// or the enums themselves. Null resets it.
    /// </summary>
    /// <exception cref="InvalidRequestException">Unknown knob or a value of the wrong type.</exception>
    public void Set(string name, object? value)
    {
        switch (value)
        {
            case null: Find(name).Set(this, null); return;
            case string s: Set(name, s); return;
            case JsonElement e: Set(name, e); return;
            case OrderingRule r: SetEnum(name, "remasking", (int)r); return;
            case CommitRule c: SetEnum(name, "commit", (int)c); return;
            case CacheMode m: SetEnum(name, "cache", (int)m); return;
        }
        Knob k = Find(name);
        object parsed = (k.Kind, value) switch
        {
            (Kind.Int, int or long or short or byte or uint or ulong) => ToInt(name, Convert.ToDecimal(value, CultureInfo.InvariantCulture)),
            (Kind.Int, double or float or decimal) when IsWhole(value) => ToInt(name, Convert.ToDecimal(value, CultureInfo.InvariantCulture)),
            (Kind.Double, int or long or short or byte or uint or ulong or double or float or decimal) => Convert.ToDouble(value, CultureInfo.InvariantCulture),
            (Kind.Bool, bool b) => b,
            _ => throw TypeError(name, k.Kind switch { Kind.Int => "an integer", Kind.Double => "a number", Kind.Bool => "a boolean", _ => "a string" }, $"{value.GetType().Name} {value}"),
        };
        k.Set(this, parsed);
    }

    /// <summary>
    /// The decoding options these settings mean, checked, and the cap on returned answer tokens.
    /// </summary>
    /// <param name="eosId">End-of-sequence id, needed by early_stop.</param>
    /// <exception cref="InvalidRequestException">A value out of range or two that conflict (e.g. steps not a
    /// multiple of the block count); the message names the knob.</exception>
    public ResolvedDecoding Resolve(int eosId)
    {
        if (MaxTokens is <= 0) throw new InvalidRequestException($"max_tokens must be ≥ 1, got {MaxTokens}", "max_tokens");
        if (Remdm < 0) throw new InvalidRequestException($"remdm must be ≥ 0, got {Remdm}", "remdm");
        // Non-positive lengths are left for DecodingOptions.Validate to reject with its usual message.
        int block = BlockLength ?? DefaultBlockLength;
        int gen = GenLength ?? (MaxTokens is int cap && block > 0 ? RoundUp(cap, Math.Min(block, cap)) : DefaultGenLength);
        if (gen > 0) block = Math.Min(block, gen);
        var generation = new GenerationOptions
        {
            GenLength = gen, BlockLength = block, Steps = Steps ?? gen, Temperature = Temperature,
            CfgScale = CfgScale, Ordering = Remasking, Seed = Seed,
        };
        var options = new DecodingOptions
        {
            Generation = generation, Commit = Commit, Threshold = Threshold, Factor = Factor, AlgTemp = AlgTemp,
            Cache = Cache, RefreshInterval = RefreshInterval, EarlyStop = EarlyStop, EosId = eosId,
            Remdm = Remdm > 0 ? new RemdmLoop { Count = Remdm } : null,
        };
        try { options.Validate(); }
        catch (ArgumentException e) when (e is not InvalidRequestException)
        {
            // DecodingOptions names the knob with '-' (its CLI spelling); say it the way the table does.
            throw new InvalidRequestException(e.Message, FieldIn(e.Message));
        }
        return new ResolvedDecoding(options, Math.Min(MaxTokens ?? gen, gen));
    }

    /// <summary>"name = value" lines for every knob, unset lengths shown as "auto".</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        foreach (Knob k in Table)
        {
            object? v = k.Get(this);
            string text = v is null ? "auto" : k.Choices is not null ? k.Choices[(int)v]
                : v is double d ? d.ToString("R", CultureInfo.InvariantCulture) : v is bool b ? (b ? "true" : "false") : Convert.ToString(v, CultureInfo.InvariantCulture)!;
            sb.Append(k.Name).Append(" = ").Append(text).Append('\n');
        }
        return sb.ToString();
    }

    private static int RoundUp(int n, int multiple) => (int)Math.Min(int.MaxValue, ((long)n + multiple - 1) / multiple * multiple);

    private static string Normalize(string name) => name.Trim().Replace('-', '_').ToLowerInvariant();

    private static Knob Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ByName.TryGetValue(Normalize(name), out Knob? k) ? k
            : throw new InvalidRequestException($"unknown decoding option '{name}' (known: {string.Join(", ", Names)})", name);
    }

    private static int ChoiceIndex(Knob k, string name, string text)
    {
        int i = Array.IndexOf(k.Choices!, text.Trim().Replace('-', '_').ToLowerInvariant());
        return i >= 0 ? i : throw new InvalidRequestException($"{name} must be one of {string.Join(", ", k.Choices!)}; got '{text}'", name);
    }

    private void SetEnum(string name, string knob, int index)
    {
        Knob k = Find(name);
        if (k.Name != knob || (uint)index >= (uint)k.Choices!.Length)
            throw new InvalidRequestException($"{name} cannot be set to a {knob} value", name);
        k.Set(this, index);
    }

    private static bool IsWhole(object v) => Convert.ToDouble(v, CultureInfo.InvariantCulture) is double d && double.IsFinite(d) && Math.Floor(d) == d;

    private static int ToInt(string name, decimal v)
        => v is >= int.MinValue and <= int.MaxValue ? (int)v : throw new InvalidRequestException($"{name} is out of range: {v}", name);

    private static InvalidRequestException TypeError(string name, string expected, string got)
        => new($"{name} must be {expected}, got {got}", name);

    private static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{v.GetString()}\"",
        JsonValueKind.Number => $"the number {v.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {v.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => v.ValueKind.ToString().ToLowerInvariant(),
    };

    /// <summary>The knob a DecodingOptions message starts with ("gen-length must..." → "gen_length").</summary>
    private static string? FieldIn(string message)
    {
        foreach (Knob k in Table.OrderByDescending(k => k.Name.Length))
            if (message.StartsWith(k.Name.Replace('_', '-'), StringComparison.Ordinal) || message.StartsWith(k.Name, StringComparison.Ordinal)) return k.Name;
        return null;
    }
}

/// <summary>What <see cref="DecodingKnobs.Resolve"/> gives: checked options and the answer-token cap (≤ gen_length).</summary>
public sealed record ResolvedDecoding(DecodingOptions Options, int MaxTokens);
