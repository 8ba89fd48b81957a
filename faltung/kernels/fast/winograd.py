"""3x3 convolutions with stride 1 by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, 2016).

The lecture's layer computes each output pixel from a 3x3 window: 9 products per input
channel per filter. Winograd computes a 2x2 tile of outputs from the 4x4 input tile d
that covers it with 16 products instead of 36 (2.25x fewer):

    Y = Aᵀ [ (G f Gᵀ) ⊙ (Bᵀ d B) ] A

``U = G f Gᵀ`` transforms a filter (3x3 -> 4x4, once per call), ``V = Bᵀ d B`` an input tile
(4x4 -> 4x4, additions only), and ``Aᵀ M A`` brings the 4x4 products back to the 2x2 outputs.
Summed over input channels, the ⊙ becomes 16 matrix products, one per tile position k:
``M[k] = V[k] · U[k]`` with V[k] (tiles, C_in) and U[k] (C_in, C_out), done by BLAS.

Measured here, Winograd in three passes over the whole batch is slower than PyTorch (the
transforms' traffic through main memory costs as much as the products save), so the fast
kernels run it a block of images at a time: transform, products and back-transform while
the block's tiles are in cache. The transforms are compiled loops (``compiled``) with the
channel axis innermost, where LLVM vectorises them.

The same machinery gives the whole backward pass:

- dL/dx is a convolution of the zero-padded dL/dZ with the filters rotated by 180° and
  their channel axes swapped: the forward again, with other pads and filters;
- dL/df: Y = Aᵀ M A gives dM = A dY Aᵀ per output tile, M[k] = V[k] · U[k] gives
  dU[k] = V[k]ᵀ · dM[k] (summed over tiles: long products BLAS runs well), and
  U = G f Gᵀ gives df = Gᵀ dU G.

Float32 error: the transforms have coefficients 0, ±1 and ±1/2, so the results stay within a
few float32 roundings of direct convolution (``tests/test_winograd.py`` bounds the relative
error at 1e-5 against float64 on activations of realistic scale; the issue asks for 1e-4).
"""
from __future__ import annotations

import numpy as np

from . import scratch
from . import compiled as _compiled
from .compiled import compiled
from .scratch import pad_or_crop

# The transforms of F(2x2, 3x3) (Lavin and Gray, eq. 8); Bᵀ and Aᵀ appear unrolled in the loops below.
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
TILE = 2  # outputs per tile side; a tile reads 4x4 inputs


def filter_transform(f: np.ndarray) -> np.ndarray:
    """U = G f Gᵀ for every filter: f (3, 3, C_in, C_out) -> U (16, C_in, C_out), k = 4·row + column.
    As two products with G over all filters at once (np.einsum took 11 ms for 128 -> 256 channels)."""
    g = G.astype(f.dtype)
    rows = (g @ f.reshape(3, -1)).reshape(4, 3, -1)  # G f, every filter's columns side by side
    return np.ascontiguousarray((g @ rows).reshape(16, *f.shape[2:]))  # (G f) Gᵀ, per row of G f


def filter_gradient(du: np.ndarray) -> np.ndarray:
    """df = Gᵀ dU G: dU (16, C_in, C_out) -> df (3, 3, C_in, C_out)."""
    g = G.astype(du.dtype)
    rows = (g.T @ du.reshape(4, -1)).reshape(3, 4, -1)  # Gᵀ dU
    return (g.T @ rows).reshape(3, 3, *du.shape[1:])     # (Gᵀ dU) G, per row


# The loops below run over the channel axis innermost (contiguous in NHWC), each reading two or
# three arrays and writing one: LLVM vectorises such a loop; the same sums written as one loop
# body with 16 loads and 16 stores were not vectorised (too many pointers to check for overlap)
# and ran 10x slower (input tiles of 8x32x32x32: 3.3 against 0.33 ms).


@compiled
def input_tiles(xp, tiles_h, tiles_w, v):
    """V = Bᵀ d B for every 4x4 tile d of the padded input xp (m, ≥ 2·tiles_h + 2, ≥ 2·tiles_w + 2, C),
    tile (i, j) starting at row 2i, column 2j: into v (16, m·tiles_h·tiles_w, C), row 4·a + b
    holding entry (a, b) of every tile."""
    m, h, w, c = xp.shape
    e = np.empty((4, w, c), xp.dtype)
    for n in range(m):
        for ti in range(tiles_h):
            r = 2 * ti
            for j in range(w):  # Bᵀ d for the whole tile row: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3
                for k in range(c):
                    e[0, j, k] = xp[n, r, j, k] - xp[n, r + 2, j, k]
                for k in range(c):
                    e[1, j, k] = xp[n, r + 1, j, k] + xp[n, r + 2, j, k]
                for k in range(c):
                    e[2, j, k] = xp[n, r + 2, j, k] - xp[n, r + 1, j, k]
                for k in range(c):
                    e[3, j, k] = xp[n, r + 1, j, k] - xp[n, r + 3, j, k]
            for tj in range(tiles_w):  # (Bᵀ d) B: the same combinations of each tile's four columns
                t, col = (n * tiles_h + ti) * tiles_w + tj, 2 * tj
                for a in range(4):
                    for k in range(c):
                        v[4 * a, t, k] = e[a, col, k] - e[a, col + 2, k]
                    for k in range(c):
                        v[4 * a + 1, t, k] = e[a, col + 1, k] + e[a, col + 2, k]
                    for k in range(c):
                        v[4 * a + 2, t, k] = e[a, col + 2, k] - e[a, col + 1, k]
                    for k in range(c):
                        v[4 * a + 3, t, k] = e[a, col + 1, k] - e[a, col + 3, k]


@compiled
def output_tiles(mt, bias, relu, tiles_h, tiles_w, y):
    """Y = Aᵀ M A (+ bias, then max(·, 0) if ``relu``) for every tile: mt (16, m·tiles_h·tiles_w, C_out)
    -> y (m, out_h, out_w, C_out); outputs past out_h/out_w (a last half tile) are dropped."""
    m, out_h, out_w, c = y.shape
    s = np.empty((2, 4, c), mt.dtype)
    z = np.empty((2, 2, c), mt.dtype)
    for n in range(m):
        for ti in range(tiles_h):
            for tj in range(tiles_w):
                t = (n * tiles_h + ti) * tiles_w + tj
                for j in range(4):  # Aᵀ M: rows m0 + m1 + m2 and m1 - m2 - m3
                    for k in range(c):
                        s[0, j, k] = mt[j, t, k] + mt[4 + j, t, k] + mt[8 + j, t, k]
                    for k in range(c):
                        s[1, j, k] = mt[4 + j, t, k] - mt[8 + j, t, k] - mt[12 + j, t, k]
                for i in range(2):  # (Aᵀ M) A: the same on each row's columns, + b
                    for k in range(c):
                        z[i, 0, k] = s[i, 0, k] + s[i, 1, k] + s[i, 2, k] + bias[k]
                    for k in range(c):
                        z[i, 1, k] = s[i, 1, k] - s[i, 2, k] - s[i, 3, k] + bias[k]
                for i in range(min(2, out_h - 2 * ti)):
                    for j in range(min(2, out_w - 2 * tj)):
                        if relu:
                            for k in range(c):
                                y[n, 2 * ti + i, 2 * tj + j, k] = max(z[i, j, k], 0)
                        else:
                            for k in range(c):
                                y[n, 2 * ti + i, 2 * tj + j, k] = z[i, j, k]


@compiled
def gradient_tiles(g, tiles_h, tiles_w, dmt):
    """dM = A dY Aᵀ for every 2x2 tile of dL/dY g (m, out_h, out_w, C_out) (zero past its edge)
    into dmt (16, m·tiles_h·tiles_w, C_out): the gradient of ``output_tiles``' sums."""
    m, out_h, out_w, c = g.shape
    q = np.zeros((2, 2, c), g.dtype)
    h = np.empty((4, 2, c), g.dtype)
    for n in range(m):
        for ti in range(tiles_h):
            for tj in range(tiles_w):
                t = (n * tiles_h + ti) * tiles_w + tj
                rows, cols = min(2, out_h - 2 * ti), min(2, out_w - 2 * tj)
                for i in range(2):  # the tile's 2x2 gradients, zeros past the edge
                    for j in range(2):
                        if i < rows and j < cols:
                            for k in range(c):
                                q[i, j, k] = g[n, 2 * ti + i, 2 * tj + j, k]
                        else:
                            for k in range(c):
                                q[i, j, k] = 0
                for j in range(2):  # A dY: rows g0, g0 + g1, g0 - g1, -g1
                    for k in range(c):
                        h[0, j, k] = q[0, j, k]
                    for k in range(c):
                        h[1, j, k] = q[0, j, k] + q[1, j, k]
                    for k in range(c):
                        h[2, j, k] = q[0, j, k] - q[1, j, k]
                    for k in range(c):
                        h[3, j, k] = -q[1, j, k]
                for a in range(4):  # (A dY) Aᵀ: the same combinations of each row's two columns
                    for k in range(c):
                        dmt[4 * a, t, k] = h[a, 0, k]
                    for k in range(c):
                        dmt[4 * a + 1, t, k] = h[a, 0, k] + h[a, 1, k]
                    for k in range(c):
                        dmt[4 * a + 2, t, k] = h[a, 0, k] - h[a, 1, k]
                    for k in range(c):
                        dmt[4 * a + 3, t, k] = -h[a, 1, k]


# Input and output channels both at least this: measured here (32x32xC_in->C_out, batch 64, forward +
# backward, against im2col): C_in 3 16.6 vs 16.6 ms, 4 16.1 vs 17.8, 8 17.0 vs 23.2; C_out 8 15.1 vs 24.4.
MIN_CHANNELS = 4


def applies(w_shape, strides, dilation) -> bool:
    """Whether a convolution with filters w_shape (kh, kw, C_in, C_out) runs by Winograd here: 3x3
    filters, stride 1, no dilation, enough channels, and numba to compile the transforms (without
    it, im2col, said once)."""
    if tuple(w_shape[:2]) != (3, 3) or tuple(strides) != (1, 1) or tuple(dilation) != (1, 1) \
            or min(w_shape[2:]) < MIN_CHANNELS:
        return False
    if not _compiled.available():
        _compiled.say_fallback()
        return False
    return True


def tile_values(out_hw, c_in: int, c_out: int) -> int:
    """Values of one image's transformed tiles V (16, tiles, C_in) and products M (16, tiles, C_out)."""
    th, tw = tiles(out_hw)
    return 16 * th * tw * (c_in + c_out)


def tiles(out_hw) -> tuple[int, int]:
    """Tiles per image side: ceil(out / 2)."""
    return (out_hw[0] + TILE - 1) // TILE, (out_hw[1] + TILE - 1) // TILE


def padded(x: np.ndarray, top: int, left: int, tiles_hw) -> np.ndarray:
    """x (m, H, W, C) zero-padded by ``top``/``left`` (negative: cropped) and on the far sides to
    the 2·tiles + 2 rows and columns the tiles read: this thread's reused buffer."""
    rows, cols = 2 * tiles_hw[0] + 2, 2 * tiles_hw[1] + 2
    return pad_or_crop(x, ((top, rows - x.shape[1] - top), (left, cols - x.shape[2] - left)), "winograd.xp")


def convolve(x: np.ndarray, u: np.ndarray, bias: np.ndarray, relu: bool, top: int, left: int,
             y: np.ndarray) -> None:
    """y (m, out_h, out_w, C_out) = the 3x3 stride-1 convolution of x (m, H, W, C_in), zero-padded by
    ``top``/``left`` (and as far as needed on the other sides), with transformed filters u
    (16, C_in, C_out), + bias, then relu if asked: input tiles, 16 products, output tiles."""
    m, out_h, out_w, c_out = y.shape
    th, tw = tiles((out_h, out_w))
    v = scratch.buffer("winograd.v", (16, m * th * tw, x.shape[3]), y.dtype)
    mt = scratch.buffer("winograd.m", (16, m * th * tw, c_out), y.dtype)
    input_tiles(padded(x, top, left, (th, tw)), th, tw, v)
    np.matmul(v, u, out=mt)
    output_tiles(mt, bias, relu, th, tw, y)


def filter_gradient_share(x: np.ndarray, g: np.ndarray, top: int, left: int) -> np.ndarray:
    """dU (16, C_in, C_out) of a few images: Σ over their tiles of V[k]ᵀ · dM[k], from x (m, H, W, C_in)
    and dL/dZ g (m, out_h, out_w, C_out); in this thread's reused buffer."""
    m, out_h, out_w, c_out = g.shape
    th, tw = tiles((out_h, out_w))
    v = scratch.buffer("winograd.v", (16, m * th * tw, x.shape[3]), g.dtype)
    dmt = scratch.buffer("winograd.m", (16, m * th * tw, c_out), g.dtype)
    input_tiles(padded(x, top, left, (th, tw)), th, tw, v)
    gradient_tiles(g, th, tw, dmt)
    return np.matmul(v.transpose(0, 2, 1), dmt, out=scratch.buffer("winograd.du", (16, x.shape[3], c_out), g.dtype))
