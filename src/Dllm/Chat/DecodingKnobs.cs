using System.Globalization;
using System.Text;
using System.Text.Json;
using Dllm.Sampling;

namespace Dllm.Chat;

/// <summary>
/// Sets the properties of <see cref="DecodingOptions"/> by knob name, one at a time, as users give them:
/// CLI flags (<c>--block-length 32</c>), a chat <c>/set steps 64</c>, extra fields of an OpenAI request
/// (<c>"cfg_scale": 1.5</c>) or <c>ChatOptions.AdditionalProperties</c>; <see cref="Build"/> gives the
/// options, checked. The one table of the knob names, their value types and the property each sets.
/// </summary>
/// <remarks>
/// <para>Names are snake_case (<see cref="Names"/>); case and '-' versus '_' do not matter, so
/// <c>block-length</c>, <c>Block_Length</c> and <c>block_length</c> are the same knob. <c>remasking</c>
/// sets <see cref="DecodingOptions.Ordering"/>; <c>remdm N</c> sets the ReMDM loop's count (0 = off).</para>
/// <para>The lengths may stay unset (null, shown as "auto"); <see cref="Build"/> then derives them as
/// LLaDA's chat.py does: gen_length from max_tokens rounded up to a whole number of blocks (else
/// <see cref="DefaultGenLength"/>), block_length <see cref="DefaultBlockLength"/> clamped to gen_length,
/// steps = gen_length (one token per step). max_tokens caps the answer, not the canvas: a 100-token cap
/// with 32-token blocks denoises 128 positions and returns at most the first 100 (an OpenAI client may
/// send any max_tokens).</para>
/// <para>Every other knob is held as a property of the options being built. Setting a knob to null (JSON
/// null, a null object, empty text) puts it back to its default: unset for a length, the
/// <see cref="DecodingOptions"/> default otherwise. Errors are <see cref="DecodingOptionException"/>s
/// naming the knob. Instances are mutable and not thread-safe; <see cref="Clone"/> one per request.</para>
/// </remarks>
public sealed class DecodingKnobs
{
    /// <summary>gen_length when neither it nor max_tokens is set (LLaDA's chat.py).</summary>
    public const int DefaultGenLength = 128;

    /// <summary>block_length when it is not set, before clamping to gen_length (LLaDA's chat.py).</summary>
    public const int DefaultBlockLength = 32;

    private enum Kind { Int, Double, Bool, Name }

    private sealed record Entry(KnobName Name, Kind Kind, string Help, Action<DecodingKnobs, object?> Set, Func<DecodingKnobs, object?> Get, string[]? Choices = null);

    private static readonly DecodingOptions Defaults = new();

    private static readonly string[] OrderingNames = [.. Enum.GetValues<OrderingRule>().Select(r => IOrdering.For(r).Name)];
    private static readonly string[] CommitNames = [.. Enum.GetValues<CommitRule>().Select(r => r.ToString().ToLowerInvariant())];
    private static readonly string[] CacheNames = [.. Enum.GetValues<CacheMode>().Select(m => m.ToString().ToLowerInvariant())];

    private static readonly Entry[] Table =
    [
        new(KnobNames.GenLength, Kind.Int, $"answer canvas length in tokens (default: max_tokens rounded up to whole blocks, else {DefaultGenLength})",
            (k, v) => k.GenLength = (int?)v, k => k.GenLength),
        new(KnobNames.MaxTokens, Kind.Int, "cap on the answer tokens returned", (k, v) => k.MaxTokens = (int?)v, k => k.MaxTokens),
        new(KnobNames.Steps, Kind.Int, "total denoising steps, a multiple of the block count (default gen_length)", (k, v) => k.Steps = (int?)v, k => k.Steps),
        new(KnobNames.BlockLength, Kind.Int, $"semi-autoregressive block length, divides gen_length (default {DefaultBlockLength})",
            (k, v) => k.BlockLength = (int?)v, k => k.BlockLength),
        new(KnobNames.Temperature, Kind.Double, "Gumbel temperature; 0 = greedy",
            (k, v) => k.With(o => o with { Temperature = (double?)v ?? Defaults.Temperature }), k => k._options.Temperature),
        new(KnobNames.CfgScale, Kind.Double, "classifier-free guidance scale; 0 = off",
            (k, v) => k.With(o => o with { CfgScale = (double?)v ?? Defaults.CfgScale }), k => k._options.CfgScale),
        new(KnobNames.Remasking, Kind.Name, "the ordering: which masked positions to commit first",
            (k, v) => k.With(o => o with { Ordering = (OrderingRule?)(int?)v ?? Defaults.Ordering }), k => (int)k._options.Ordering, OrderingNames),
        new(KnobNames.Commit, Kind.Name, "how many to unmask per step",
            (k, v) => k.With(o => o with { Commit = (CommitRule?)(int?)v ?? Defaults.Commit }), k => (int)k._options.Commit, CommitNames),
        new(KnobNames.Threshold, Kind.Double, "confidence threshold of commit=threshold and commit=dynamic",
            (k, v) => k.With(o => o with { Threshold = (double?)v ?? Defaults.Threshold }), k => k._options.Threshold),
        new(KnobNames.Factor, Kind.Double, "f of commit=factor",
            (k, v) => k.With(o => o with { Factor = (double?)v ?? Defaults.Factor }), k => k._options.Factor),
        new(KnobNames.AlgTemp, Kind.Double, "Dream alg_temp (schedule and dream commits); 0 = top-k",
            (k, v) => k.With(o => o with { AlgTemp = (double?)v ?? Defaults.AlgTemp }), k => k._options.AlgTemp),
        new(KnobNames.Cache, Kind.Name, "Fast-dLLM KV cache",
            (k, v) => k.With(o => o with { Cache = (CacheMode?)(int?)v ?? Defaults.Cache }), k => (int)k._options.Cache, CacheNames),
        new(KnobNames.RefreshInterval, Kind.Int, "with a cache, also refresh every N steps; 0 = block starts only",
            (k, v) => k.With(o => o with { RefreshInterval = (int?)v ?? Defaults.RefreshInterval }), k => k._options.RefreshInterval),
        new(KnobNames.ReusePrefix, Kind.Bool, "with a cache, a refresh reuses the cached rows of a prompt prefix seen before (approximate on bidirectional models)",
            (k, v) => k.With(o => o with { ReusePrefix = (bool?)v ?? Defaults.ReusePrefix }), k => k._options.ReusePrefix),
        new(KnobNames.EarlyStop, Kind.Bool, "stop once the answer ends in EOS with nothing masked before it",
            (k, v) => k.With(o => o with { EarlyStop = (bool?)v ?? Defaults.EarlyStop }), k => k._options.EarlyStop),
        new(KnobNames.Remdm, Kind.Int, "ReMDM loop: re-mask N committed tokens per late step; 0 = off",
            (k, v) => k.With(o => o with { Remdm = v is int n && n != 0 ? (o.Remdm ?? new RemdmLoop()) with { Count = n } : null }),
            k => k._options.Remdm?.Count ?? 0),
        new(KnobNames.SubBlockLength, Kind.Int, "block diffusion models: decode each block in sub-blocks of N (Fast-dLLM v2's small_block_size)",
            (k, v) => k.With(o => o with { SubBlockLength = (int?)v }), k => k._options.SubBlockLength),
        new(KnobNames.EditThreshold, Kind.Double, "LLaDA2.1 token editing: rewrite a committed token of the block when the model prefers another with p > this (off unless set)",
            (k, v) => k.With(o => o with { EditThreshold = (double?)v }), k => k._options.EditThreshold),
        new(KnobNames.MaxPostEditSteps, Kind.Int, "with edit_threshold: edit-only steps a block may take once unmasked",
            (k, v) => k.With(o => o with { MaxPostEditSteps = (int?)v ?? Defaults.MaxPostEditSteps }), k => k._options.MaxPostEditSteps),
        new(KnobNames.Seed, Kind.Int, "seed of the Gumbel noise and the random ordering",
            (k, v) => k.With(o => o with { Seed = (int?)v ?? Defaults.Seed }), k => k._options.Seed),
    ];

    private static readonly Dictionary<string, Entry> ByName = Table.ToDictionary(k => k.Name.Name);

    /// <summary>Every knob but the lengths, as the options they set (the lengths in it are not used).</summary>
    private DecodingOptions _options = Defaults;

    /// <summary>Answer canvas length (gen_length); null = from <see cref="MaxTokens"/>, else <see cref="DefaultGenLength"/>.</summary>
    public int? GenLength { get; set; }

    /// <summary>Cap on the returned answer tokens (max_tokens); null = the whole canvas.</summary>
    public int? MaxTokens { get; set; }

    /// <summary>Total steps; null = the built gen_length.</summary>
    public int? Steps { get; set; }

    /// <summary>Block length; null = <see cref="DefaultBlockLength"/>. Either way clamped to gen_length.</summary>
    public int? BlockLength { get; set; }

    /// <summary>Every knob name, snake_case, in a stable order.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Table.Select(k => k.Name.Name)];

    /// <summary>True when <paramref name="name"/> (any case, '-' or '_') is a knob.</summary>
    public static bool IsKnob(string name) => ByName.ContainsKey(Normalize(name));

    /// <summary>True when the knob is a boolean (a CLI switch without a value).</summary>
    /// <exception cref="DecodingOptionException">Unknown name.</exception>
    public static bool IsBoolean(string name) => Find(name).Kind == Kind.Bool;

    /// <summary>A one-line description of a knob and its accepted values, for help screens.</summary>
    /// <exception cref="DecodingOptionException">Unknown name.</exception>
    public static string Help(string name)
    {
        Entry k = Find(name);
        return k.Choices is null ? $"{k.Name} ({k.Kind.ToString().ToLowerInvariant()}): {k.Help}" : $"{k.Name} ({string.Join(" | ", k.Choices)}): {k.Help}";
    }

    /// <summary>A copy whose changes do not affect this instance.</summary>
    public DecodingKnobs Clone() => (DecodingKnobs)MemberwiseClone();

    /// <summary>Sets a knob from text (a CLI flag value, a chat <c>/set</c> argument). Null or blank text resets it.</summary>
    /// <exception cref="DecodingOptionException">Unknown knob, or text that is not a value of its type.</exception>
    public void Set(string name, string? text)
    {
        Entry k = Find(name);
        if (string.IsNullOrWhiteSpace(text)) { k.Set(this, null); return; }
        string t = text.Trim();
        object value = k.Kind switch
        {
            Kind.Int => int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) ? i : throw TypeError(k, "an integer", $"'{t}'"),
            Kind.Double => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : throw TypeError(k, "a number", $"'{t}'"),
            Kind.Bool => t.ToLowerInvariant() switch
            {
                "true" or "1" or "on" or "yes" => true,
                "false" or "0" or "off" or "no" => false,
                _ => throw TypeError(k, "true or false", $"'{t}'"),
            },
            _ => ChoiceIndex(k, t),
        };
        k.Set(this, value);
    }

    /// <summary>
    /// Sets a knob from a JSON value (an extra field of a request), strictly: integers must be JSON
    /// integers, numbers JSON numbers, booleans JSON booleans, names JSON strings. JSON null resets it.
    /// </summary>
    /// <exception cref="DecodingOptionException">Unknown knob or a value of the wrong JSON type.</exception>
    public void Set(string name, JsonElement value)
    {
        Entry k = Find(name);
        if (value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined) { k.Set(this, null); return; }
        object parsed = k.Kind switch
        {
            Kind.Int => value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int i) ? i : throw TypeError(k, "an integer", Describe(value)),
            Kind.Double => value.ValueKind == JsonValueKind.Number ? value.GetDouble() : throw TypeError(k, "a number", Describe(value)),
            Kind.Bool => value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw TypeError(k, "a boolean", Describe(value)),
            },
            _ => value.ValueKind == JsonValueKind.String ? ChoiceIndex(k, value.GetString()!) : throw TypeError(k, "a string", Describe(value)),
        };
        k.Set(this, parsed);
    }

    /// <summary>
    /// Sets a knob from a .NET value (<c>ChatOptions.AdditionalProperties</c>): integral numbers, floating
    /// numbers (whole ones for integer knobs), booleans, strings (parsed as by <see cref="Set(string, string?)"/>),
    /// <see cref="JsonElement"/>s, or the enums themselves. Null resets it.
    /// </summary>
    /// <exception cref="DecodingOptionException">Unknown knob, a value of the wrong type, or an integer out of range.</exception>
    public void Set(string name, object? value)
    {
        switch (value)
        {
            case null: Find(name).Set(this, null); return;
            case string s: Set(name, s); return;
            case JsonElement e: Set(name, e); return;
            case OrderingRule r: SetEnum(name, KnobNames.Remasking, (int)r); return;
            case CommitRule c: SetEnum(name, KnobNames.Commit, (int)c); return;
            case CacheMode m: SetEnum(name, KnobNames.Cache, (int)m); return;
        }
        Entry k = Find(name);
        object parsed = (k.Kind, value) switch
        {
            (Kind.Int, int or long or short or byte or uint or ulong) => ToInt(k, Convert.ToDecimal(value, CultureInfo.InvariantCulture)),
            (Kind.Int, double or float or decimal) when IsWhole(value) => ToInt(k, Convert.ToDecimal(value, CultureInfo.InvariantCulture)),
            (Kind.Double, int or long or short or byte or uint or ulong or double or float or decimal) => Convert.ToDouble(value, CultureInfo.InvariantCulture),
            (Kind.Bool, bool b) => b,
            _ => throw TypeError(k, k.Kind switch { Kind.Int => "an integer", Kind.Double => "a number", Kind.Bool => "a boolean", _ => "a string" }, $"{value.GetType().Name} {value}"),
        };
        k.Set(this, parsed);
    }

    /// <summary>The options these settings mean, lengths derived as the remarks say, checked.</summary>
    /// <param name="eosId">The model's end-of-sequence id (<see cref="DecodingOptions.EosId"/>, which early_stop needs).</param>
    /// <exception cref="DecodingOptionException">A value out of range or two that conflict (e.g. steps not a
    /// multiple of the block count), from <see cref="DecodingOptions.Validate"/>.</exception>
    public DecodingOptions Build(int eosId)
    {
        int block = BlockLength ?? DefaultBlockLength;
        // A non-positive cap or block is left for validation to name; the canvas then keeps its default.
        int gen = GenLength ?? (MaxTokens is int cap && cap > 0 && block > 0 ? RoundUp(cap, Math.Min(block, cap)) : DefaultGenLength);
        if (gen > 0) block = Math.Min(block, gen);
        DecodingOptions options = _options with
        {
            GenLength = gen, BlockLength = block, Steps = Steps ?? gen, MaxTokens = MaxTokens, EosId = eosId,
        };
        options.Validate();
        return options;
    }

    /// <summary>
    /// The options for infilling a canvas with <paramref name="masks"/> masks (<see cref="DiffusionSampler.Fill"/>):
    /// the masks are the answer, so steps default to one per mask, and block_length, when set, splits them into
    /// blocks decoded left to right (<see cref="DecodingOptions.InfillBlockLength"/>); gen_length and max_tokens do
    /// not apply. Checked.
    /// </summary>
    /// <exception cref="DecodingOptionException">A value out of range, e.g. steps not a multiple of the block count.</exception>
    public DecodingOptions BuildForInfill(int masks, int eosId)
    {
        DecodingOptions options = _options with
        {
            GenLength = 1, BlockLength = null, InfillBlockLength = BlockLength, Steps = Steps ?? Math.Max(1, masks), MaxTokens = null, EosId = eosId,
        };
        options.Validate();
        return options;
    }

    /// <summary>
    /// The options exactly as the knobs are set, for callers that choose the lengths themselves (an evaluation sets
    /// them per question): a set knob has its value, an unset one its <see cref="DecodingOptions"/> default (an unset
    /// block_length is null: one block). Nothing is derived and nothing is checked: validate once the lengths are set.
    /// </summary>
    public DecodingOptions AsSet => _options with
    {
        GenLength = GenLength ?? Defaults.GenLength, BlockLength = BlockLength, Steps = Steps ?? Defaults.Steps, MaxTokens = MaxTokens,
    };

    /// <summary>"name = value" lines for every knob, unset lengths shown as "auto".</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        foreach (Entry k in Table)
        {
            object? v = k.Get(this);
            string text = v is null ? "auto" : k.Choices is not null ? k.Choices[(int)v]
                : v is double d ? d.ToString("R", CultureInfo.InvariantCulture) : v is bool b ? (b ? "true" : "false") : Convert.ToString(v, CultureInfo.InvariantCulture)!;
            sb.Append(k.Name).Append(" = ").Append(text).Append('\n');
        }
        return sb.ToString();
    }

    private void With(Func<DecodingOptions, DecodingOptions> change) => _options = change(_options);

    private static int RoundUp(int n, int multiple) => (int)Math.Min(int.MaxValue, ((long)n + multiple - 1) / multiple * multiple);

    private static string Normalize(string name) => name.Trim().Replace('-', '_').ToLowerInvariant();

    private static Entry Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ByName.TryGetValue(Normalize(name), out Entry? k) ? k
            : throw new DecodingOptionException(new KnobName(name), $"unknown decoding option '{name}' (known: {string.Join(", ", Names)})");
    }

    private static int ChoiceIndex(Entry k, string text)
    {
        int i = Array.IndexOf(k.Choices!, Normalize(text));
        return i >= 0 ? i : throw new DecodingOptionException(k.Name, $"{k.Name} must be one of {string.Join(", ", k.Choices!)}; got '{text}'");
    }

    private void SetEnum(string name, KnobName knob, int index)
    {
        Entry k = Find(name);
        if (k.Name != knob || (uint)index >= (uint)k.Choices!.Length)
            throw new DecodingOptionException(k.Name, $"{k.Name} cannot be set to a {knob.Name} value");
        k.Set(this, index);
    }

    private static bool IsWhole(object v) => Convert.ToDouble(v, CultureInfo.InvariantCulture) is double d && double.IsFinite(d) && Math.Floor(d) == d;

    private static int ToInt(Entry k, decimal v)
        => v is >= int.MinValue and <= int.MaxValue ? (int)v : throw new DecodingOptionException(k.Name, $"{k.Name} is out of range: {v}");

    private static DecodingOptionException TypeError(Entry k, string expected, string got) => new(k.Name, $"{k.Name} must be {expected}, got {got}");

    private static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{v.GetString()}\"",
        JsonValueKind.Number => $"the number {v.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {v.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => v.ValueKind.ToString().ToLowerInvariant(),
    };
}
