"""Shared test helpers: the PyTorch oracle (skipped cleanly where torch is absent)."""
import numpy as np
import pytest


@pytest.fixture(scope="session")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def tf_same_pads(n, k, s, d=1):
    """TensorFlow's 'same' rule, written independently of faltung.kernels.padding."""
    k_eff = d * (k - 1) + 1
    out = -(-n // s)
    total = max((out - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


def random_geometry(rng, max_size=16):
    """A random conv case: sizes 1..16 (non-square), kernels 1..5 (even, rectangular), strides and
    dilations 1..3 (also unequal), and every padding form."""
    kh, kw = rng.integers(1, 6, size=2)
    sh, sw = rng.integers(1, 4, size=2)
    dh, dw = rng.integers(1, 4, size=2)
    h, w = rng.integers(1, max_size + 1, size=2)
    form = rng.integers(0, 4)
    if form == 0:
        padding = "valid"
    elif form == 1:
        padding = "same"
    elif form == 2:
        padding = int(rng.integers(0, 3))
    else:
        padding = tuple(tuple(int(v) for v in rng.integers(0, 4, size=2)) for _ in range(2))
    return dict(kernel=(int(kh), int(kw)), strides=(int(sh), int(sw)), dilation=(int(dh), int(dw)),
                hw=(int(h), int(w)), padding=padding)


def explicit_pads(padding, hw, kernel, strides, dilation):
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return tuple(tf_same_pads(n, k, s, d) for n, k, s, d in zip(hw, kernel, strides, dilation))
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    return padding


def out_len(n, k, s, d, before, after):
    k_eff = d * (k - 1) + 1
    return (n + before + after - k_eff) // s + 1 if n + before + after >= k_eff else 0
