// TEMPORARY: replaced by the text branch at merge time.
namespace Dllm.Text;
public interface ITokenizer { int VocabSize {get;} IReadOnlyList<int> Encode(string text); string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false); int? BosId {get;} int EosId {get;} int MaskId {get;} int? TokenToId(string token); string? IdToToken(int id); }
public sealed record ChatMessage(string Role, string Content);
public static class ChatTemplate { public static List<int> Apply(ITokenizer tok, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true) => throw new NotImplementedException(); }
public static class TokenizerLoader { public static ITokenizer Load(string dir) => throw new NotImplementedException(); }
public static class GeneratedText { public static IReadOnlyList<int> TrimAtEos(IReadOnlyList<int> ids, int eosId, int? eotId) => throw new NotImplementedException(); }
