#!/usr/bin/env python3
"""Generic code names no op.

Usage: generic_names.py SRC_DIR

Fails if a C file under SRC_DIR/core, SRC_DIR/tensor, SRC_DIR/tape,
SRC_DIR/check or SRC_DIR/teach names an op: an enum value ADJ_OP_<NAME>
(other than ADJ_OP_COUNT and ADJ_OP_LIST) or a descriptor adj_desc_<name>.
What generic code needs to know about an op is a field or hook of its
descriptor (src/ops/op.h).  Comments count too: a comment that names an op
is usually a sign of code that depends on it.
"""
import os
import re
import sys

GENERIC = ('core', 'tensor', 'tape', 'check', 'teach')
NAMED = re.compile(r'\bADJ_OP_(?!COUNT\b|LIST\b)[A-Z0-9_]+\b|\badj_desc_\w+')


def main():
    root = sys.argv[1]
    bad, files = [], 0
    for area in GENERIC:
        top = os.path.join(root, area)
        for dirpath, _, names in os.walk(top):
            for n in sorted(names):
                if not n.endswith(('.c', '.h')):
                    continue
                files += 1
                path = os.path.join(dirpath, n)
                with open(path, encoding='utf-8') as f:
                    for no, line in enumerate(f, 1):
                        for m in NAMED.finditer(line):
                            bad.append('%s:%d: names the op %s: use a descriptor field or hook'
                                       % (os.path.relpath(path, root), no, m.group(0)))
    for b in bad:
        print(b)
    print('%d generic files checked, %d op names found' % (files, len(bad)))
    if files == 0:
        print('no generic sources under %s' % root)
        return 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
