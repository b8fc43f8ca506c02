namespace Dllm.Text.Jinja;

// The syntax tree of a template. Every node knows its 1-based source line for error messages.

/// <summary>A statement or text run.</summary>
internal abstract record Node(int Line);

/// <summary>Literal text between tags.</summary>
internal sealed record TextNode(int Line, string Text) : Node(Line);

/// <summary><c>{{ expr }}</c>.</summary>
internal sealed record OutputNode(int Line, Expr Value) : Node(Line);

/// <summary><c>{% if %}</c> with its <c>elif</c> branches in order and an optional <c>else</c>.</summary>
internal sealed record IfNode(int Line, List<(Expr Test, List<Node> Body)> Branches, List<Node>? Else) : Node(Line);

/// <summary><c>{% for a, b in iter if filter %}...{% else %}...{% endfor %}</c>.</summary>
internal sealed record ForNode(int Line, List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else) : Node(Line);

/// <summary><c>{% set target = value %}</c>; the target is a name, a tuple of names, or <c>ns.attr</c>.</summary>
internal sealed record SetNode(int Line, Expr Target, Expr Value) : Node(Line);

/// <summary><c>{% set name %}body{% endset %}</c>: the rendered body is assigned.</summary>
internal sealed record SetBlockNode(int Line, string Name, List<Node> Body) : Node(Line);

/// <summary><c>{% macro name(params) %}</c>; defaults are evaluated at each call.</summary>
internal sealed record MacroNode(int Line, string Name, List<(string Name, Expr? Default)> Params, List<Node> Body) : Node(Line);

/// <summary><c>{% break %}</c>.</summary>
internal sealed record BreakNode(int Line) : Node(Line);

/// <summary><c>{% continue %}</c>.</summary>
internal sealed record ContinueNode(int Line) : Node(Line);

/// <summary>An expression.</summary>
internal abstract record Expr(int Line);

internal sealed record LiteralExpr(int Line, object? Value) : Expr(Line);
internal sealed record NameExpr(int Line, string Name) : Expr(Line);
internal sealed record ListExpr(int Line, List<Expr> Items) : Expr(Line);
internal sealed record TupleExpr(int Line, List<Expr> Items) : Expr(Line);
internal sealed record DictExpr(int Line, List<(Expr Key, Expr Value)> Items) : Expr(Line);
internal sealed record AttrExpr(int Line, Expr Target, string Name) : Expr(Line);
internal sealed record ItemExpr(int Line, Expr Target, Expr Index) : Expr(Line);
internal sealed record SliceExpr(int Line, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Line);
internal sealed record CallExpr(int Line, Expr Callee, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr(Line);
internal sealed record FilterExpr(int Line, Expr Value, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr(Line);
internal sealed record TestExpr(int Line, Expr Value, string Name, List<Expr> Args, bool Negated) : Expr(Line);
internal sealed record UnaryExpr(int Line, string Op, Expr Operand) : Expr(Line);
internal sealed record BinaryExpr(int Line, string Op, Expr Left, Expr Right) : Expr(Line);
/// <summary>A comparison chain <c>a &lt; b &lt;= c</c> (Python semantics: each pair compared, all must hold).</summary>
internal sealed record CompareExpr(int Line, Expr First, List<(string Op, Expr Operand)> Rest) : Expr(Line);
internal sealed record CondExpr(int Line, Expr Test, Expr Then, Expr? Else) : Expr(Line);
