#!/usr/bin/python3
"""GPT-2's byte-level BPE, written here in Python from the published
algorithm, against adjoint's tokenizer (src/io/bpe.c):

1. trains a small vocabulary on a corpus (byte-level BPE: pieces from the
   pre-tokenizer, the most frequent adjacent pair merged, ties to the
   smallest pair) and writes vocab.json (tokens in GPT-2's byte-to-unicode
   map) and merges.txt ("#version: 0.2", then one merge a line);
2. encodes test texts (spaces, tabs, newlines, punctuation, digits,
   contractions, non-ASCII letters and numbers, combining marks, bytes
   that are not UTF-8) with GPT-2's encoding: the pattern

       's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+

   run by Python's re with \\p{L}, \\p{N} spelled as the code points of
   unicodedata's categories L* and N*, and \\s as Unicode's White_Space;
   then per piece the lowest-ranked pair merged until none is left;
3. runs bpe_run (tests/bpe/bpe_run.c) on the same files: the pieces and
   the ids must be equal, and adjoint's decoding must give the bytes back.

4. with ADJOINT: a small "gpt" trained by `adjoint train` on the corpus's
   ids, put in a Hugging Face directory with the fixture, is sampled from
   with `adjoint sample DIR --prompt TEXT` (text in, text out, greedy
   output repeatable), evaluated and fine-tuned with --init DIR; with
   GPT2_HF, examples/gpt2_hf.c runs on the same directory.

    bpe_ref.py BPE_RUN [ADJOINT [GPT2_HF]]"""
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unicodedata
from collections import Counter


def byte_to_unicode():
    """GPT-2's map: printable bytes stand for themselves, the rest for 256, 257, ..."""
    keep = [b for b in range(256) if 0x21 <= b <= 0x7e or 0xa1 <= b <= 0xac or 0xae <= b <= 0xff]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


B2U = byte_to_unicode()
U2B = {u: b for b, u in B2U.items()}
WHITE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def category_class(prefix):
    """A character-class body of every code point whose category starts with prefix."""
    out, start, prev = [], None, None
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)).startswith(prefix):
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            out.append((start, prev))
            start = None
    esc = lambda c: "\\U%08x" % c  # noqa: E731
    return "".join(esc(a) if a == b else esc(a) + "-" + esc(b) for a, b in out)


L, N = category_class("L"), category_class("N")
PATTERN = re.compile(
    "'s|'t|'re|'ve|'m|'ll|'d| ?[%s]+| ?[%s]+| ?[^%s%s%s]+|[%s]+(?![^%s])|[%s]+"
    % (L, N, WHITE, L, N, WHITE, WHITE, WHITE))


def pieces(text):
    """bytes -> the pre-tokenizer's pieces as byte-mapped strings."""
    s = text.decode("utf-8", "surrogateescape")  # a byte that is not UTF-8: one lone surrogate (other)
    return ["".join(B2U[b] for b in p.encode("utf-8", "surrogateescape")) for p in PATTERN.findall(s)]


def train(corpus, merges_wanted):
    counts = Counter(pieces(corpus))
    split = {w: list(w) for w in counts}
    merges = []
    while len(merges) < merges_wanted:
        pairs = Counter()
        for w, f in counts.items():
            s = split[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += f
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        if pairs[best] < 2:
            break
        merges.append(best)
        for w in split:
            s, out, i = split[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            split[w] = out
    vocab = {}
    for u in sorted(B2U.values()):
        vocab[u] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab, merges


def bpe(piece, ranks):
    """GPT-2's merge loop on one piece."""
    word = list(piece)
    while len(word) > 1:
        pairs = set(zip(word, word[1:]))
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        out, i = [], 0
        while i < len(word):
            if i + 1 < len(word) and word[i] == best[0] and word[i + 1] == best[1]:
                out.append(best[0] + best[1])
                i += 2
            else:
                out.append(word[i])
                i += 1
        word = out
    return word


def encode(text, vocab, ranks):
    return [vocab[t] for p in pieces(text) for t in bpe(p, ranks)]


CORPUS = ("""The quick brown fox jumps over the lazy dog. It's the dog's day; they'll say we've
seen it, and I'm sure you'd agree: 12 foxes, 345 dogs, 6789 birds -- 3.14159 and 2.71828!
Hello world. Hello, World! HELLO?? hello... "quoted" text (with parentheses) [brackets]
café naïve résumé Straße façade Ελληνικά γλώσσα русский язык 日本語のテキスト 中文 한국어
numbers ٣٤٥ ½ Ⅻ ²³ ¼ and tabs\tbetween\twords,  double  spaces,   triple   spaces.
e-mail: someone@example.com, url https://example.org/path?q=1&r=2 #hashtag @mention
""" * 6).encode() + "emoji 😀 🚀 ✓ — “curly” ‘quotes’\n".encode() * 3


TEXTS = [
    b"Hello world! It's 2024; they'll say: \"we've 3.14 apples\", I'd think.\n",
    b"  leading spaces, trailing spaces   \n\n\nthree newlines\tand\ttabs \t mixed\r\nCRLF\n",
    "café naïve Straße Ελληνικά русский 日本語 ٣٤٥ ½ Ⅻ x²".encode(),
    "numbers next to punctuation: ٣٤٥.٦٧ ½% Ⅻ) ²³! x²y ٣a 七八 ①②,".encode(),
    "combining: e\u0301 a\u0308 — no-break\u00a0space and ideographic\u3000space".encode(),
    "runs of other white space: a\u3000\u3000b \u3000c\u2003\u2003!\u00a0\u00a0\u00a0d\x0b\x0ce".encode(),
    b"bytes that are not UTF-8: \xff\xfe abc \xe6\x97 x \xc3(\n",
    b"'s 't 're 've 'm 'll 'd 'S 'x '' ''s don't WON'T 123abc abc123 a1b2 __init__ ...!?",
    b"        code()\n    return x  # comment\n",
    "emoji 😀🚀 ✓ “quoted” <|endoftext|> end".encode(),
    b" ",
    b"\n",
    b"a",
]

# Long pre-token pieces (the merge is O(n log n) in a piece's length):
# letters, digits, punctuation, white space, one letter repeated (the
# same pair overlapping), a mixed long word.
LONG = [
    b"thequickbrownfoxjumpsoverthelazydog" * 40,
    b" " + b"31415926535897932384626433832795" * 40,
    b"..,;!?--\"()[]" * 100,
    b" \t" * 600 + b"x",
    b"l" * 1001,
    "caf\u00e9na\u00efvehelloworldStra\u00dfe".encode() * 50,
]


def refusals(exe, tmp, vocab, merges):
    """Broken vocab.json or merges.txt: bpe_run fails naming the file and the problem."""
    bad = 0
    text = os.path.join(tmp, "t")
    with open(text, "w") as f:
        f.write("x")
    good_v = json.dumps(vocab, ensure_ascii=False)
    good_m = "#version: 0.2\n" + "".join("%s %s\n" % m for m in merges)
    some = next(iter(vocab))
    cases = [
        ("[1, 2]", good_m, ["vocab.json", "not a JSON object"]),
        (json.dumps({**vocab, "zz": -1}), good_m, ["vocab.json", "zz", "no id"]),
        (json.dumps({**vocab, "zz": 1.5}), good_m, ["vocab.json", "zz", "no id"]),
        (json.dumps({**vocab, "zz": 0}), good_m, ["vocab.json", "id 0", "twice"]),
        (json.dumps({**vocab, "a\u00ad": 9999}), good_m, ["vocab.json", "byte map"]),
        (json.dumps({k: v for k, v in vocab.items() if k != B2U[0x41]}), good_m, ["vocab.json", "0x41"]),
        (good_v, good_m + "%s\n" % merges[0][0], ["merges.txt", "line %d" % (len(merges) + 2), "two tokens"]),
        (good_v, good_m + "%s %s %s\n" % (some, some, some), ["merges.txt", "two tokens"]),
        (good_v, good_m + "%s %s\n" % merges[0], ["merges.txt", "repeats", "rank 0"]),
        (good_v, good_m + "%s \u0101\u0101\u0101zz\n" % B2U[0x41], ["merges.txt", "second token"]),
    ]
    d = os.path.join(tmp, "broken")
    os.makedirs(d, exist_ok=True)
    for v, m, words in cases:
        with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
            f.write(v)
        with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
            f.write(m)
        r = subprocess.run([exe, d, text], capture_output=True, text=True)
        missing = [w for w in words if w not in r.stderr]
        if r.returncode == 0 or missing:
            print("FAIL refusal %s: exit %d, %s not in %r" % (words, r.returncode, missing, r.stderr))
            bad += 1
        else:
            print("ok   refused: %s" % r.stderr.strip())
    return bad


def commands(adjoint, tmp, hf, ids):
    """adjoint train/sample/eval with the fixture in a Hugging Face directory."""
    bad = 0
    tokens = os.path.join(tmp, "tokens.bin")
    with open(tokens, "wb") as f:
        f.write(struct.pack("<%dH" % len(ids), *ids))
    run = os.path.join(tmp, "run")
    subprocess.run([adjoint, "train", "--model", "gpt", "--data", "tokens:" + tokens, "--embed", "16",
                    "--layers", "1", "--heads", "2", "--seq", "16", "--batch", "8", "--steps", "40",
                    "--lr", "0.01", "--threads", "1", "--out", run, "--quiet"], check=True)
    raw = open(os.path.join(run, "model.safetensors"), "rb").read()
    meta = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"]
    conf = {k: int(meta["config." + k]) for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head")}
    conf["model_type"] = "gpt2"
    with open(os.path.join(hf, "config.json"), "w") as f:
        json.dump(conf, f)
    shutil.copy(os.path.join(run, "model.safetensors"), os.path.join(hf, "model.safetensors"))
    prompt = "The quick brown"
    outs = [subprocess.run([adjoint, "sample", hf, "--prompt", prompt, "--steps", "12", "--temperature", "0"],
                           capture_output=True, text=True) for _ in range(2)]
    if outs[0].returncode or not outs[0].stdout.startswith(prompt) or len(outs[0].stdout) <= len(prompt) + 1:
        print("FAIL sample --prompt: exit %d, %r %s" % (outs[0].returncode, outs[0].stdout, outs[0].stderr))
        bad += 1
    elif outs[0].stdout != outs[1].stdout:
        print("FAIL greedy sampling is not repeatable: %r, %r" % (outs[0].stdout, outs[1].stdout))
        bad += 1
    else:
        print("ok   sample DIR --prompt %r: %r" % (prompt, outs[0].stdout))
    r = subprocess.run([adjoint, "eval", hf, "--data", "tokens:" + tokens, "--json"], capture_output=True, text=True)
    if r.returncode or "val_loss" not in r.stdout:
        print("FAIL eval DIR: %s %s" % (r.stdout, r.stderr))
        bad += 1
    else:
        print("ok   eval DIR: %s" % r.stdout.strip())
    corpus = os.path.join(tmp, "corpus.txt")
    with open(corpus, "wb") as f:
        f.write(CORPUS)
    r = subprocess.run([adjoint, "eval", hf, "--data", "text:" + corpus, "--json"], capture_output=True, text=True)
    if r.returncode or "val_loss" not in r.stdout:
        print("FAIL eval DIR --data text: (BPE): %s %s" % (r.stdout, r.stderr))
        bad += 1
    else:
        print("ok   eval DIR --data text: (BPE): %s" % r.stdout.strip())
    r = subprocess.run([adjoint, "eval", os.path.join(run, "model.safetensors"), "--data", "text:" + corpus],
                       capture_output=True, text=True)
    if r.returncode == 0 or "token ids" not in r.stderr:
        print("FAIL text data for a model of token ids without a tokenizer: %s %s" % (r.stdout, r.stderr))
        bad += 1
    else:
        print("ok   refused: %s" % r.stderr.strip())
    r = subprocess.run([adjoint, "train", "--model", "gpt", "--init", hf, "--data", "tokens:" + tokens,
                        "--seq", "16", "--steps", "3", "--threads", "1", "--out", os.path.join(tmp, "ft"),
                        "--json", "--quiet"], capture_output=True, text=True)
    if r.returncode or "val_loss" not in r.stdout:
        print("FAIL train --init DIR: %s %s" % (r.stdout, r.stderr))
        bad += 1
    else:
        print("ok   train --init DIR: %s" % r.stdout.strip())
    if len(sys.argv) > 3:
        r = subprocess.run([sys.argv[3], hf, prompt, "--tokens", "12"], capture_output=True, text=True)
        if r.returncode or "loss" not in r.stdout or outs[0].stdout.rstrip("\n") not in r.stdout:
            print("FAIL examples/gpt2_hf: exit %d, %r %s (sample gave %r)"
                  % (r.returncode, r.stdout, r.stderr, outs[0].stdout))
            bad += 1
        else:
            print("ok   examples/gpt2_hf: %r" % r.stdout)
    return bad


def main():
    exe = sys.argv[1]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "hf")
        os.makedirs(out)
        vocab, merges = train(CORPUS, 300)
        ranks = {m: i for i, m in enumerate(merges)}
        with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in merges:
                f.write("%s %s\n" % (a, b))
        print("fixture: %d tokens, %d merges" % (len(vocab), len(merges)))
        # the same merges in a shuffled order: a merge's result may then
        # form pairs of lower rank than its own
        shuffled = os.path.join(tmp, "shuffled")
        os.makedirs(shuffled)
        order = list(merges)
        random.Random(5).shuffle(order)
        shuffled_ranks = {m: i for i, m in enumerate(order)}
        shutil.copy(os.path.join(out, "vocab.json"), shuffled)
        with open(os.path.join(shuffled, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            for a, b in order:
                f.write("%s %s\n" % (a, b))
        # a merge whose result pairs with the next id at a lower rank than
        # its own: "a b a b" merges both "a b" before "ab a" is seen
        crafted = os.path.join(tmp, "crafted")
        os.makedirs(crafted)
        crafted_merges = [("ab", "a"), ("a", "b")]
        crafted_vocab = {u: i for i, u in enumerate(sorted(B2U.values()))}
        crafted_vocab["ab"] = len(crafted_vocab)
        crafted_vocab["aba"] = len(crafted_vocab)
        with open(os.path.join(crafted, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(crafted_vocab, f, ensure_ascii=False)
        with open(os.path.join(crafted, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\nab a\na b\n")
        crafted_ranks = {m: i for i, m in enumerate(crafted_merges)}
        cases = [(out, vocab, ranks, t) for t in TEXTS + [CORPUS] + LONG]
        cases += [(shuffled, vocab, shuffled_ranks, t) for t in TEXTS + LONG]
        cases += [(crafted, crafted_vocab, crafted_ranks, t)
                  for t in [b"abab", b"ababab abab aab abba", b"ab" * 500 + b"a"]]
        names = {shuffled: "shuffled merges ", crafted: "crafted merges "}
        for k, (fixture, fixture_vocab, fixture_ranks, text) in enumerate(cases):
            want = encode(text, fixture_vocab, fixture_ranks)
            path = os.path.join(tmp, "text%d" % k)
            with open(path, "wb") as f:
                f.write(text)
            r = subprocess.run([exe, fixture, path], capture_output=True, text=True)
            lines = r.stdout.split("\n") if r.returncode == 0 else ["", ""]
            got = [int(v) for v in lines[0].split()] if r.returncode == 0 else None
            split = [len(p.encode("utf-8", "surrogateescape"))
                     for p in PATTERN.findall(text.decode("utf-8", "surrogateescape"))]
            got_split = [int(v) for v in lines[1].split()]
            ok = got == want and got_split == split
            if got_split != split:
                print("FAIL %r: pieces (byte lengths) %s, reference %s" % (text[:40], got_split, split))
            failures += not ok
            label = names.get(fixture, "") + repr(text[:40])
            if ok:
                print("ok   %s: %d ids" % (label, len(want)))
            else:
                print("FAIL %s: adjoint %s (%s), reference %s" % (label, got, r.stderr.strip(), want))
        failures += refusals(exe, tmp, vocab, merges)
        if len(sys.argv) > 2:
            failures += commands(sys.argv[2], tmp, out, encode(CORPUS, vocab, ranks))
    print("bpe_ref: %d failures" % failures)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
