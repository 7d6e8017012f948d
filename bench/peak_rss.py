#!/usr/bin/python3
"""Run a command as a child process, pass its standard output through, then
print one more JSON line with the child's peak resident set size, measured
from outside the same way for every engine (getrusage RUSAGE_CHILDREN,
ru_maxrss, KiB on Linux).

    peak_rss.py MODEL COMMAND [ARGS...]

prints {"workload": "peak_rss", "model": MODEL, "peak_rss_mib": X}; exits
with the child's status.
"""
import json
import resource
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    model, cmd = sys.argv[1], sys.argv[2:]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(p.stdout)
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"workload": "peak_rss", "model": model, "peak_rss_mib": round(kib / 1024.0, 1)}))
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
