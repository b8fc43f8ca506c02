using System.Text;
using System.Text.Json;

namespace Dllm.Chat.Structured;

/// <summary>
/// The canvas of a structured answer: the schema's scaffold (braces, brackets, keys, quotes, colons, commas)
/// as given tokens, and a run of masks (a slot) for each value, with what each slot may hold
/// (<see cref="JsonConstraint"/>). Every slot's language is closed under any order of commitment, so the
/// finished canvas is always valid JSON that validates against the schema:
/// <list type="bullet">
/// <item>string: <c>"</c> + <see cref="StringWidth"/> string-content tokens + <c>"</c> (any order; the value
/// keeps whatever white space the model writes);</item>
/// <item>integer and number: <see cref="NumberWidth"/> positions holding digits then white space (the first a
/// digit token without leading zero, or a lone 0 with white space only after it; a digit is allowed only where
/// no white space precedes it in the slot, white space only where no digit follows) — so only non-negative
/// integers are written, a documented restriction;</item>
/// <item>boolean and enum: a choice slot as wide as the longest choice's tokens, each choice padded with white
/// space; a position may take a token only of the choices still consistent with the slot's committed tokens;</item>
/// <item>object: every property, in the schema's order; array: a fixed count of items, 2 clamped to
/// [minItems, maxItems].</item>
/// </list>
/// </summary>
public sealed class JsonTemplate
{
    /// <summary>Tokens of a string value's slot.</summary>
    public const int StringWidth = 12;
    /// <summary>Positions of an integer or number value's slot.</summary>
    public const int NumberWidth = 4;
    /// <summary>Items written for an array without bounds that say otherwise.</summary>
    public const int DefaultItems = 2;

    /// <summary>The answer canvas: scaffold tokens, and <c>maskId</c> at every slot position.</summary>
    public int[] Tokens { get; }
    /// <summary>The value slots, in canvas order (positions relative to the answer's start).</summary>
    public IReadOnlyList<JsonSlot> Slots { get; }

    private JsonTemplate(int[] tokens, IReadOnlyList<JsonSlot> slots) => (Tokens, Slots) = (tokens, slots);

    /// <summary>Lays out <paramref name="schema"/>.</summary>
    /// <param name="schema">The parsed schema.</param>
    /// <param name="classes">The vocabulary's classes (and its tokenizer).</param>
    /// <param name="maskId">The mask id written at value positions.</param>
    /// <param name="maxTokens">The most tokens the template may take (the model's context): checked while laying out,
    /// so that a schema of nested arrays with large minItems fails at once instead of building millions of slots.</param>
    /// <exception cref="InvalidRequestException">The template needs more than <paramref name="maxTokens"/> tokens (code "context_length_exceeded").</exception>
    public static JsonTemplate Build(SchemaNode schema, JsonTokenClasses classes, int maskId, int maxTokens = int.MaxValue)
    {
        var b = new Builder(classes, maskId, maxTokens);
        b.Value(schema);
        b.Flush();
        return new JsonTemplate([.. b.Tokens], b.Slots);
    }

    private sealed class Builder(JsonTokenClasses classes, int maskId, int maxTokens)
    {
        private void Bound()
        {
            if (Tokens.Count + _text.Length / 8 > maxTokens) // text: at most 8 characters a token is a safe under-estimate here
                throw new InvalidRequestException($"the schema's JSON template needs more than {maxTokens} tokens, more than the model's context; use fewer properties or array items",
                    code: "context_length_exceeded");
        }

        public readonly List<int> Tokens = [];
        public readonly List<JsonSlot> Slots = [];
        private readonly StringBuilder _text = new();

        public void Flush()
        {
            if (_text.Length > 0) Tokens.AddRange(classes.Tokenizer.Encode(_text.ToString()));
            _text.Clear();
            Bound();
        }

        private void Slot(JsonSlot.Kind kind, int width, int[][]? choices = null)
        {
            Flush();
            Slots.Add(new JsonSlot(kind, Tokens.Count, width, choices ?? []));
            for (int i = 0; i < width; i++) Tokens.Add(maskId);
            Bound();
        }

        public void Value(SchemaNode s)
        {
            switch (s.Kind)
            {
                case SchemaKind.String:
                    _text.Append('"');
                    Slot(JsonSlot.Kind.String, StringWidth);
                    _text.Append('"');
                    break;
                case SchemaKind.Integer or SchemaKind.Number:
                    Slot(JsonSlot.Kind.Number, NumberWidth);
                    break;
                case SchemaKind.Boolean:
                    Choice(["true", "false"]);
                    break;
                case SchemaKind.Enum:
                    Choice(s.Choices);
                    break;
                case SchemaKind.Array:
                    int count = Math.Clamp(DefaultItems, s.MinItems, s.MaxItems ?? int.MaxValue);
                    _text.Append('[');
                    for (int i = 0; i < count; i++)
                    {
                        if (i > 0) _text.Append(", ");
                        Value(s.Items!);
                        Bound();
                    }
                    _text.Append(']');
                    break;
                case SchemaKind.Object:
                    _text.Append('{');
                    for (int i = 0; i < s.Properties.Count; i++)
                    {
                        if (i > 0) _text.Append(", ");
                        _text.Append(JsonSerializer.Serialize(s.Properties[i].Name)).Append(": ");
                        Value(s.Properties[i].Schema);
                    }
                    _text.Append('}');
                    break;
            }
        }

        private void Choice(IReadOnlyList<string> texts)
        {
            int[][] encoded = [.. texts.Select(t => classes.Tokenizer.Encode(t).ToArray())];
            int width = encoded.Max(e => e.Length);
            int[][] padded = [.. encoded.Select(e => e.Concat(Enumerable.Repeat(classes.Space, width - e.Length)).ToArray())];
            Slot(JsonSlot.Kind.Choice, width, padded);
        }
    }
}

/// <summary>One value slot of a <see cref="JsonTemplate"/>: <see cref="Width"/> positions from <see cref="Start"/>
/// (relative to the answer), and for a choice slot the padded token sequence of each choice.</summary>
public sealed record JsonSlot(JsonSlot.Kind SlotKind, int Start, int Width, int[][] Choices)
{
    /// <summary>What a slot holds.</summary>
    public enum Kind { String, Number, Choice }
}
