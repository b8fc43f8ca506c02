using System.Globalization;

namespace Dllm.Text.Jinja;

/// <summary>
/// Recursive-descent parser from <see cref="JinjaLexer"/> tokens to a <see cref="Node"/> list, following the
/// grammar and operator precedence of jinja2/parser.py: conditional &lt; or &lt; and &lt; not &lt; comparison
/// (incl. <c>in</c>, <c>not in</c>) &lt; <c>+ -</c> &lt; <c>~</c> &lt; <c>* / // %</c> &lt; <c>**</c> &lt; unary
/// &lt; filters and tests (<c>|f</c>, <c>is t</c>) &lt; postfix (<c>.a</c>, <c>[i]</c>, <c>[a:b]</c>, calls).
/// </summary>
/// <remarks>Statements: if/elif/else, for (with <c>else</c>, loop filter, tuple targets), set (name, tuple,
/// <c>ns.attr</c>, block form), macro, break, continue, raw (in the lexer) and <c>generation</c> (Hugging
/// Face's assistant-mask marker, rendered as its body). include/extends/import/call/filter blocks are
/// reported as not supported.</remarks>
internal sealed partial class JinjaParser
{
    private static readonly HashSet<string> CompareOps = ["==", "!=", "<", "<=", ">", ">="];
    private readonly List<JinjaToken> _t;
    private int _i;

    private JinjaParser(List<JinjaToken> tokens) => _t = tokens;

    /// <summary>Parses a whole template.</summary>
    /// <exception cref="JinjaError">A syntax error, with its line.</exception>
    public static List<Node> Parse(string source)
    {
        var p = new JinjaParser(JinjaLexer.Tokenize(source));
        List<Node> body = p.ParseBody([]);
        if (p.Cur.Kind != TokenKind.Eof) throw p.Error($"unexpected {p.Cur}");
        return body;
    }

    private JinjaToken Cur => _t[_i];
    private JinjaToken Peek(int k = 1) => _t[Math.Min(_i + k, _t.Count - 1)];
    private JinjaToken Next() => _t[_i++];
    private JinjaError Error(string message) => new(Cur.Line, message);

    private JinjaToken Expect(TokenKind kind, string? value = null)
    {
        if (Cur.Kind != kind || (value is not null && Cur.Value != value))
            throw Error($"expected {(value is null ? kind.ToString() : "'" + value + "'")} but found {Cur}");
        return Next();
    }

    private bool Accept(TokenKind kind, string value)
    {
        if (!Cur.Is(kind, value)) return false;
        _i++;
        return true;
    }

    // Parses nodes until a block tag whose keyword is in `ends` (left unconsumed, positioned at its keyword).
    private List<Node> ParseBody(HashSet<string> ends)
    {
        var nodes = new List<Node>();
        while (true)
        {
            JinjaToken tok = Cur;
            switch (tok.Kind)
            {
                case TokenKind.Eof:
                    if (ends.Count > 0) throw Error($"unexpected end of template; expected {{% {string.Join(" or ", ends)} %}}");
                    return nodes;
                case TokenKind.Text:
                    nodes.Add(new TextNode(tok.Line, tok.Value));
                    _i++;
                    break;
                case TokenKind.VarBegin:
                    _i++;
                    nodes.Add(new OutputNode(tok.Line, ParseExpression()));
                    Expect(TokenKind.VarEnd);
                    break;
                case TokenKind.BlockBegin:
                    JinjaToken keyword = Peek();
                    if (keyword.Kind == TokenKind.Name && ends.Contains(keyword.Value))
                    {
                        _i++;
                        return nodes;
                    }
                    _i++;
                    Node? stmt = ParseStatement();
                    if (stmt is not null) nodes.Add(stmt);
                    break;
                default:
                    throw Error($"unexpected {tok}");
            }
        }
    }

    private void EndTag() => Expect(TokenKind.BlockEnd);

    private Node? ParseStatement()
    {
        JinjaToken kw = Expect(TokenKind.Name);
        switch (kw.Value)
        {
            case "if": return ParseIf(kw.Line);
            case "for": return ParseFor(kw.Line);
            case "set": return ParseSet(kw.Line);
            case "macro": return ParseMacro(kw.Line);
            case "break": EndTag(); return new BreakNode(kw.Line);
            case "continue": EndTag(); return new ContinueNode(kw.Line);
            case "generation":
                EndTag();
                List<Node> body = ParseBody(["endgeneration"]);
                Next(); EndTag();
                return new IfNode(kw.Line, [(new LiteralExpr(kw.Line, true), body)], null);
            case "include": case "extends": case "import": case "from": case "block": case "call": case "filter": case "with":
                throw new JinjaError(kw.Line, $"{{% {kw.Value} %}} is not supported in chat templates by this renderer");
            default:
                throw new JinjaError(kw.Line, $"unknown statement '{kw.Value}'");
        }
    }

    private IfNode ParseIf(int line)
    {
        var branches = new List<(Expr, List<Node>)>();
        List<Node>? elseBody = null;
        Expr test = ParseExpression();
        while (true)
        {
            EndTag();
            List<Node> body = ParseBody(["elif", "else", "endif"]);
            branches.Add((test, body));
            string kw = Next().Value;
            if (kw == "elif") { test = ParseExpression(); continue; }
            if (kw == "else")
            {
                EndTag();
                elseBody = ParseBody(["endif"]);
                Next();
            }
            EndTag();
            return new IfNode(line, branches, elseBody);
        }
    }

    private ForNode ParseFor(int line)
    {
        var targets = new List<string> { Expect(TokenKind.Name).Value };
        while (Accept(TokenKind.Operator, ",")) targets.Add(Expect(TokenKind.Name).Value);
        Expect(TokenKind.Name, "in");
        Expr iterable = ParseCondition(allowIf: false);
        Expr? filter = Accept(TokenKind.Name, "if") ? ParseExpression() : null;
        if (Cur.IsName("recursive")) throw Error("recursive for loops are not supported");
        EndTag();
        List<Node> body = ParseBody(["else", "endfor"]);
        List<Node>? elseBody = null;
        if (Next().Value == "else")
        {
            EndTag();
            elseBody = ParseBody(["endfor"]);
            Next();
        }
        EndTag();
        return new ForNode(line, targets, iterable, filter, body, elseBody);
    }

    private Node ParseSet(int line)
    {
        JinjaToken name = Expect(TokenKind.Name);
        Expr target = new NameExpr(name.Line, name.Value);
        if (Accept(TokenKind.Operator, "."))
            target = new AttrExpr(name.Line, target, Expect(TokenKind.Name).Value);
        else if (Cur.IsOp(","))
        {
            var names = new List<Expr> { target };
            while (Accept(TokenKind.Operator, ",")) names.Add(new NameExpr(Cur.Line, Expect(TokenKind.Name).Value));
            target = new TupleExpr(name.Line, names);
        }
        if (Cur.Kind == TokenKind.BlockEnd && target is NameExpr n)
        {
            EndTag();
            List<Node> body = ParseBody(["endset"]);
            Next(); EndTag();
            return new SetBlockNode(line, n.Name, body);
        }
        Expect(TokenKind.Operator, "=");
        Expr value = ParseTupleOrExpression();
        EndTag();
        return new SetNode(line, target, value);
    }

    private MacroNode ParseMacro(int line)
    {
        string name = Expect(TokenKind.Name).Value;
        Expect(TokenKind.Operator, "(");
        var ps = new List<(string, Expr?)>();
        while (!Cur.IsOp(")"))
        {
            if (ps.Count > 0) Expect(TokenKind.Operator, ",");
            if (Cur.IsOp(")")) break;
            string p = Expect(TokenKind.Name).Value;
            ps.Add((p, Accept(TokenKind.Operator, "=") ? ParseExpression() : null));
        }
        Next();
        EndTag();
        List<Node> body = ParseBody(["endmacro"]);
        Next(); EndTag();
        return new MacroNode(line, name, ps, body);
    }
}
