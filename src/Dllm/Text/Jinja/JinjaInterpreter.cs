using System.Text;

namespace Dllm.Text.Jinja;

/// <summary>
/// Renders a parsed template: statements write to a <see cref="StringBuilder"/>, expressions evaluate with
/// Python semantics (<see cref="Py"/>), filters/tests/methods come from <see cref="JinjaFilters"/>,
/// <see cref="JinjaTests"/> and <see cref="JinjaMethods"/>.
/// </summary>
/// <remarks>Scoping follows Jinja2: each for-loop iteration and each macro call gets its own scope, so a
/// <c>{% set %}</c> inside a loop is gone after it (templates carry state out of loops with
/// <c>namespace()</c>); <c>if</c> blocks share the enclosing scope. Errors carry the line of the innermost
/// node that failed.</remarks>
internal sealed class JinjaInterpreter
{
    private enum Flow { Normal, Break, Continue }

    private List<Dictionary<string, object?>> _scopes;
    private int _loopDepth;

    /// <param name="variables">The template's variables (already Jinja values), on top of the globals.</param>
    /// <param name="time">Clock for <c>strftime_now</c>.</param>
    public JinjaInterpreter(IReadOnlyDictionary<string, object?> variables, TimeProvider time)
    {
        var root = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in JinjaGlobals.Create(time)) root[k] = v;
        foreach (var (k, v) in variables) root[k] = v;
        _scopes = [root];
    }

    public string Render(List<Node> nodes)
    {
        var sb = new StringBuilder();
        Exec(nodes, sb);
        return sb.ToString();
    }

    private Flow Exec(List<Node> nodes, StringBuilder sb)
    {
        foreach (Node n in nodes)
        {
            Flow f = Exec(n, sb);
            if (f != Flow.Normal) return f;
        }
        return Flow.Normal;
    }

    private Flow Exec(Node node, StringBuilder sb)
    {
        try
        {
            switch (node)
            {
                case TextNode t: sb.Append(t.Text); return Flow.Normal;
                case OutputNode o: sb.Append(Py.Str(Eval(o.Value))); return Flow.Normal;
                case IfNode i:
                    foreach (var (test, body) in i.Branches)
                        if (Py.Truthy(Eval(test))) return Exec(body, sb);
                    return i.Else is null ? Flow.Normal : Exec(i.Else, sb);
                case ForNode f: ExecFor(f, sb); return Flow.Normal;
                case SetNode s: Assign(s.Target, Eval(s.Value)); return Flow.Normal;
                case SetBlockNode sb2:
                    var inner = new StringBuilder();
                    Exec(sb2.Body, inner);
                    _scopes[^1][sb2.Name] = inner.ToString();
                    return Flow.Normal;
                case MacroNode m: _scopes[^1][m.Name] = MakeMacro(m); return Flow.Normal;
                case BreakNode or ContinueNode:
                    if (_loopDepth == 0) throw new JinjaError(node.Line, $"{{% {(node is BreakNode ? "break" : "continue")} %}} outside a for loop");
                    return node is BreakNode ? Flow.Break : Flow.Continue;
                default: throw new JinjaError(node.Line, $"cannot execute {node.GetType().Name}");
            }
        }
        catch (Exception e) when (e is not JinjaError)
        {
            throw new JinjaError(node.Line, e.Message);
        }
    }

    private void ExecFor(ForNode f, StringBuilder sb)
    {
        IReadOnlyList<object?> items = Py.Iterate(Eval(f.Iterable));
        if (f.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (object? item in items)
            {
                _scopes.Add(Bind(f, item, null));
                try { if (Py.Truthy(Eval(f.Filter))) kept.Add(item); }
                finally { _scopes.RemoveAt(_scopes.Count - 1); }
            }
            items = kept;
        }
        if (items.Count == 0)
        {
            if (f.Else is not null) Exec(f.Else, sb);
            return;
        }
        var loop = new LoopInfo(items);
        _loopDepth++;
        try
        {
            for (int i = 0; i < items.Count; i++)
            {
                loop.Index0 = i;
                _scopes.Add(Bind(f, items[i], loop));
                try
                {
                    if (Exec(f.Body, sb) == Flow.Break) break;
                }
                finally { _scopes.RemoveAt(_scopes.Count - 1); }
            }
        }
        finally { _loopDepth--; }
    }

    private static Dictionary<string, object?> Bind(ForNode f, object? item, LoopInfo? loop)
    {
        var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (loop is not null) scope["loop"] = loop;
        if (f.Targets.Count == 1) scope[f.Targets[0]] = item;
        else
        {
            IReadOnlyList<object?> parts = item is string or List<object?> or object?[] ? Py.Iterate(item)
                : throw new JinjaError(f.Line, $"cannot unpack {Py.TypeName(item)} into {f.Targets.Count} names");
            if (parts.Count != f.Targets.Count)
                throw new JinjaError(f.Line, $"cannot unpack {parts.Count} values into {f.Targets.Count} names");
            for (int i = 0; i < parts.Count; i++) scope[f.Targets[i]] = parts[i];
        }
        return scope;
    }

    private void Assign(Expr target, object? value)
    {
        switch (target)
        {
            case NameExpr n: _scopes[^1][n.Name] = value; break;
            case AttrExpr { Target: NameExpr ns } a:
                if (Lookup(ns.Name) is not JinjaNamespace space)
                    throw new JinjaError(a.Line, $"cannot assign attribute on non-namespace object '{ns.Name}'");
                space.Values[a.Name] = value;
                break;
            case TupleExpr t:
                IReadOnlyList<object?> parts = Py.Iterate(value);
                if (parts.Count != t.Items.Count) throw new JinjaError(t.Line, $"cannot unpack {parts.Count} values into {t.Items.Count} names");
                for (int i = 0; i < parts.Count; i++) Assign(t.Items[i], parts[i]);
                break;
            default: throw new JinjaError(target.Line, "can only assign to a name, a tuple of names or namespace.attribute");
        }
    }

    private object? Lookup(string name)
    {
        for (int i = _scopes.Count - 1; i >= 0; i--)
            if (_scopes[i].TryGetValue(name, out object? v)) return v;
        return new Undefined(name);
    }

    private JinjaCallable MakeMacro(MacroNode m) => new(m.Name, (args, kwargs) =>
    {
        if (args.Count > m.Params.Count) throw new InvalidOperationException($"macro '{m.Name}' takes {m.Params.Count} arguments ({args.Count} given)");
        var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
        List<Dictionary<string, object?>> saved = _scopes;
        _scopes = [saved[0], scope];
        int savedDepth = _loopDepth;
        _loopDepth = 0;
        try
        {
            for (int i = 0; i < m.Params.Count; i++)
            {
                var (name, dflt) = m.Params[i];
                scope[name] = i < args.Count ? args[i]
                    : kwargs.TryGetValue(name, out object? kv) ? kv
                    : dflt is null ? new Undefined(name) : Eval(dflt);
            }
            foreach (string k in kwargs.Keys)
                if (!m.Params.Any(p => p.Name == k)) throw new InvalidOperationException($"macro '{m.Name}' has no argument '{k}'");
            var sb = new StringBuilder();
            Exec(m.Body, sb);
            return sb.ToString();
        }
        finally
        {
            _scopes = saved;
            _loopDepth = savedDepth;
        }
    });

    private object? Eval(Expr e)
    {
        try
        {
            return EvalCore(e);
        }
        catch (JinjaError je) when (je.Line == 0) // raised by a global function: give it the call's line
        {
            throw new JinjaError(e.Line, je.Message) { RaisedByTemplate = je.RaisedByTemplate };
        }
        catch (Exception ex) when (ex is not JinjaError)
        {
            throw new JinjaError(e.Line, ex.Message);
        }
    }

    private object? EvalCore(Expr e)
    {
        switch (e)
        {
            case LiteralExpr l: return l.Value;
            case NameExpr n: return Lookup(n.Name);
            case ListExpr l: return l.Items.Select(Eval).ToList();
            case TupleExpr t: return t.Items.Select(Eval).ToArray();
            case DictExpr d:
                var dict = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, v) in d.Items)
                    dict[Eval(k) as string ?? throw new JinjaError(k.Line, "dict keys must be strings")] = Eval(v);
                return dict;
            case AttrExpr a: return JinjaMethods.GetAttr(Eval(a.Target), a.Name);
            case ItemExpr i: return JinjaMethods.GetItem(Eval(i.Target), Eval(i.Index));
            case SliceExpr s: return JinjaMethods.Slice(Eval(s.Target), Index(s.Start), Index(s.Stop), Index(s.Step));
            case CallExpr c:
                object? callee = Eval(c.Callee);
                if (callee is Undefined u) throw new JinjaError(c.Line, $"'{u.Name}' is undefined");
                if (callee is not JinjaCallable fn) throw new JinjaError(c.Line, $"'{Py.TypeName(callee)}' object is not callable");
                return fn.Invoke(c.Args.Select(Eval).ToList(), Kwargs(c.Kwargs));
            case FilterExpr f: return JinjaFilters.Apply(f.Name, Eval(f.Value), f.Args.Select(Eval).ToList(), Kwargs(f.Kwargs));
            case TestExpr t:
                bool passed = JinjaTests.Apply(t.Name, Eval(t.Value), t.Args.Select(Eval).ToList());
                return passed != t.Negated;
            case UnaryExpr u2:
                object? operand = Eval(u2.Operand);
                return u2.Op switch
                {
                    "not" => !Py.Truthy(operand),
                    "-" => operand switch
                    {
                        long x => (object)(-x),   // boxed per arm: a switch typed double would turn ints into floats
                        bool b => b ? -1L : 0L,
                        double d => -d,
                        _ => throw new JinjaError(u2.Line, $"bad operand type for unary -: '{Py.TypeName(operand)}'"),
                    },
                    _ => operand switch
                    {
                        bool b2 => (object)(b2 ? 1L : 0L),
                        long or double => operand,
                        _ => throw new JinjaError(u2.Line, $"bad operand type for unary +: '{Py.TypeName(operand)}'"),
                    },
                };
            case BinaryExpr b3:
                object? left = Eval(b3.Left);
                return b3.Op switch
                {
                    "and" => Py.Truthy(left) ? Eval(b3.Right) : left,
                    "or" => Py.Truthy(left) ? left : Eval(b3.Right),
                    "~" => Py.Str(left) + Py.Str(Eval(b3.Right)),
                    _ => Py.Arithmetic(b3.Op, left, Eval(b3.Right)),
                };
            case CompareExpr c2:
                object? current = Eval(c2.First);
                foreach (var (op, operandExpr) in c2.Rest)
                {
                    object? right = Eval(operandExpr);
                    bool ok = op switch
                    {
                        "==" => Py.Equals(current, right),
                        "!=" => !Py.Equals(current, right),
                        "<" => Py.Compare(current, right) < 0,
                        "<=" => Py.Compare(current, right) <= 0,
                        ">" => Py.Compare(current, right) > 0,
                        ">=" => Py.Compare(current, right) >= 0,
                        "in" => Py.Contains(right, current),
                        _ => !Py.Contains(right, current),
                    };
                    if (!ok) return false;
                    current = right;
                }
                return true;
            case CondExpr c3:
                return Py.Truthy(Eval(c3.Test)) ? Eval(c3.Then) : c3.Else is null ? new Undefined("else branch") : Eval(c3.Else);
            default:
                throw new JinjaError(e.Line, $"cannot evaluate {e.GetType().Name}");
        }
    }

    private long? Index(Expr? e) => e is null ? null : Eval(e) switch
    {
        null => null,
        long l => l,
        bool b => b ? 1 : 0,
        object o => throw new JinjaError(e.Line, $"slice indices must be integers or None, not {Py.TypeName(o)}"),
    };

    private Dictionary<string, object?> Kwargs(List<(string Name, Expr Value)> kwargs)
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in kwargs) d[name] = Eval(value);
        return d;
    }
}
