"""Agreement cases of the normalisation ops (built in agree_norm.c): see
../torch_agree.py for the case format."""


def cases(torch, F):
    return []
