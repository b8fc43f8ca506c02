#!/usr/bin/env python3
"""Build a small byte-level BPE tokenizer.json in the Llama-3 / LLaDA layout, plus golden cases.

Why this exists: the test suite cannot download the real LLaDA tokenizer (126k tokens), and
no Hugging Face `tokenizers` package is installed here. So this script
  1. learns a few hundred BPE merges from the small English text embedded below
     (deterministic: most frequent pair first, ties broken by the lexicographically smallest pair),
  2. writes tests/golden/tokenizer/tokenizer.json with the same shape as a real HF file
     (model.type "BPE", GPT-2 byte-to-unicode vocabulary, merges as "a b" strings,
     a Sequence[Split(Llama-3 regex), ByteLevel] pre-tokenizer, ByteLevel decoder,
     and the LLaDA special tokens as added_tokens with small ids after the base vocabulary),
  3. encodes ~30 strings with an independent reference implementation of byte-level BPE
     (split on added tokens, regex pre-split, bytes->unicode, lowest-rank merge first) and
     writes tests/golden/tokenizer/cases.json (text -> expected ids).

The C# side (Dllm.Text.HfBpeTokenizer) must reproduce cases.json exactly.

Dependencies: python3 and the `regex` module (for \\p{L}/\\p{N} in the Llama-3 pattern, which
the standard `re` module lacks). The generated files are committed, so this script only has to
be re-run when the tokenizer or the cases change.

Usage: python3 scripts/make_test_tokenizer.py [output_dir]   (default tests/golden/tokenizer)
"""
import json
import os
import sys

try:
    import regex
except ImportError:  # pragma: no cover - only hit on machines without the module
    sys.exit("make_test_tokenizer.py needs the `regex` module (pip install regex / apt install python3-regex)")

# The exact Llama-3 pre-tokenizer pattern (as in Meta-Llama-3 tokenizer.json and LLaDA-style files).
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
PRE = regex.compile(LLAMA3_PATTERN)

NUM_MERGES = 400

# LLaDA special tokens (real ids: 126080, 126081, 126336, 126346, 126347, 126348). Here they get
# small ids right after the learned vocabulary, in an order different from LLaDA's (the mask
# comes last) so that tests cannot depend on a particular layout: they read the ids from the file.
SPECIAL_TOKENS = [
    "<|startoftext|>",
    "<|endoftext|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|mdm_mask|>",
]

CORPUS = """
The quick brown fox jumps over the lazy dog. A diffusion language model starts from a fully
masked answer and fills in the tokens over a number of steps, committing the ones it is most
confident about first. Unlike an autoregressive model, it can revise its plan for the end of
the sentence while it is still writing the beginning.

Once upon a time there was a little robot who wanted to learn how to write poems. Every day it
read the books in the library, and every night it tried to write a new line. The other robots
laughed at first, but the little robot kept going. After many days, it wrote: "The moon is a
lantern that the night forgot to turn off." Everyone was quiet, and then they all clapped.

User: What is the capital of France?
Assistant: The capital of France is Paris. It is known for the Eiffel Tower, the Louvre, and
its cafes. About 2,100,000 people live in the city itself, and more than 12 million in the
greater area.

User: Can you count to ten?
Assistant: Sure: one, two, three, four, five, six, seven, eight, nine, ten. In digits that is
1 2 3 4 5 6 7 8 9 10. Is there anything else you would like to know?

## Code
# add two numbers
def add(a, b):
    return a + b  # the sum

for i in range(10):
    print(i, add(i, i))

It's a lovely day, isn't it? We'll see what they've done, and I'm sure you'd agree that
they're right. Don't worry; it'll be fine! Questions, answers, and more questions...
"""


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character mapping (byte order = id order)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return bs, [chr(c) for c in cs]


BS, CS = bytes_to_unicode()
BYTE_TO_CHAR = dict(zip(BS, CS))


def to_byte_chars(piece):
    return "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))


def train(corpus, num_merges):
    """Plain BPE training over regex pre-tokenized words; returns the merges in rank order."""
    counts = {}
    for w in PRE.findall(corpus):
        key = tuple(to_byte_chars(w))
        counts[key] = counts.get(key, 0) + 1
    words = [[list(k), c] for k, c in counts.items()]
    merges = []
    for _ in range(num_merges):
        pairs = {}
        for syms, c in words:
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        merged = best[0] + best[1]
        for w in words:
            syms = w[0]
            out = []
            i = 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == best[0] and syms[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            w[0] = out
    return merges


def build(merges):
    vocab = {}
    for c in CS:  # ids 0..255 in GPT-2 byte order, as in real byte-level BPE files
        vocab[c] = len(vocab)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    added = {tok: len(vocab) + i for i, tok in enumerate(SPECIAL_TOKENS)}
    return vocab, added


def bpe(word_chars, ranks):
    """Reference merge loop: repeatedly merge the adjacent pair with the lowest rank."""
    syms = list(word_chars)
    while len(syms) > 1:
        best = None
        for i in range(len(syms) - 1):
            r = ranks.get((syms[i], syms[i + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        syms[i:i + 2] = [syms[i] + syms[i + 1]]
    return syms


def encode(text, vocab, ranks, added):
    ids = []
    # Added tokens are matched first (longest first), and the text between them is encoded normally.
    special_re = regex.compile("|".join(regex.escape(t) for t in sorted(added, key=len, reverse=True)))
    pos = 0
    for m in list(special_re.finditer(text)) + [None]:
        end = m.start() if m else len(text)
        for piece in PRE.findall(text[pos:end]):
            ids.extend(vocab[s] for s in bpe(to_byte_chars(piece), ranks))
        if m:
            ids.append(added[m.group(0)])
            pos = m.end()
    return ids


CASES = [
    "Hello",
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "the capital of France is Paris",
    "  leading spaces",
    "trailing spaces   ",
    "multiple   spaces between",
    "line one\nline two\n\nline four",
    "tabs\tand\r\nwindows newlines",
    "\n\n\n",
    "",
    " ",
    "12345678901",
    "3.14159 and 2,100,000",
    "It's what they've done; we'll see. I'M LOUD'S",
    "Punctuation!!! ?? ... (brackets) [x] {y} <z>",
    "def add(a, b):\n    return a + b\n",
    "## Heading # comment ##",
    "café naïve résumé",
    "中文字符测试",
    "emoji 😀👍🏽 mixed",
    "Ünïcödé ÀÉÎÕÜ",
    "<|startoftext|>Hello",
    "<|start_header_id|>user<|end_header_id|>",
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>",
    "text<|eot_id|>more text",
    "<|mdm_mask|><|mdm_mask|><|mdm_mask|>",
    "answer<|endoftext|><|endoftext|>",
    "not special: <|unknown|> and <| start_header_id |>",
    "x",
    # A rendered chat (ChatTemplate.Render of a system prompt and two user turns, with the generation
    # prompt): the test checks that ChatTemplate.Apply produces exactly these ids.
    "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\nParis.<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nAnd of Italy?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "zzzzqqqq jjjj",
    "Once upon a time there was a little robot who wanted to learn how to write poems.",
]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "tokenizer")
    os.makedirs(out_dir, exist_ok=True)
    merges = train(CORPUS, NUM_MERGES)
    vocab, added = build(merges)
    ranks = {m: i for i, m in enumerate(merges)}

    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t, i in added.items()
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        },
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=1)
        f.write("\n")

    # One case per line keeps the golden file readable and its diffs small.
    lines = [json.dumps({"text": t, "ids": encode(t, vocab, ranks, added)}, ensure_ascii=False) for t in CASES]
    with open(os.path.join(out_dir, "cases.json"), "w", encoding="utf-8") as f:
        f.write("{\n")
        f.write(' "comment": "Generated by scripts/make_test_tokenizer.py: reference byte-level BPE encodings for tokenizer.json.",\n')
        f.write(' "special_ids": ' + json.dumps(added) + ",\n")
        f.write(' "cases": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n")
    print(f"{len(merges)} merges, vocab {len(vocab)} + {len(added)} added tokens, {len(CASES)} cases -> {out_dir}")


if __name__ == "__main__":
    main()
