using Dllm.Sampling;

namespace Dllm.Chat.Structured;

/// <summary>
/// The token constraint of a <see cref="JsonTemplate"/> placed at <c>offset</c> on a canvas (after the prompt):
/// what each slot position may hold given the slot's committed tokens (see <see cref="JsonTemplate"/> for the
/// rules and why every commit order ends in valid JSON). Positions outside every slot allow anything (the
/// sampler never writes them: they are given).
/// </summary>
public sealed class JsonConstraint : ITokenConstraint
{
    private readonly JsonTokenClasses _classes;
    private readonly int _offset, _maskId;
    private readonly JsonSlot?[] _slotAt;

    /// <param name="template">The laid-out answer.</param>
    /// <param name="classes">The vocabulary's classes (the template's).</param>
    /// <param name="offset">Canvas position of the answer's first token (the prompt length).</param>
    /// <param name="maskId">The mask id (a masked slot position is uncommitted).</param>
    public JsonConstraint(JsonTemplate template, JsonTokenClasses classes, int offset, int maskId)
    {
        _classes = classes;
        _offset = offset;
        _maskId = maskId;
        _slotAt = new JsonSlot?[template.Tokens.Length];
        foreach (JsonSlot s in template.Slots)
            for (int i = 0; i < s.Width; i++) _slotAt[s.Start + i] = s;
    }

    /// <inheritdoc/>
    public bool Allows(int position, int token, ReadOnlySpan<int> canvas)
    {
        int at = position - _offset;
        if ((uint)at >= (uint)_slotAt.Length || _slotAt[at] is not JsonSlot slot) return true;
        if ((uint)token >= (uint)_classes.VocabSize) return false;
        int k = at - slot.Start, start = _offset + slot.Start;
        switch (slot.SlotKind)
        {
            case JsonSlot.Kind.String: return _classes.StringContent[token];
            case JsonSlot.Kind.Number:
                if (k == 0)
                {
                    if (_classes.LeadDigits[token]) return true;
                    // A lone 0 (then white space only): no digit may be committed after it.
                    if (token != _classes.Zero) return false;
                    for (int i = 1; i < slot.Width; i++) if (canvas[start + i] != _maskId && _classes.Digits[canvas[start + i]]) return false;
                    return true;
                }
                if (_classes.Digits[token])
                {
                    if (canvas[start] == _classes.Zero) return false; // no digit after a leading 0
                    for (int i = 0; i < k; i++) if (_classes.Blank[canvas[start + i]] && canvas[start + i] != _maskId) return false;
                    return true;
                }
                if (_classes.Blank[token])
                {
                    for (int i = k + 1; i < slot.Width; i++) if (canvas[start + i] != _maskId && _classes.Digits[canvas[start + i]]) return false;
                    return true;
                }
                return false;
            default: // choice
                foreach (int[] choice in slot.Choices)
                    if (choice[k] == token && Consistent(choice, canvas, start)) return true;
                return false;
        }
    }

    /// <inheritdoc/>
    public void Restrict(int position, ReadOnlySpan<int> canvas, Span<float> logits)
    {
        int at = position - _offset;
        if ((uint)at >= (uint)_slotAt.Length || _slotAt[at] is not JsonSlot slot) return;
        bool any = false;
        if (slot.SlotKind == JsonSlot.Kind.Choice)
        {
            // Few allowed tokens: keep their logits, clear the rest.
            int k = at - slot.Start, start = _offset + slot.Start;
            var keep = new List<(int, float)>();
            foreach (int[] choice in slot.Choices)
                if (Consistent(choice, canvas, start) && choice[k] < logits.Length) keep.Add((choice[k], logits[choice[k]]));
            logits.Fill(float.NegativeInfinity);
            foreach (var (t, l) in keep) { logits[t] = l; any = true; }
        }
        else
        {
            for (int t = 0; t < logits.Length; t++)
            {
                if (Allows(position, t, canvas)) any = true;
                else logits[t] = float.NegativeInfinity;
            }
        }
        if (!any) throw new InvalidOperationException($"no token is allowed at position {position}: the structured-output constraint is broken");
    }

    /// <summary>Whether a choice agrees with every committed position of its slot.</summary>
    private bool Consistent(int[] choice, ReadOnlySpan<int> canvas, int start)
    {
        for (int i = 0; i < choice.Length; i++)
            if (canvas[start + i] != _maskId && canvas[start + i] != choice[i]) return false;
        return true;
    }
}
