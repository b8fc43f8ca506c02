using System.Text;
using Dllm.Tests.IO;
using Dllm.Text;
using LLama.Native;

namespace Dllm.Tests.Reference;

/// <summary>
/// libllama (LLamaSharp 0.30.0) tokenizes text with the tokenizer <see cref="Dllm.IO.GgufExport"/> wrote into a GGUF
/// (the real Llama-3 and Qwen3 tokenizers, and the byte tokenizer of models/chat-1m) to the same ids as Dllm does
/// from the same file and from the tokenizer.json it came from.
/// </summary>
/// <remarks>
/// llama.cpp is asked to parse special tokens (as Hugging Face and Dllm always do) and to add none. Text that is not in
/// NFC is left out for the Qwen3 file: Hugging Face's Qwen2 tokenizer normalizes to NFC (Dllm does too, from the
/// tokenizer.json and from the GGUF), llama.cpp's <c>qwen2</c> pre-tokenizer does not.
/// </remarks>
public sealed class LlamaCppTokenizerTests(ITestOutputHelper output)
{
    public static TheoryData<string> Names => [.. ExportedTokenizers.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public void Llama_cpp_tokenizes_the_exported_gguf_as_dllm(string name)
    {
        string path = ExportedTokenizers.Gguf(name);
        ITokenizer dllm = TokenizerLoader.Load(path);
        using SafeLlamaModelHandle model = LoadVocabulary(path);
        Assert.True(model.Vocab.Count >= dllm.VocabSize, $"libllama has {model.Vocab.Count} tokens, Dllm {dllm.VocabSize}"); // libllama also counts the [PADn] rows
        int compared = 0, skipped = 0;
        foreach (string text in ExportedTokenizers.Texts(name))
        {
            // Dllm's own NFC: string.IsNormalized does nothing under InvariantGlobalization.
            if (name == "qwen3" && Nfc.Normalize(text) != text) { skipped++; continue; }
            int[] theirs = [.. model.Tokenize(text, false, true, Encoding.UTF8).Select(t => (int)t)];
            IReadOnlyList<int> ours = dllm.Encode(text);
            Assert.True(ours.SequenceEqual(theirs), $"{name}: \"{text}\"\n Dllm      [{string.Join(' ', ours)}]\n llama.cpp [{string.Join(' ', theirs)}]");
            compared++;
        }
        output.WriteLine($"{name}: {compared} texts tokenized identically by libllama and Dllm ({skipped} non-NFC texts skipped)");
    }


    /// <summary>Every pre-tokenizer name Dllm implements splits text as llama.cpp's does: the Llama-3 vocabulary and merges
    /// re-labelled with each name (a vocabulary-only file: the metadata without tensors).</summary>
    [Theory]
    [InlineData("llama-bpe")]
    [InlineData("qwen2")]
    [InlineData("gpt-2")]
    [InlineData("default")]
    public void Llama_cpp_splits_as_dllm_under_each_pre_name(string pre)
    {
        string path = Path.Combine(TestPaths.TempDir(), pre + ".gguf");
        using (var source = Dllm.IO.GgufFile.Open(ExportedTokenizers.Gguf("llama3")))
        {
            var g = new Dllm.IO.GgufWriter();
            foreach (var (key, value) in source.Metadata)
            {
                object v = key == "tokenizer.ggml.pre" ? pre : value;
                switch (v)
                {
                    case string x: g.AddString(key, x); break;
                    case uint x: g.AddUInt32(key, x); break;
                    case int x: g.AddInt32(key, x); break;
                    case float x: g.AddFloat32(key, x); break;
                    case bool x: g.AddBool(key, x); break;
                    case object[] a when a.All(e => e is string): g.AddStringArray(key, [.. a.Cast<string>()]); break;
                    case object[] a: g.AddInt32Array(key, [.. a.Cast<int>()]); break;
                    default: throw new InvalidOperationException($"{key}: {v.GetType().Name}");
                }
            }
            g.Write(path);
        }
        ITokenizer dllm = TokenizerLoader.Load(path);
        using SafeLlamaModelHandle model = LoadVocabulary(path);
        int compared = 0;
        foreach (string text in ExportedTokenizers.Texts("llama3"))
        {
            if (pre == "qwen2" && Nfc.Normalize(text) != text) continue;
            int[] theirs = [.. model.Tokenize(text, false, true, Encoding.UTF8).Select(t => (int)t)];
            IReadOnlyList<int> ours = dllm.Encode(text);
            Assert.True(ours.SequenceEqual(theirs), $"{pre}: \"{text}\"\n Dllm      [{string.Join(' ', ours)}]\n llama.cpp [{string.Join(' ', theirs)}]");
            compared++;
        }
        output.WriteLine($"{pre}: {compared} texts tokenized identically");
    }

    /// <summary>libllama's view of a GGUF's vocabulary only (no tensors are read).</summary>
    private static SafeLlamaModelHandle LoadVocabulary(string path)
    {
        LlamaCppModel.Native.EnsureLoaded();
        LLamaModelParams mp = LLamaModelParams.Default();
        mp.n_gpu_layers = 0;
        mp.vocab_only = true;
        return SafeLlamaModelHandle.LoadFromFile(path, mp);
    }
}
