using Dllm.Chat;
using Dllm.Sampling;
using Spectre.Console;

namespace Dllm.Cli;

/// <summary>
/// The read-answer loop of <c>dllm chat</c>. Lines starting with '/' are commands (<c>/set</c>,
/// <c>/reset</c>, <c>/help</c>, <c>/exit</c>); anything else is a user message, answered through the
/// <see cref="ChatSession"/>.
/// </summary>
/// <remarks>
/// <para>Live mode (stdin and stdout are terminals): a Spectre live view redraws the answer canvas after
/// every denoising step (<see cref="ChatCanvasView"/>) and is replaced by the final answer. Ctrl+C while an
/// answer is denoised cancels it (the question is forgotten) and returns to the prompt; Ctrl+C at the
/// prompt asks for a second one, which quits, as do <c>/exit</c> and end of input.</para>
/// <para>Plain mode (piped input or output): answers go to stdout one after another, nothing else does;
/// notes and per-turn errors go to stderr. A bad line never ends the session.</para>
/// </remarks>
internal sealed class ChatRepl(ChatSession session, CompletionEngine engine, bool live, int stepDelayMs)
{
    private readonly IAnsiConsole _console = AnsiConsole.Console;
    private CancellationTokenSource? _answering;
    private bool _quitArmed;

    public int Run()
    {
        Console.CancelKeyPress += OnCancelKey;
        try
        {
            if (live) _console.MarkupLine("[grey]dllm chat — /help for commands, /set NAME VALUE to change decoding, Ctrl+C cancels an answer, /exit quits[/]");
            while (true)
            {
                if (live) _console.Markup("[bold blue]you ›[/] ");
                string? line = Console.ReadLine();
                if (line is null) return 0; // end of input
                _quitArmed = false;
                line = line.Trim();
                if (line.Length == 0) continue;
                if (line.StartsWith('/'))
                {
                    if (!Command(line)) return 0;
                }
                else Answer(line);
            }
        }
        finally { Console.CancelKeyPress -= OnCancelKey; }
    }

    private void OnCancelKey(object? sender, ConsoleCancelEventArgs e)
    {
        CancellationTokenSource? answering = _answering;
        if (answering is not null) { e.Cancel = true; answering.Cancel(); return; }
        if (_quitArmed) return; // second Ctrl+C at the prompt: let the runtime end the process
        e.Cancel = true;
        _quitArmed = true;
        if (live) _console.WriteLine();
        Note("(press Ctrl+C again, or type /exit, to quit)");
        if (live) _console.Markup("[bold blue]you ›[/] "); // ReadLine is still waiting: show its prompt again
    }

    /// <summary>Runs a slash command; false means quit.</summary>
    private bool Command(string line)
    {
        string[] parts = line.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        switch (parts[0].ToLowerInvariant())
        {
            case "/exit" or "/quit":
                return false;
            case "/reset":
                session.Reset();
                Note("(conversation cleared)");
                return true;
            case "/set" when parts.Length == 1:
                Note(session.Knobs.Describe().TrimEnd());
                return true;
            case "/set" when parts.Length == 3:
                try
                {
                    // Try on a copy first so a rejected value or combination leaves the settings as they were.
                    DecodingKnobs trial = session.Knobs.Clone();
                    trial.Set(parts[1], parts[2]);
                    trial.Build(engine.EosId);
                    session.Knobs.Set(parts[1], parts[2]);
                    Note($"{parts[1]} = {parts[2]}");
                }
                catch (DecodingOptionException e) { Error(e.Message); }
                return true;
            case "/set":
                Error("usage: /set NAME VALUE (or /set alone to list the settings)");
                return true;
            case "/help":
                Note("/set NAME VALUE   change a decoding setting, e.g. /set steps 64, /set temperature 0.7\n"
                    + "/set              list the settings\n/reset            forget the conversation\n/exit             quit (also Ctrl+C twice, or end of input)\n"
                    + "settings:\n  " + string.Join("\n  ", DecodingKnobs.Names.Select(DecodingKnobs.Help)));
                return true;
            default:
                Error($"unknown command '{parts[0]}' (try /help)");
                return true;
        }
    }

    private void Answer(string question)
    {
        using var cts = new CancellationTokenSource();
        _answering = cts;
        try
        {
            ChatTurn turn = live ? AnswerLive(question, cts.Token) : session.Ask(question, Delay(cts.Token), cts.Token);
            if (!live) Console.WriteLine(turn.Completion.Text);
            if (turn.DroppedMessages > 0) Note($"({turn.DroppedMessages} earliest messages dropped to fit the model's context)");
        }
        catch (OperationCanceledException) { Note("(cancelled)"); }
        catch (Exception e) when (e is InvalidRequestException or DecodingOptionException) { Error(e.Message); }
        finally { _answering = null; }
    }

    private ChatTurn AnswerLive(string question, CancellationToken ct)
    {
        int total = session.Knobs.Build(engine.EosId).Steps;
        _console.MarkupLine("[bold green]dllm ›[/]");
        ChatTurn? turn = null;
        _console.Live(new Markup("[grey]…[/]")).AutoClear(false).Start(ctx =>
        {
            Action<DenoisingStep> delay = Delay(ct);
            turn = session.Ask(question, step =>
            {
                ctx.UpdateTarget(new Markup(ChatCanvasView.Render(step, engine.Tokenizer, engine.EosId, engine.EndOfTurnId, total)));
                ctx.Refresh();
                delay(step);
            }, ct);
            Completion c = turn.Completion;
            ctx.UpdateTarget(new Markup($"{Markup.Escape(c.Text)}\n[grey]({c.CompletionTokens} tokens, {c.Steps} steps, {c.Elapsed.TotalSeconds:F2} s)[/]"));
            ctx.Refresh();
        });
        return turn!;
    }

    /// <summary>The per-step pause of --step-delay (returns at once when cancelled).</summary>
    private Action<DenoisingStep> Delay(CancellationToken ct)
        => stepDelayMs <= 0 ? _ => { } : _ => ct.WaitHandle.WaitOne(stepDelayMs);

    private void Note(string text)
    {
        if (live) _console.MarkupLine($"[grey]{Markup.Escape(text)}[/]");
        else Console.Error.WriteLine(text);
    }

    private void Error(string text)
    {
        if (live) _console.MarkupLine($"[red]error:[/] {Markup.Escape(text)}");
        else Console.Error.WriteLine($"error: {text}");
    }
}
