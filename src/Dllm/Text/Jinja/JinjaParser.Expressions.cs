using System.Globalization;

namespace Dllm.Text.Jinja;

// Expressions: precedence climbing as in jinja2/parser.py (see JinjaParser.cs for the order).
internal sealed partial class JinjaParser
{
    // "a, b" as a tuple (the right side of set); a single expression otherwise.
    private Expr ParseTupleOrExpression()
    {
        int line = Cur.Line;
        Expr first = ParseExpression();
        if (!Cur.IsOp(",")) return first;
        var items = new List<Expr> { first };
        while (Accept(TokenKind.Operator, ",") && Cur.Kind != TokenKind.BlockEnd) items.Add(ParseExpression());
        return new TupleExpr(line, items);
    }

    public Expr ParseExpression() => ParseCondition(allowIf: true);

    private Expr ParseCondition(bool allowIf)
    {
        Expr e = ParseOr();
        while (allowIf && Cur.IsName("if"))
        {
            int line = Next().Line;
            Expr test = ParseOr();
            Expr? otherwise = Accept(TokenKind.Name, "else") ? ParseCondition(allowIf: true) : null;
            e = new CondExpr(line, test, e, otherwise);
        }
        return e;
    }

    private Expr ParseOr()
    {
        Expr e = ParseAnd();
        while (Cur.IsName("or")) { int l = Next().Line; e = new BinaryExpr(l, "or", e, ParseAnd()); }
        return e;
    }

    private Expr ParseAnd()
    {
        Expr e = ParseNot();
        while (Cur.IsName("and")) { int l = Next().Line; e = new BinaryExpr(l, "and", e, ParseNot()); }
        return e;
    }

    private Expr ParseNot()
    {
        if (Cur.IsName("not")) { int l = Next().Line; return new UnaryExpr(l, "not", ParseNot()); }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        int line = Cur.Line;
        Expr first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Cur.Kind == TokenKind.Operator && CompareOps.Contains(Cur.Value)) rest.Add((Next().Value, ParseMath1()));
            else if (Cur.IsName("in")) { Next(); rest.Add(("in", ParseMath1())); }
            else if (Cur.IsName("not") && Peek().IsName("in")) { Next(); Next(); rest.Add(("not in", ParseMath1())); }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(line, first, rest);
    }

    private Expr ParseMath1()
    {
        Expr e = ParseConcat();
        while (Cur.IsOp("+") || Cur.IsOp("-")) { JinjaToken op = Next(); e = new BinaryExpr(op.Line, op.Value, e, ParseConcat()); }
        return e;
    }

    private Expr ParseConcat()
    {
        Expr e = ParseMath2();
        while (Cur.IsOp("~")) { int l = Next().Line; e = new BinaryExpr(l, "~", e, ParseMath2()); }
        return e;
    }

    private Expr ParseMath2()
    {
        Expr e = ParsePow();
        while (Cur.IsOp("*") || Cur.IsOp("/") || Cur.IsOp("//") || Cur.IsOp("%"))
        {
            JinjaToken op = Next();
            e = new BinaryExpr(op.Line, op.Value, e, ParsePow());
        }
        return e;
    }

    private Expr ParsePow()
    {
        Expr e = ParseUnary(withFilter: true);
        while (Cur.IsOp("**")) { int l = Next().Line; e = new BinaryExpr(l, "**", e, ParseUnary(withFilter: true)); }
        return e;
    }

    private Expr ParseUnary(bool withFilter)
    {
        Expr e;
        if (Cur.IsOp("-") || Cur.IsOp("+"))
        {
            JinjaToken op = Next();
            e = new UnaryExpr(op.Line, op.Value, ParseUnary(withFilter: false));
        }
        else e = ParsePostfix(ParsePrimary());
        return withFilter ? ParseFilterAndTest(e) : e;
    }

    private Expr ParsePrimary()
    {
        JinjaToken tok = Next();
        switch (tok.Kind)
        {
            case TokenKind.Name:
                return tok.Value switch
                {
                    "true" or "True" => new LiteralExpr(tok.Line, true),
                    "false" or "False" => new LiteralExpr(tok.Line, false),
                    "none" or "None" => new LiteralExpr(tok.Line, null),
                    _ => new NameExpr(tok.Line, tok.Value),
                };
            case TokenKind.String:
                string s = tok.Value;
                while (Cur.Kind == TokenKind.String) s += Next().Value; // adjacent literals concatenate
                return new LiteralExpr(tok.Line, s);
            case TokenKind.Integer:
                return new LiteralExpr(tok.Line, long.Parse(tok.Value, CultureInfo.InvariantCulture));
            case TokenKind.Float:
                return new LiteralExpr(tok.Line, double.Parse(tok.Value, CultureInfo.InvariantCulture));
            case TokenKind.Operator when tok.Value == "(":
                if (Accept(TokenKind.Operator, ")")) return new TupleExpr(tok.Line, []);
                Expr inner = ParseExpression();
                if (!Cur.IsOp(",")) { Expect(TokenKind.Operator, ")"); return inner; }
                var items = new List<Expr> { inner };
                while (Accept(TokenKind.Operator, ",") && !Cur.IsOp(")")) items.Add(ParseExpression());
                Expect(TokenKind.Operator, ")");
                return new TupleExpr(tok.Line, items);
            case TokenKind.Operator when tok.Value == "[":
                var list = new List<Expr>();
                while (!Cur.IsOp("]"))
                {
                    if (list.Count > 0) Expect(TokenKind.Operator, ",");
                    if (Cur.IsOp("]")) break;
                    list.Add(ParseExpression());
                }
                Next();
                return new ListExpr(tok.Line, list);
            case TokenKind.Operator when tok.Value == "{":
                var pairs = new List<(Expr, Expr)>();
                while (!Cur.IsOp("}"))
                {
                    if (pairs.Count > 0) Expect(TokenKind.Operator, ",");
                    if (Cur.IsOp("}")) break;
                    Expr key = ParseExpression();
                    Expect(TokenKind.Operator, ":");
                    pairs.Add((key, ParseExpression()));
                }
                Next();
                return new DictExpr(tok.Line, pairs);
            default:
                _i--;
                throw Error($"unexpected {tok}");
        }
    }

    private Expr ParsePostfix(Expr e)
    {
        while (true)
        {
            if (Cur.IsOp("."))
            {
                int line = Next().Line;
                JinjaToken attr = Next();
                e = attr.Kind switch
                {
                    TokenKind.Name => new AttrExpr(line, e, attr.Value),
                    TokenKind.Integer => new ItemExpr(line, e, new LiteralExpr(line, long.Parse(attr.Value, CultureInfo.InvariantCulture))),
                    _ => throw new JinjaError(line, $"expected an attribute name after '.' but found {attr}"),
                };
            }
            else if (Cur.IsOp("[")) e = ParseSubscript(e);
            else if (Cur.IsOp("(")) e = ParseCall(e);
            else return e;
        }
    }

    private Expr ParseSubscript(Expr target)
    {
        int line = Next().Line;
        Expr? start = null, stop = null, step = null;
        bool slice = false;
        if (!Cur.IsOp(":")) start = ParseExpression();
        if (Accept(TokenKind.Operator, ":"))
        {
            slice = true;
            if (!Cur.IsOp("]") && !Cur.IsOp(":")) stop = ParseExpression();
            if (Accept(TokenKind.Operator, ":") && !Cur.IsOp("]")) step = ParseExpression();
        }
        Expect(TokenKind.Operator, "]");
        return slice ? new SliceExpr(line, target, start, stop, step) : new ItemExpr(line, target, start!);
    }

    private (List<Expr>, List<(string, Expr)>) ParseArgs()
    {
        Expect(TokenKind.Operator, "(");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!Cur.IsOp(")"))
        {
            if (args.Count + kwargs.Count > 0) Expect(TokenKind.Operator, ",");
            if (Cur.IsOp(")")) break;
            if (Cur.Kind == TokenKind.Name && Peek().IsOp("="))
            {
                string name = Next().Value;
                Next();
                kwargs.Add((name, ParseExpression()));
            }
            else if (kwargs.Count > 0) throw Error("positional argument after keyword argument");
            else args.Add(ParseExpression());
        }
        Next();
        return (args, kwargs);
    }

    private CallExpr ParseCall(Expr callee)
    {
        int line = Cur.Line;
        var (args, kwargs) = ParseArgs();
        return new CallExpr(line, callee, args, kwargs);
    }

    private Expr ParseFilterAndTest(Expr e)
    {
        while (true)
        {
            if (Cur.IsOp("|"))
            {
                int line = Next().Line;
                string name = ParseDottedName();
                var (args, kwargs) = Cur.IsOp("(") ? ParseArgs() : ([], []);
                e = new FilterExpr(line, e, name, args, kwargs);
            }
            else if (Cur.IsName("is"))
            {
                int line = Next().Line;
                bool negated = Accept(TokenKind.Name, "not");
                string name = ParseDottedName();
                var args = new List<Expr>();
                if (Cur.IsOp("(")) args = ParseArgs().Item1;
                else if (Cur.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                         || (Cur.Kind == TokenKind.Name && Cur.Value is not ("else" or "or" or "and" or "if" or "in" or "is" or "not"))
                         || Cur.IsOp("[") || Cur.IsOp("{"))
                    args.Add(ParsePostfix(ParsePrimary()));
                e = new TestExpr(line, e, name, args, negated);
            }
            else if (Cur.IsOp("(")) e = ParseCall(e);
            else return e;
        }
    }

    private string ParseDottedName()
    {
        string name = Expect(TokenKind.Name).Value;
        while (Cur.IsOp(".") && Peek().Kind == TokenKind.Name) { Next(); name += "." + Next().Value; }
        return name;
    }
}
