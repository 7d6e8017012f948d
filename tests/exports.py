#!/usr/bin/env python3
"""The shared libraries export exactly the public API.

Usage: exports.py --nm NM --headers INCLUDE_DIR LIB...

Reads every function prototype at file level in INCLUDE_DIR/adjoint/*.h,
fails if one does not start with ADJ_API (it would be hidden from the
shared library), then lists each LIB's dynamic symbols with
`nm -D --defined-only` and fails if a library exports a name that no public
header declares (an internal function leaking into the ABI) or if a
declared name is exported by none of them (a prototype without a
definition).  Names that start with an underscore belong to the toolchain
(_init, __bss_start, sanitizer runtimes) and are ignored.
"""
import argparse
import glob
import os
import re
import subprocess
import sys


def strip(src):
    """Comments and preprocessor lines removed, newlines kept."""
    src = re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'), src, flags=re.S)
    src = re.sub(r'//[^\n]*', '', src)
    src = re.sub(r'^[ \t]*#(?:[^\n]*\\\n)*[^\n]*', '', src, flags=re.M)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', src)


def statements(src):
    """File-level statements ending in ';' (struct, enum and extern "C"
    bodies skipped as units)."""
    out, cur, depth = [], [], 0
    for tok in re.split(r'([{};])', strip(src)):
        if tok == '{':
            if depth == 0 and ''.join(cur).strip() == 'extern ""':
                cur = []
                continue
            depth += 1
        elif tok == '}':
            if depth == 0:       # the close of extern "C"
                cur = []
                continue
            depth -= 1
        elif tok == ';' and depth == 0:
            out.append(' '.join(''.join(cur).split()))
            cur = []
            continue
        if depth == 0 and tok not in '{}':
            cur.append(tok)
    return out


DECL = re.compile(r'\(?\s*\b([A-Za-z_]\w*)\s*\)?\s*\(')
# a function declared under its macro's name: `int (adj_split)(...)`
PAREN_DECL = re.compile(r'\(\s*([A-Za-z_]\w*)\s*\)\s*\(')


def prototypes(path):
    """(name, has ADJ_API) for every function prototype in one header."""
    res = []
    with open(path, encoding='utf-8') as f:
        for st in statements(f.read()):
            if not st or st.startswith(('typedef', 'struct', 'enum', 'union')):
                continue
            words = st.split()
            api = words[0] == 'ADJ_API'
            text = ' '.join(words[1:]) if api else st
            m = PAREN_DECL.search(text) or DECL.search(text)
            if m:
                res.append((m.group(1), api))
    return res


def exported(nm, lib):
    out = subprocess.run([nm, '-D', '--defined-only', lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            names.add(parts[2].split('@')[0])
    return {n for n in names if not n.startswith('_')}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nm', required=True)
    ap.add_argument('--headers', required=True)
    ap.add_argument('libs', nargs='+')
    a = ap.parse_args()

    declared, bad = set(), []
    headers = sorted(glob.glob(os.path.join(a.headers, 'adjoint', '*.h')))
    headers.append(os.path.join(a.headers, 'adjoint.h'))
    for h in headers:
        for name, api in prototypes(h):
            declared.add(name)
            if not api:
                bad.append('%s: %s is declared without ADJ_API' % (os.path.basename(h), name))
            if not name.startswith('adj_'):
                bad.append('%s: public function %s lacks the adj_ prefix'
                           % (os.path.basename(h), name))
    if len(declared) < 50:
        bad.append('only %d public prototypes found under %s: parser broken?'
                   % (len(declared), a.headers))

    everything = set()
    for lib in a.libs:
        names = exported(a.nm, lib)
        everything |= names
        for n in sorted(names - declared):
            bad.append('%s exports %s, which no public header declares'
                       % (os.path.basename(lib), n))
    have_dist = any('adjoint_dist' in os.path.basename(lib) for lib in a.libs)
    for n in sorted(declared - everything):
        if n.startswith('adj_dist_') and not have_dist:
            continue
        bad.append('%s is declared in a public header but exported by no library' % n)

    for b in bad:
        print(b)
    print('%d public prototypes, %d exported names checked' % (len(declared), len(everything)))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
