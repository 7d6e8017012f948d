#!/usr/bin/env python3
"""No code takes the size of a node's shape.

Usage: node_shapes.py SRC_DIR

A node's shape (adj_cold(v)->shape) is a pointer to its ndim sizes: kept
in the node's cold part up to 4 dimensions, in the arena beyond.  Its
sizeof is that of a pointer, so `memcpy(adj_cold(y)->shape, s, sizeof
adj_cold(y)->shape)` copies one size, not a shape.  Copy ndim sizes, or
use adj_shape_from / adj_shape_set (src/core/tape.h) in a shape rule.
"""
import os
import re
import sys

SIZEOF = re.compile(r'sizeof\s*\(?\s*(adj_cold\s*\((?:[^()]|\([^()]*\))*\)|\b[xyc]?c|\binfo)\s*->\s*shape\b')


def main():
    root = sys.argv[1]
    bad, files = [], 0
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            if not n.endswith(('.c', '.h')):
                continue
            files += 1
            path = os.path.join(dirpath, n)
            with open(path, encoding='utf-8') as f:
                for no, line in enumerate(f, 1):
                    if SIZEOF.search(line):
                        bad.append('%s:%d: sizeof of a shape pointer: copy ndim sizes'
                                   % (os.path.relpath(path, root), no))
    for b in bad:
        print(b)
    print('%d files checked, %d sizeof of a shape found' % (files, len(bad)))
    return 1 if bad or files == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
