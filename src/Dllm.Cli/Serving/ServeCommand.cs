using System.CommandLine;
using Dllm.Chat;
using Dllm.Model;
using Dllm.Sampling;
using Dllm.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dllm.Cli.Serving;

/// <summary><c>dllm serve</c>: the OpenAI-compatible server and web page over one model.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var urls = new Option<string>("--urls") { Description = "Where to listen, ';'-separated (loopback by default)", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a place in the batch; more get 429 queue_full", DefaultValueFactory = _ => 16 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Largest answer canvas a request may ask for (max_tokens / gen_length)", DefaultValueFactory = _ => 1024 };
        var maxSteps = new Option<int>("--max-steps") { Description = "Largest steps a request may ask for", DefaultValueFactory = _ => 4096 };
        var maxMessages = new Option<int>("--max-messages") { Description = "Most messages in one chat request", DefaultValueFactory = _ => 256 };
        var maxBody = new Option<long>("--max-body") { Description = "Largest request body in bytes", DefaultValueFactory = _ => 1L << 20 };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log every request" };
        var cors = new Option<string[]>("--cors-origin") { Description = "Allow this browser origin to call the API (repeatable; default: none)", AllowMultipleArgumentsPerToken = true };
        var apiKey = new Option<string?>("--api-key") { Description = "Require \"Authorization: Bearer KEY\" on /v1 requests (default: none; the server listens on loopback)" };
        var batchRows = new Option<int>("--batch-rows") { Description = "Requests that share each forward pass (step-level batching; 1 = one at a time)", DefaultValueFactory = _ => 8 };
        var batchTokens = new Option<int>("--batch-tokens") { Description = "Most padded tokens (rows x longest canvas) in a shared forward pass", DefaultValueFactory = _ => 16384 };
        var threads = ThreadsOption.Create();
        var knobOptions = new KnobOptions(exclude: "max_tokens");

        var cmd = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models) with a web page at / that shows the denoising live. Decoding flags set the defaults of every request.")
        {
            model, urls, queue, batchRows, batchTokens, maxTokens, maxSteps, maxMessages, maxBody, apiKey, cors, threads, verbose,
        };
        foreach (Option o in knobOptions.All) cmd.Options.Add(o);
        cmd.SetAction(r => CliRunner.Run(() =>
        {
            ThreadsOption.Apply(r.GetValue(threads));
            string listen = r.GetValue(urls)!;
            foreach (string u in listen.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                if (!Uri.TryCreate(u, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
                    throw new ArgumentException($"--urls: '{u}' is not an http(s) URL like http://127.0.0.1:8080");
            string dir = ModelOption.ResolveDiffusion(r.GetValue(model));
            DecodingKnobs defaults = knobOptions.Read(r, ModelOption.RecommendedKnobs(dir));
            // Bad flags fail now, before the model loads, not on the first request (the EOS id only
            // matters to early_stop, which needs one; the real id is used per request).
            defaults.Build(eosId: 0);
            var settings = new ServerSettings
            {
                ModelId = Path.GetFileName(dir.TrimEnd(Path.DirectorySeparatorChar)),
                QueueCapacity = r.GetValue(queue), MaxTokens = r.GetValue(maxTokens), MaxSteps = r.GetValue(maxSteps),
                MaxMessages = r.GetValue(maxMessages), MaxBodyBytes = r.GetValue(maxBody), Defaults = defaults,
                ApiKey = r.GetValue(apiKey), CorsOrigins = r.GetValue(cors) ?? [],
            };
            settings.Validate();
            var batching = new BatchLimits { MaxRows = r.GetValue(batchRows), MaxTokens = r.GetValue(batchTokens) };
            if (batching.MaxRows < 1) throw new ArgumentException($"--batch-rows must be ≥ 1, got {batching.MaxRows}");
            if (batching.MaxTokens < 1) throw new ArgumentException($"--batch-tokens must be ≥ 1, got {batching.MaxTokens}");

            using Transformer lm = Transformer.Load(dir);
            ITokenizer tokenizer = TokenizerLoader.Load(dir);
            var engine = new CompletionEngine(lm, tokenizer, lm.Config.MaskTokenId, lm.Config.EosTokenId, batching);
            WebApplication app = DllmServer.Build(engine, settings, listen, r.GetValue(verbose) ? LogLevel.Information : LogLevel.Warning);
            app.StartAsync().GetAwaiter().GetResult();
            Console.Error.WriteLine($"dllm serve: model '{settings.ModelId}' ({lm.Config.NLayers} layers, context {lm.MaxSequenceLength}) at {string.Join(", ", DllmServer.Addresses(app))}; OpenAI base URL {DllmServer.Addresses(app)[0]}/v1; web page at /; Ctrl+C to stop");
            app.WaitForShutdownAsync().GetAwaiter().GetResult();
            return 0;
        }));
        return cmd;
    }
}
