#!/usr/bin/python3
"""Print the BLIS_ARCH_TYPE number of a BLIS sub-configuration name ("skx",
"haswell", "zen3"...), read from the BLIS library itself (bli_arch_string),
so that another program's BLIS can be given the same kernels.

    blis_arch.py NAME

describe(): the BLIS kernels of a PyTorch benchmark process, for its
header line, from the environment run.sh gives it (BENCH_BLIS_ARCH, the
sub-configuration's name; BENCH_BLIS_FROM, who chose it: run.sh as
adjoint's, BLIS_ARCH_TYPE set by the user, or BLIS's own detection).
Nothing is loaded: a second BLIS in the process would add to its memory.
"""
import ctypes
import os
import sys


def describe(env=os.environ):
    name, how, num = env.get("BENCH_BLIS_ARCH"), env.get("BENCH_BLIS_FROM"), env.get("BLIS_ARCH_TYPE")
    if name and how == "run.sh":
        return "BLIS sub-configuration %s, chosen by run.sh as adjoint's (BLIS_ARCH_TYPE=%s)" % (name, num)
    if name and how == "BLIS_ARCH_TYPE":
        return "BLIS sub-configuration %s, chosen by BLIS_ARCH_TYPE=%s" % (name, num)
    if name:
        return "BLIS sub-configuration %s, chosen by BLIS's own detection" % name
    if num:
        return "BLIS_ARCH_TYPE=%s" % num
    return "BLIS sub-configuration chosen by BLIS's own detection"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lib = ctypes.CDLL("libblis.so.4")
    lib.bli_arch_string.restype = ctypes.c_char_p
    lib.bli_arch_string.argtypes = [ctypes.c_int]
    for i in range(64):
        name = lib.bli_arch_string(i)
        if name is None:
            break
        if name.decode() == sys.argv[1]:
            print(i)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
