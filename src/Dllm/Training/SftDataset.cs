using System.Text.Json;
using Dllm.IO;
using Dllm.Text;

namespace Dllm.Training;

/// <summary>
/// SFT examples from JSONL, one object per line: <c>{"prompt": "...", "response": "..."}</c> or
/// <c>{"messages": [{"role": "user", "content": "..."}, ..., {"role": "assistant", "content": "..."}]}</c>.
/// The prompt is the chat template of every message but the last (which must be the assistant's),
/// with the assistant header; the answer is the response followed by <c>&lt;|eot_id|&gt;</c>
/// (then EOS padding, added by <see cref="SftObjective.Pad"/>), as LLaDA's SFT data is laid out.
/// </summary>
public static class SftDataset
{
    /// <exception cref="InvalidDataException">Invalid JSON, a missing field, or an example longer than
    /// <paramref name="maxLength"/>; the message names the file and line.</exception>
    /// <param name="limitName">What <paramref name="maxLength"/> is, for the error message.</param>
    public static List<(int[] Prompt, int[] Answer)> Load(string path, ITokenizer tok, int maxLength, string limitName = "the model's")
    {
        int? eot = tok.EndOfTurnId; // the tokenizer says which token ends a turn (<|eot_id|>, <|im_end|>, ...)
        var examples = new List<(int[], int[])>();
        foreach (var (history, response, where) in Conversations(path))
        {
            int[] prompt = [.. ChatTemplate.Apply(tok, history)];
            int[] answer = [.. tok.Encode(response.Trim()), .. eot is int t ? new[] { t } : []];
            if (prompt.Length + answer.Length > maxLength)
                throw new InvalidDataException($"{where}: example has {prompt.Length + answer.Length} tokens, longer than {limitName} {maxLength}");
            examples.Add((prompt, answer));
        }
        if (examples.Count == 0) throw new InvalidDataException($"data file '{path}' has no examples");
        return examples;
    }

    /// <summary>Whether <paramref name="path"/> is a JSONL file whose first object is an SFT example
    /// (<c>"prompt"</c> or <c>"messages"</c>) rather than a <c>{"text"}</c> document.</summary>
    public static bool IsPairFile(string path)
    {
        if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || !File.Exists(path)) return false;
        foreach (var (e, _) in JsonLines.Objects(path))
            return e.TryGetProperty("prompt", out _) || e.TryGetProperty("messages", out _);
        return false;
    }

    /// <summary>Every text of the file a tokenizer has to know (the roles, "assistant" included, and the
    /// contents), for building a word-level vocabulary from pairs.</summary>
    /// <exception cref="InvalidDataException">As <see cref="Load"/>.</exception>
    public static IEnumerable<string> Texts(string path)
    {
        yield return ChatTemplate.AssistantRole;
        foreach (var (history, response, _) in Conversations(path))
        {
            foreach (ChatMessage m in history) { yield return m.Role; yield return m.Content; }
            yield return response;
        }
    }

    /// <summary>The one walk over the file: each line's history (all but the last message) and response.</summary>
    private static IEnumerable<(List<ChatMessage> History, string Response, string Where)> Conversations(string path)
    {
        foreach (var (e, where) in JsonLines.Objects(path))
        {
            List<ChatMessage> history;
            string response;
            if (e.TryGetProperty("messages", out JsonElement msgs) && msgs.ValueKind == JsonValueKind.Array)
            {
                history = msgs.EnumerateArray().Select(m => new ChatMessage(JsonLines.RequiredString(m, "role", where), JsonLines.RequiredString(m, "content", where))).ToList();
                if (history.Count < 2 || history[^1].Role != "assistant")
                    throw new InvalidDataException($"{where}: \"messages\" must end with an assistant message after at least one other");
                response = history[^1].Content;
                history.RemoveAt(history.Count - 1);
            }
            else
            {
                history = [new ChatMessage("user", JsonLines.RequiredString(e, "prompt", where))];
                response = JsonLines.RequiredString(e, "response", where);
            }
            yield return (history, response, where);
        }
    }
}
