"""Agreement cases of the convolution and pooling ops (built in agree_conv.c):
see ../torch_agree.py for the case format."""


def cases(torch, F):
    return []
