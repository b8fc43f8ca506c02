using Dllm.Text.Jinja;

namespace Dllm.Tests.Text;

/// <summary>
/// Python Jinja2 semantics where the JavaScript reference renderer differs or lacks the feature (expected
/// values are what Python's Jinja2 3.1 prints), and the errors templates raise.
/// </summary>
public class JinjaTemplateTests
{
    private static string R(string template, object? vars = null)
    {
        var dict = new Dictionary<string, object?>();
        if (vars is not null)
            foreach (var p in vars.GetType().GetProperties()) dict[p.Name] = p.GetValue(vars);
        return JinjaTemplate.Parse(template, "t").Render(dict);
    }

    [Theory]
    [InlineData("{{ true }} {{ none }} {{ 1 == 1.0 }}", "True None True")]
    [InlineData("{{ [1, 'a', none] }} {{ {'k': 'v'} }} {{ ('x',) }}", "[1, 'a', None] {'k': 'v'} ('x',)")]
    [InlineData("{{ 7 / 2 }} {{ 6 / 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** -1 }}", "3.5 3.0 2 -2 0.5")]
    [InlineData("{{ 'hello World' | capitalize }} {{ 'xxhixx'.lstrip('x') }} {{ 'ab' * 2 }}", "Hello world hixx abab")]
    [InlineData("{{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ x is sameas none }}", "True False True")]
    [InlineData("{{ [1, 0, 2, none] | select | list }} {{ ['a', 'B'] | map('upper') | join }}", "[1, 2] AB")]
    [InlineData("{{ [1, 2] == [1, 2] }} {{ 'a' < 'b' < 'c' }} {{ 1 < 3 > 2 }}", "True True True")]
    [InlineData("{{ ', '.join(['p', 'q']) }} {{ 'a b'.title() }} {{ 'x' ~ none }}", "p, q A B xNone")]
    [InlineData("{% for x in 'ab' %}{{ loop.cycle('o', 'e') }}{{ x }}{% endfor %}", "oaeb")]
    [InlineData("{% raw %}{{ kept }}{% endraw %}", "{{ kept }}")]
    [InlineData("a\n  {%+ if true %}b{% endif %}", "a\n  b")]
    [InlineData("{{ 'é' | tojson }} {{ {'b': [1, {'c': none}]} | tojson(indent=2) }}", "\"é\" {\n  \"b\": [\n    1,\n    {\n      \"c\": null\n    }\n  ]\n}")]
    [InlineData("{{ x | default('d', true) }}|{{ undefined_name }}|{{ undefined_name is defined }}", "d||False")]
    [InlineData("{% set d = {'a': 1} %}{{ d.get('a') }} {{ d.get('z', 0) }} {{ d.items() | list }}", "1 0 [('a', 1)]")]
    [InlineData("{{ 'abc'[5] }}|{{ [1][3] }}|{{ 'abc'[1:] }}", "||bc")]
    [InlineData("line\n", "line")]
    [InlineData("{{ {'a': {'b': 1}}['a']['b'] }}|{% generation %}kept{% endgeneration %}", "1|kept")]
    [InlineData("{# c -#}\n  x {#- c #} y\r\nz", "x y\nz")]
    public void Python_semantics(string template, string expected)
    {
        Assert.Equal(expected, R(template, new { x = (object?)null }));
    }

    [Fact]
    public void Syntax_errors_name_the_template_and_line()
    {
        var e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("ok\n{% if x %}\nno end", "my.jinja"));
        Assert.Equal("my.jinja", e.TemplateName);
        Assert.Contains("my.jinja, line", e.Message);
        Assert.Contains("endif", e.Message);

        e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("a\nb\n{{ 1 + }}", "t"));
        Assert.Equal(3, e.Line);
        e = Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{% include 'x' %}", "t"));
        Assert.Contains("not supported", e.Message);
        Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{{ 'unclosed }}", "t"));
        Assert.Throws<TemplateException>(() => JinjaTemplate.Parse("{% for x in y %}", "t"));
    }

    [Fact]
    public void Raise_exception_names_the_line_and_is_marked()
    {
        const string tpl = "{% for m in messages %}\n{% if m.role == 'bad' %}\n{{ raise_exception('Roles must alternate') }}\n{% endif %}{% endfor %}";
        var e = Assert.Throws<TemplateException>(() => R(tpl, new { messages = new[] { new Dictionary<string, object?> { ["role"] = "bad" } } }));
        Assert.Equal(3, e.Line);
        Assert.True(e.RaisedByTemplate);
        Assert.Equal("t, line 3: Roles must alternate", e.Message);
    }

    [Theory]
    [InlineData("{{ 'a' + 1 }}", "unsupported operand")]
    [InlineData("{{ nothing.attr }}", "'nothing' is undefined")]
    [InlineData("{{ nothing() }}", "'nothing' is undefined")]
    [InlineData("{{ [1] | nosuchfilter }}", "no filter named 'nosuchfilter'")]
    [InlineData("{{ 1 is nosuchtest }}", "no test named")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", "non-namespace")]
    [InlineData("{% set l = [] %}{{ l.append(1) }}", "not allowed")]
    [InlineData("{{ 1 // 0 }}", "division by zero")]
    [InlineData("{% break %}", "outside a for loop")]
    public void Runtime_errors_are_template_exceptions(string template, string fragment)
    {
        var e = Assert.Throws<TemplateException>(() => R(template));
        Assert.Contains(fragment, e.Message);
        Assert.Equal(1, e.Line);
    }

    [Fact]
    public void Set_in_a_loop_does_not_leak_but_namespace_does()
    {
        Assert.Equal("0 3", R("{% set n = 0 %}{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set n = n + 1 %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ n }} {{ ns.n }}"));
    }

    [Fact]
    public void Strftime_now_uses_the_given_clock()
    {
        var clock = new FixedClock(new DateTimeOffset(2024, 7, 26, 9, 5, 0, TimeSpan.Zero));
        string s = JinjaTemplate.Parse("{{ strftime_now('%d %b %Y %H:%M') }}").Render(new Dictionary<string, object?>(), clock);
        Assert.Equal("26 Jul 2024 09:05", s);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
