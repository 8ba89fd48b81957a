"""Winograd F(2×2, 3×3): the 3×3 stride-1 convolution with 2.25× fewer multiplications.

The lecture's layer ``Z[i, j, r] = sum_{i', j', k} x[i+i', j+j', k] · f[i', j', k, r]`` computed
on 2×2 output tiles from 4×4 input tiles (Lavin & Gray, 2016):

    Y = Aᵀ [ (G f Gᵀ) ⊙ (Bᵀ d B) ] A

per channel pair, where the elementwise product over the 16 tile positions becomes 16
matrix products over channels: ``M[ξ] = V[ξ] · U[ξ]`` with V (tiles, C_in) and
U (C_in, C_out). Direct im2col does 9 multiply-adds per output and channel pair, this
does 16 per 2×2 tile, i.e. 4. The input and output transforms are additions of
strided views, done on cache-sized batch chunks in reused buffers so they stay
cheap. Float32 error grows by a small constant factor over direct summation (tests
bound it against the reference kernel).
"""
from __future__ import annotations

import numpy as np

from . import scratch
from .parallel import map_chunks

CHUNK_BYTES = 3 * 2**20  # V and M buffers of one chunk: about a core's share of L2/L3

# G f Gᵀ for a 3×3 filter f, as 4×3 matrices
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def transform_kernel(w: np.ndarray) -> np.ndarray:
    """(3, 3, C_in, C_out) -> U (16, C_in, C_out) = G f Gᵀ per channel pair, ξ = 4·row + col."""
    u = np.einsum("ai,ijkr,bj->abkr", _G, w.astype(np.float64), _G)
    return np.ascontiguousarray(u.reshape(16, *w.shape[2:]).astype(w.dtype))


def _input_transform(xp: np.ndarray, tiles_hw: tuple[int, int], v: np.ndarray) -> None:
    """V[ξ] = (Bᵀ d B)[ξ] for every 4×4 tile d of xp (m, 2·th+2, 2·tw+2, C), written into v (16, m·th·tw, C).

    Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], applied to rows then columns.
    """
    th, tw = tiles_hw
    m, _, wp, c = xp.shape
    rows = [xp[:, r:r + 2 * th:2] for r in range(4)]  # (m, th, wp, C) views: tile row r of every tile
    t = scratch.buffer("winograd.t", (4, m, th, wp, c), xp.dtype)
    np.subtract(rows[0], rows[2], out=t[0])
    np.add(rows[1], rows[2], out=t[1])
    np.subtract(rows[2], rows[1], out=t[2])
    np.subtract(rows[1], rows[3], out=t[3])
    v6 = v.reshape(4, 4, m, th, tw, c)
    for a in range(4):
        cols = [t[a][:, :, q:q + 2 * tw:2] for q in range(4)]
        np.subtract(cols[0], cols[2], out=v6[a, 0])
        np.add(cols[1], cols[2], out=v6[a, 1])
        np.subtract(cols[2], cols[1], out=v6[a, 2])
        np.subtract(cols[1], cols[3], out=v6[a, 3])


def _output_transform(mm: np.ndarray, out: np.ndarray, tiles_hw: tuple[int, int]) -> None:
    """out (m, H', W', C_out) from M (16, m·th·tw, C_out) by Aᵀ M A, Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]."""
    th, tw = tiles_hw
    m, h_out, w_out, k = out.shape
    m6 = mm.reshape(4, 4, m, th, tw, k)
    s = scratch.buffer("winograd.s", (2, 4, m, th, tw, k), mm.dtype)
    for b in range(4):  # rows of Aᵀ over the first tile axis
        np.add(m6[0, b], m6[1, b], out=s[0, b])
        s[0, b] += m6[2, b]
        np.subtract(m6[1, b], m6[2, b], out=s[1, b])
        s[1, b] -= m6[3, b]
    full = (h_out == 2 * th) and (w_out == 2 * tw)
    target = out if full else scratch.buffer("winograd.y", (m, 2 * th, 2 * tw, k), out.dtype)
    for a in range(2):  # ... then over the second
        y0 = target[:, a::2, 0::2]
        np.add(s[a, 0], s[a, 1], out=y0)
        y0 += s[a, 2]
        y1 = target[:, a::2, 1::2]
        np.subtract(s[a, 1], s[a, 2], out=y1)
        y1 -= s[a, 3]
    if not full:  # an odd output size: the last tile row/column was computed past the edge
        out[...] = target[:, :h_out, :w_out]


def winograd_conv2d(xp: np.ndarray, u: np.ndarray, out_hw: tuple[int, int], out: np.ndarray) -> None:
    """3×3, stride 1, dilation 1 correlation of the padded batch xp (N, Hp, Wp, C_in) with the
    transformed kernel u (16, C_in, C_out), written into out (N, out_h, out_w, C_out)."""
    n, hp, wp, c_in = xp.shape
    c_out = u.shape[2]
    th, tw = -(-out_hw[0] // 2), -(-out_hw[1] // 2)
    need_h, need_w = 2 * th + 2, 2 * tw + 2
    per_image = 16 * th * tw * (c_in + c_out) * xp.itemsize
    chunk = max(1, min(n, CHUNK_BYTES // per_image))

    def chunk_conv(start: int, stop: int) -> None:
        m = stop - start
        src = xp[start:stop]
        if (hp, wp) != (need_h, need_w):  # tiles overhang an odd edge: extend with zeros
            ext = scratch.buffer("winograd.ext", (m, need_h, need_w, c_in), xp.dtype)
            ext[:, hp:] = 0
            ext[:, :hp, wp:] = 0
            ext[:, :hp, :wp] = src[:, :need_h, :need_w]
            src = ext
        v = scratch.buffer("winograd.v", (16, m * th * tw, c_in), xp.dtype)
        _input_transform(src, (th, tw), v)
        mm = scratch.buffer("winograd.m", (16, m * th * tw, c_out), xp.dtype)
        np.matmul(v, u, out=mm)
        _output_transform(mm, out[start:stop], (th, tw))
    map_chunks(chunk_conv, n, chunk)
