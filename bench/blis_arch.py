#!/usr/bin/python3
"""Print the BLIS_ARCH_TYPE number of a BLIS sub-configuration name ("skx",
"haswell", "zen3"...), read from the BLIS library itself (bli_arch_string),
so that another program's BLIS can be given the same kernels.

    blis_arch.py NAME
"""
import ctypes
import sys


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
