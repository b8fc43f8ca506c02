using Dllm.Chat;
using Dllm.Cli.Serving;
using Dllm.Model;
using Dllm.Tests.Chat;
using Dllm.Text;
using Microsoft.AspNetCore.Builder;

namespace Dllm.Tests.Serving;

/// <summary>
/// The real <c>dllm serve</c> app (<see cref="DllmServer"/>) started in the test process on 127.0.0.1 with
/// a free port, over a given engine. Disposing stops it.
/// </summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackServer(WebApplication app, CompletionEngine engine, string baseUrl)
        => (_app, Engine, BaseUrl) = (app, engine, baseUrl);

    public CompletionEngine Engine { get; }
    /// <summary>e.g. http://127.0.0.1:41234 (no trailing slash).</summary>
    public string BaseUrl { get; }
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

    public static async Task<LoopbackServer> StartAsync(CompletionEngine engine, ServerSettings? settings = null)
    {
        settings ??= new ServerSettings { ModelId = "tiny" };
        WebApplication app = DllmServer.Build(engine, settings, "http://127.0.0.1:0");
        await app.StartAsync();
        return new LoopbackServer(app, engine, DllmServer.Addresses(app)[0].TrimEnd('/'));
    }

    /// <summary>A server over the scripted byte-level model that answers <paramref name="answer"/> to "Hi"
    /// (see <see cref="ScriptedAnswers"/>), each forward first running <paramref name="onForward"/>.</summary>
    public static Task<LoopbackServer> ScriptedAsync(string answer, Action? onForward = null, ServerSettings? settings = null, Dllm.Sampling.BatchLimits? batching = null)
    {
        var tok = new ByteTokenizer();
        int promptLength = ChatTemplate.Apply(tok, [new ChatMessage("user", "Hi")]).Count;
        IDenoisingModel model = ScriptedAnswers.Model(answer, () => promptLength, maxLength: 512);
        if (onForward is not null) model = new HookedModel(model, onForward);
        return StartAsync(new CompletionEngine(model, tok, ByteTokenizer.Mask, ByteTokenizer.Eos, batching), settings);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
