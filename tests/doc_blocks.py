#!/usr/bin/env python3
"""The code a document quotes is the code the repository builds: every fenced
block right after a line

    <!-- verbatim: PATH -->

(PATH relative to the source root) must appear in PATH line for line, in
order.  A line of the block that is only `/* ... */` (indented or not) stands
for lines left out: the pieces around it must each appear, one after the
other.  Leading and trailing blank lines of a piece do not count; everything
else, indentation included, must match exactly.  A document with no marked
block fails too, so that a lost marker does not pass silently.

Usage: doc_blocks.py SOURCE_ROOT DOC...
"""
import os
import re
import sys

MARK = re.compile(r"^<!-- verbatim: (\S+) -->\s*$")
ELIDE = re.compile(r"^\s*/\* \.\.\. \*/\s*$")


def blocks(lines):
    """(line number of the marker, PATH, the block's lines) for each marked block."""
    out, i = [], 0
    while i < len(lines):
        m = MARK.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j >= len(lines) or not lines[j].startswith("```"):
            out.append((i + 1, m.group(1), None))
            i = j
            continue
        k = j + 1
        while k < len(lines) and not lines[k].startswith("```"):
            k += 1
        out.append((i + 1, m.group(1), lines[j + 1:k]))
        i = k + 1
    return out


def pieces(block):
    cur, out = [], []
    for ln in block + ["/* ... */"]:
        if ELIDE.match(ln):
            while cur and not cur[0].strip():
                cur.pop(0)
            while cur and not cur[-1].strip():
                cur.pop()
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(ln)
    return out


def find(src, piece, start):
    """The index in src after the first run equal to piece at or after start, or -1."""
    n = len(piece)
    for at in range(start, len(src) - n + 1):
        if src[at:at + n] == piece:
            return at + n
    return -1


def main():
    root, docs = sys.argv[1], sys.argv[2:]
    problems, count = [], 0
    for doc in docs:
        lines = open(doc, encoding="utf-8").read().split("\n")
        found = blocks(lines)
        if not found:
            problems.append("%s: no <!-- verbatim: PATH --> block" % doc)
        for line, path, block in found:
            where = "%s:%d" % (os.path.relpath(doc, root), line)
            if block is None:
                problems.append("%s: the marker is not followed by a fenced block" % where)
                continue
            full = os.path.join(root, path)
            if not os.path.isfile(full):
                problems.append("%s: %s does not exist" % (where, path))
                continue
            src = open(full, encoding="utf-8").read().split("\n")
            at = 0
            for p in pieces(block):
                nxt = find(src, p, at)
                if nxt < 0:
                    first = next((ln for ln in p if ln.strip()), "")
                    problems.append("%s: the block's lines from %r on are not in %s as quoted "
                                    "(or not in this order)" % (where, first.strip(), path))
                    break
                at = nxt
            count += 1
    for p in problems:
        print(p)
    print("%d quoted blocks checked, %d problems" % (count, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
