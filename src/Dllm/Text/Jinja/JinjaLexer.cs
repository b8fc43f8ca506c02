using System.Globalization;
using System.Text;

namespace Dllm.Text.Jinja;

/// <summary>Kinds of <see cref="JinjaToken"/>.</summary>
internal enum TokenKind { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, Eof }

/// <summary>One lexical token; <see cref="Line"/> is 1-based.</summary>
internal readonly record struct JinjaToken(TokenKind Kind, string Value, int Line)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;
    public bool IsName(string value) => Is(TokenKind.Name, value);
    public bool IsOp(string value) => Is(TokenKind.Operator, value);
    public override string ToString() => Kind switch
    {
        TokenKind.Eof => "end of template",
        TokenKind.Text => "text",
        TokenKind.String => $"string '{Value}'",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Splits a template into text and tag tokens the way Python's Jinja2 does with the settings Hugging Face
/// uses for chat templates (<c>trim_blocks=True, lstrip_blocks=True</c>, <c>keep_trailing_newline=False</c>).
/// </summary>
/// <remarks>
/// <para>Whitespace rules, as in jinja2/lexer.py: <c>{%-</c>/<c>{{-</c>/<c>{#-</c> strip all whitespace before
/// the tag and <c>-%}</c>/<c>-}}</c>/<c>-#}</c> all whitespace after it; trim_blocks drops the first newline
/// after a block or comment tag; lstrip_blocks drops the spaces and tabs between the start of a line and a
/// block or comment tag (not before <c>{{</c>, nor before <c>{%+</c>). Newlines are normalized to \n and one
/// trailing newline is dropped.</para>
/// <para>Inside a tag a closing delimiter only counts outside brackets, so <c>{{ {'a': {'b': 1}} }}</c> works.
/// <c>{% raw %}...{% endraw %}</c> is returned as text.</para>
/// </remarks>
internal sealed class JinjaLexer
{
    private static readonly string[] Operators =
    [
        "**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
        "(", ")", "[", "]", "{", "}", ",", ".", ":", "|",
    ];

    private readonly string _src;
    private readonly List<JinjaToken> _tokens = [];
    private int _pos;
    private bool _lineStarting = true;
    private int[]? _newlines;

    private JinjaLexer(string source)
    {
        string s = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (s.EndsWith('\n')) s = s[..^1];
        _src = s;
    }

    /// <summary>Tokenizes <paramref name="source"/>; the list ends with an <see cref="TokenKind.Eof"/> token.</summary>
    /// <exception cref="JinjaError">An unclosed tag, comment or string, or an unexpected character.</exception>
    public static List<JinjaToken> Tokenize(string source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private int LineAt(int pos)
    {
        // Newline positions are found once; a binary search gives the line of any position.
        _newlines ??= [.. Enumerable.Range(0, _src.Length).Where(i => _src[i] == '\n')];
        int i = Array.BinarySearch(_newlines, pos);
        return (i >= 0 ? i : ~i) + 1;
    }

    private void Run()
    {
        while (_pos < _src.Length)
        {
            int open = FindOpen(_pos);
            string text = _src[_pos..(open < 0 ? _src.Length : open)];
            if (open < 0)
            {
                EmitText(text, _pos);
                _pos = _src.Length;
                break;
            }
            char kind = _src[open + 1];                       // '{', '%' or '#'
            char mod = open + 2 < _src.Length ? _src[open + 2] : '\0';
            if (mod == '-') text = text.TrimEnd();
            else if (kind != '{' && mod != '+') text = LstripBlock(text);
            EmitText(text, _pos);
            int inner = open + 2 + (mod is '-' or '+' ? 1 : 0);
            int end = kind switch
            {
                '#' => LexComment(open, inner),
                '{' => LexTag(open, inner, "}}", TokenKind.VarBegin, TokenKind.VarEnd),
                _ => LexTag(open, inner, "%}", TokenKind.BlockBegin, TokenKind.BlockEnd),
            };
            _pos = end;
            if (kind != '{' && _tokens.Count >= 3 && _tokens[^1].Kind == TokenKind.BlockEnd
                && _tokens[^2].IsName("raw") && _tokens[^3].Kind == TokenKind.BlockBegin)
                LexRaw();
        }
        _tokens.Add(new JinjaToken(TokenKind.Eof, "", LineAt(_src.Length)));
    }

    private int FindOpen(int from)
    {
        for (int i = from; i + 1 < _src.Length; i++)
            if (_src[i] == '{' && _src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    // lstrip_blocks: the spaces/tabs between the start of a line and a block tag go.
    private string LstripBlock(string text)
    {
        int lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && !_lineStarting) return text;
        if (lineStart == text.Length) return text;
        for (int i = lineStart; i < text.Length; i++)
            if (!char.IsWhiteSpace(text[i])) return text;
        return text[..lineStart];
    }

    private void EmitText(string text, int at)
    {
        if (text.Length > 0) _tokens.Add(new JinjaToken(TokenKind.Text, text, LineAt(at)));
    }

    // After a closing delimiter: "-" strips all following whitespace; trim_blocks drops one newline after
    // block and comment tags. Returns the new position and records whether a line starts there.
    private int AfterClose(int pos, bool strip, bool trimNewline)
    {
        int start = pos;
        if (strip) while (pos < _src.Length && char.IsWhiteSpace(_src[pos])) pos++;
        else if (trimNewline && pos < _src.Length && _src[pos] == '\n') pos++;
        _lineStarting = pos > start && _src[pos - 1] == '\n';
        return pos;
    }

    private int LexComment(int open, int inner)
    {
        int close = _src.IndexOf("#}", inner, StringComparison.Ordinal);
        if (close < 0) throw new JinjaError(LineAt(open), "comment {# is never closed with #}");
        bool strip = close > inner && _src[close - 1] == '-';
        return AfterClose(close + 2, strip, trimNewline: true);
    }

    private int LexTag(int open, int pos, string close, TokenKind beginKind, TokenKind endKind)
    {
        _tokens.Add(new JinjaToken(beginKind, beginKind == TokenKind.VarBegin ? "{{" : "{%", LineAt(open)));
        int depth = 0;
        while (true)
        {
            while (pos < _src.Length && char.IsWhiteSpace(_src[pos])) pos++;
            if (pos >= _src.Length)
                throw new JinjaError(LineAt(open), $"tag opened here is never closed with {close}");
            if (depth == 0)
            {
                bool dash = _src[pos] == '-' && string.CompareOrdinal(_src, pos + 1, close, 0, 2) == 0;
                if (dash || string.CompareOrdinal(_src, pos, close, 0, 2) == 0)
                {
                    _tokens.Add(new JinjaToken(endKind, close, LineAt(pos)));
                    return AfterClose(pos + (dash ? 3 : 2), dash, trimNewline: endKind == TokenKind.BlockEnd);
                }
            }
            char c = _src[pos];
            int line = LineAt(pos);
            if (c is '\'' or '"') pos = LexString(pos, line);
            else if (char.IsAsciiDigit(c)) pos = LexNumber(pos, line);
            else if (char.IsLetter(c) || c == '_')
            {
                int s = pos;
                while (pos < _src.Length && (char.IsLetterOrDigit(_src[pos]) || _src[pos] == '_')) pos++;
                _tokens.Add(new JinjaToken(TokenKind.Name, _src[s..pos], line));
            }
            else
            {
                string? op = Operators.FirstOrDefault(o => string.CompareOrdinal(_src, pos, o, 0, o.Length) == 0);
                if (op is null) throw new JinjaError(line, $"unexpected character '{c}'");
                if (op is "(" or "[" or "{") depth++;
                else if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
                _tokens.Add(new JinjaToken(TokenKind.Operator, op, line));
                pos += op.Length;
            }
        }
    }

    private int LexNumber(int pos, int line)
    {
        int s = pos;
        while (pos < _src.Length && (char.IsAsciiDigit(_src[pos]) || _src[pos] == '_')) pos++;
        bool isFloat = false;
        if (pos + 1 < _src.Length && _src[pos] == '.' && char.IsAsciiDigit(_src[pos + 1]))
        {
            isFloat = true;
            pos++;
            while (pos < _src.Length && (char.IsAsciiDigit(_src[pos]) || _src[pos] == '_')) pos++;
        }
        if (pos < _src.Length && _src[pos] is 'e' or 'E')
        {
            int e = pos + 1;
            if (e < _src.Length && _src[e] is '+' or '-') e++;
            if (e < _src.Length && char.IsAsciiDigit(_src[e]))
            {
                isFloat = true;
                pos = e;
                while (pos < _src.Length && char.IsAsciiDigit(_src[pos])) pos++;
            }
        }
        string text = _src[s..pos].Replace("_", "");
        _tokens.Add(new JinjaToken(isFloat ? TokenKind.Float : TokenKind.Integer, text, line));
        return pos;
    }

    // Python string literal escapes; an unknown escape keeps its backslash, as Python does.
    private int LexString(int pos, int line)
    {
        char quote = _src[pos++];
        var sb = new StringBuilder();
        while (true)
        {
            if (pos >= _src.Length) throw new JinjaError(line, "string literal is never closed");
            char c = _src[pos++];
            if (c == quote) break;
            if (c != '\\' || pos >= _src.Length) { sb.Append(c); continue; }
            char e = _src[pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '0': sb.Append('\0'); break;
                case '\\': case '\'': case '"': sb.Append(e); break;
                case '\n': break; // line continuation
                case 'x': case 'u': case 'U':
                    int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (pos + len > _src.Length || !int.TryParse(_src.AsSpan(pos, len), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int cp))
                        throw new JinjaError(line, $"bad \\{e} escape in string literal");
                    sb.Append(char.ConvertFromUtf32(cp));
                    pos += len;
                    break;
                default: sb.Append('\\').Append(e); break;
            }
        }
        _tokens.Add(new JinjaToken(TokenKind.String, sb.ToString(), line));
        return pos;
    }

    // {% raw %} ... {% endraw %}: everything up to the end tag is text. The three raw tokens are replaced.
    private void LexRaw()
    {
        int line = _tokens[^3].Line;
        _tokens.RemoveRange(_tokens.Count - 3, 3);
        int search = _pos;
        while (true)
        {
            int open = _src.IndexOf("{%", search, StringComparison.Ordinal);
            if (open < 0) throw new JinjaError(line, "{% raw %} is never closed with {% endraw %}");
            int p = open + 2;
            bool leftDash = p < _src.Length && _src[p] == '-';
            if (leftDash || (p < _src.Length && _src[p] == '+')) p++;
            while (p < _src.Length && char.IsWhiteSpace(_src[p])) p++;
            if (string.CompareOrdinal(_src, p, "endraw", 0, 6) == 0)
            {
                p += 6;
                while (p < _src.Length && char.IsWhiteSpace(_src[p])) p++;
                bool rightDash = p < _src.Length && _src[p] == '-';
                if (rightDash) p++;
                if (string.CompareOrdinal(_src, p, "%}", 0, 2) == 0)
                {
                    string text = _src[_pos..open];
                    EmitText(leftDash ? text.TrimEnd() : LstripBlock(text), _pos);
                    _pos = AfterClose(p + 2, rightDash, trimNewline: true);
                    return;
                }
            }
            search = open + 2;
        }
    }
}
