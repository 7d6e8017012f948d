"""Agreement cases of the attention ops (built in agree_attn.c):
see ../torch_agree.py for the case format."""


def cases(torch, F):
    return []
