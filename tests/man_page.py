#!/usr/bin/env python3
"""The manual page covers the program: every command that `adjoint --help`
lists has a section in docs/adjoint.1, and every option that a command's
--help prints is described there.  With groff installed, the page also
formats without a warning.

Usage: man_page.py ADJOINT_PROGRAM MAN_PAGE
"""
import re
import shutil
import subprocess
import sys


def helptext(prog, *args):
    r = subprocess.run([prog, *args], capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


def main():
    prog, page = sys.argv[1], sys.argv[2]
    src = open(page, encoding="utf-8").read()
    text = src.replace("\\-", "-").replace("\\fB", "").replace("\\fI", "").replace("\\fR", "")
    problems = []

    top = helptext(prog, "--help")
    block = top.split("commands:", 1)[1].split("\n\n", 1)[0]
    commands = [ln.split()[0] for ln in block.splitlines() if ln.strip()]
    if not commands:
        problems.append("adjoint --help lists no command")
    for cmd in commands:
        if not re.search(r'^\.SS "adjoint %s\b' % re.escape(cmd), src, re.M):
            problems.append('no section .SS "adjoint %s ..." in %s' % (cmd, page))
        texts = [helptext(prog, cmd, "--help")]
        # a command whose help names another --model's help documents that too
        for model in set(re.findall(r"adjoint %s --model (\w+) --help" % cmd, texts[0])):
            texts.append(helptext(prog, cmd, "--model", model, "--help"))
        for t in texts:
            for opt in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", t))):
                if opt in ("--help", "--knob"):
                    continue
                if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), text):
                    problems.append("%s's option %s is not in %s" % (cmd, opt, page))

    groff = shutil.which("groff")
    if groff:
        r = subprocess.run([groff, "-man", "-ww", "-z", page], capture_output=True, text=True)
        if r.returncode != 0 or r.stderr.strip():
            problems.append("groff warns:\n" + r.stderr)

    for p in problems:
        print(p)
    print("%d commands checked, %d problems" % (len(commands), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
