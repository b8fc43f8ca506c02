#!/usr/bin/env python3
"""Generates the small synthetic instruction set the bundled chat model is fine-tuned on.

    python3 scripts/make_instructions.py [--seed 7] [--out data]   # writes OUT/instructions-{train,test}.jsonl

Standard library only, seeded: the same command always writes the same files (the default seed's are
committed; nothing in the build or the tests runs this script). Another --seed draws another split of
words and operand pairs, so anyone can train and score on a fresh held-out set.

Tasks are things a ~1M-parameter byte-level model can learn in an hour of CPU:
  add / sub / mul   "What is 3 + 4?" -> "7"        (add/sub operands 0..20, sub never negative; mul 0..12)
  copy              "Repeat: apple" -> "apple"
  upper             "Uppercase: apple" -> "APPLE"
  reverse           "Reverse: apple" -> "elppa"
  count             "How many letters are in apple?" -> "5"
  greet             "Hello" -> "Hello!"                (fixed short replies)

Held-out split: a fixed fraction of the operand pairs and of the words never appears in the training
file, so test accuracy measures generalisation (words the model never saw; sums it never saw). Greetings are a closed set and appear in both files: their test score only checks recall.
Every test line has a "task" field; about 5 % of the training lines are two-turn "messages"
conversations so the model sees earlier turns in its prompt, as `dllm chat` sends them.
"""
import argparse
import json
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 7
TRAIN_COUNT = 40000
TEST_PER_TASK = 40
HOLD_OUT = 0.15

# Short fixed replies: every SFT batch is EOS-padded to its longest answer, so one long reply would make
# most answer positions of most batches padding.
GREETINGS = {
    "Hello": "Hello!",
    "Hi": "Hi!",
    "Good morning": "Good morning!",
    "Who are you?": "I am Dllm.",
    "What are you?": "A diffusion model.",
    "Thank you": "You are welcome.",
    "Thanks": "You are welcome.",
    "Goodbye": "Goodbye!",
}


def split(items, rng):
    items = sorted(set(items))
    rng.shuffle(items)
    cut = max(1, int(len(items) * HOLD_OUT))
    return items[cut:], items[:cut]


def load_corpus():
    return (ROOT / "data" / "kjv-excerpt.txt").read_text(encoding="utf-8").splitlines()


def words_from(lines):
    found = set()
    for line in lines:
        for w in re.findall(r"\b[a-z]+\b", line):
            if 3 <= len(w) <= 8:
                found.add(w)
    return found


def make(task, item):
    if task in ("add", "sub", "mul"):
        a, b = item
        sym, val = {"add": ("+", a + b), "sub": ("-", a - b), "mul": ("*", a * b)}[task]
        return f"What is {a} {sym} {b}?", str(val)
    if task == "copy":
        return f"Repeat: {item}", item
    if task == "upper":
        return f"Uppercase: {item}", item.upper()
    if task == "reverse":
        return f"Reverse: {item}", item[::-1]
    if task == "count":
        return f"How many letters are in {item}?", str(len(item))
    if task == "greet":
        return item, GREETINGS[item]
    raise ValueError(task)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=SEED, help="split and sampling seed (default %(default)s: the committed files)")
    ap.add_argument("--out", type=Path, default=ROOT / "data", help="output folder (default: data/)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    lines = load_corpus()
    words_train, words_test = split(words_from(lines), rng)
    pools = {}
    pools["add"] = split([(a, b) for a in range(21) for b in range(21)], rng)
    pools["sub"] = split([(a, b) for a in range(21) for b in range(a + 1)], rng)
    pools["mul"] = split([(a, b) for a in range(13) for b in range(13)], rng)
    for t in ("copy", "upper", "reverse", "count"):
        pools[t] = (words_train, words_test)
    greet = sorted(GREETINGS)
    pools["greet"] = (greet, greet)
    tasks = sorted(pools)
    # Arithmetic and word tasks get most of the budget; greetings are few and easy.
    weights = {t: (0.3 if t == "greet" else 1.0) for t in tasks}

    train = []
    for _ in range(TRAIN_COUNT):
        turns = 2 if rng.random() < 0.05 else 1
        msgs = []
        for _ in range(turns):
            task = rng.choices(tasks, [weights[t] for t in tasks])[0]
            prompt, answer = make(task, rng.choice(pools[task][0]))
            msgs += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        if turns == 1:
            train.append({"prompt": msgs[0]["content"], "response": msgs[1]["content"]})
        else:
            train.append({"messages": msgs})

    test = []
    for task in tasks:
        held = pools[task][1]
        picks = held if len(held) <= TEST_PER_TASK else rng.sample(held, TEST_PER_TASK)
        for item in picks:
            prompt, answer = make(task, item)
            test.append({"task": task, "prompt": prompt, "response": answer})

    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("instructions-train.jsonl", train), ("instructions-test.jsonl", test)):
        with open(args.out / name, "w", encoding="utf-8", newline="\n") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"{args.out / name}: {len(rows)} lines")


if __name__ == "__main__":
    main()
