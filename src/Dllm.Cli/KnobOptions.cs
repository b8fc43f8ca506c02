using System.CommandLine;
using Dllm.Chat;

namespace Dllm.Cli;

/// <summary>
/// One CLI option per decoding knob (<c>--gen-length</c>, <c>--steps</c>, <c>--remasking</c>...), generated
/// from <see cref="DecodingKnobs.Names"/> so every verb spells, documents and parses them the same way.
/// Values are parsed by <see cref="DecodingKnobs.Set(string, string?)"/>; flags left out keep the knob's
/// default. <see cref="Flag"/> is how the CLI spells a knob, in its options and in error messages.
/// </summary>
internal sealed class KnobOptions
{
    private readonly List<(string Name, Option Option)> _options = [];

    /// <param name="exclude">Knob names this verb does not offer as flags (e.g. serve uses --max-tokens for its limit).</param>
    public KnobOptions(params string[] exclude)
    {
        foreach (string name in DecodingKnobs.Names)
        {
            if (exclude.Contains(name)) continue;
            string flag = Flag(name);
            Option option = DecodingKnobs.IsBoolean(name)
                ? new Option<bool>(flag) { Description = DecodingKnobs.Help(name) }
                : new Option<string?>(flag) { Description = DecodingKnobs.Help(name) };
            _options.Add((name, option));
        }
    }

    /// <summary>The flag of a knob: <c>block_length</c> → <c>--block-length</c>.</summary>
    public static string Flag(string knob) => "--" + knob.Replace('_', '-');

    /// <summary>The knob names the user gave flags for on this command line.</summary>
    public IEnumerable<string> Given(ParseResult result)
        => _options.Where(o => result.GetResult(o.Option) is { Implicit: false }).Select(o => o.Name);

    /// <summary>The options, to add to a command.</summary>
    public IEnumerable<Option> All => _options.Select(o => o.Option);

    /// <summary>Knobs with every flag the user gave applied on top of <paramref name="defaults"/> (a copy is made).</summary>
    /// <exception cref="Dllm.Sampling.DecodingOptionException">A value that does not parse; it names the knob.</exception>
    public DecodingKnobs Read(ParseResult result, DecodingKnobs? defaults = null)
    {
        DecodingKnobs knobs = defaults?.Clone() ?? new DecodingKnobs();
        foreach (var (name, option) in _options)
        {
            if (result.GetResult(option) is not { Implicit: false }) continue; // not on the command line
            if (option is Option<bool> flag) knobs.Set(name, result.GetValue(flag));
            else knobs.Set(name, result.GetValue((Option<string?>)option));
        }
        return knobs;
    }
}
