"""3x3 convolutions with stride 1 by Winograd's minimal filtering (Lavin and Gray, 2016).

The lecture's layer computes each output pixel from a 3x3 window: 9 products per input
channel per filter. Winograd's F(m x m, 3x3) computes an m x m tile of outputs from the
(m+2) x (m+2) input tile d that covers it with (m+2)² products instead of 9m²: F(2x2, 3x3)
16 instead of 36 (2.25x fewer), F(4x4, 3x3) 36 instead of 144 (4x fewer):

    Y = Aᵀ [ (G f Gᵀ) ⊙ (Bᵀ d B) ] A

``U = G f Gᵀ`` transforms a filter (3x3 -> α x α, α = m + 2, once per call), ``V = Bᵀ d B`` an
input tile, and ``Aᵀ M A`` brings the α x α products back to the m x m outputs. Summed over
input channels, the ⊙ becomes α² matrix products, one per tile position k:
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

Which tile: F(4x4) where its tiles cover the output with little waste (on a 32x32 output 64 tiles
of 36 products, against 256 of 16 for F(2x2)), else F(2x2) (``choose``). Float32 error: F(2x2)'s
transforms have coefficients 0, ±1 and ±1/2 (a few roundings of direct convolution, about 3e-7
relative here); F(4x4)'s reach 8 and 1/24, about 8e-6 relative on 128 channels
(``tests/test_winograd.py`` bounds both at 1e-4 against float64 on activations of realistic
scale). A NaN or inf input spreads to its whole tile (0·inf is NaN), a few outputs more than
direct convolution would make non-finite.

With 2x2 max pooling after the convolution (the lecture's conv -> relu -> pool), each tile's
outputs are pooled as they are computed (``output_tiles`` with a ``took``): the convolution's output
is never stored.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from . import compiled as _compiled
from . import scratch
from .compiled import compiled



class Tiling(NamedTuple):
    """One F(m x m, 3x3): its transforms Bᵀ (α x α), G (α x 3) and Aᵀ (m x α), α = m + 2."""
    bt: tuple
    g: tuple
    at: tuple

    @property
    def alpha(self) -> int:
        return len(self.bt)

    @property
    def m(self) -> int:
        return len(self.at)

    def tiles(self, out_hw) -> tuple[int, int]:
        """Tiles per image side: ceil(out / m)."""
        return -(-out_hw[0] // self.m), -(-out_hw[1] // self.m)

    def products(self, out_hw) -> int:
        """Products per image per input and output channel: tiles · α²."""
        th, tw = self.tiles(out_hw)
        return th * tw * self.alpha ** 2


# Lavin and Gray's transforms: F(2x2, 3x3) (their eq. 8) and F(4x4, 3x3) (their eq. 10)
F2 = Tiling(bt=((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1)),
            g=((1, 0, 0), (1 / 2, 1 / 2, 1 / 2), (1 / 2, -1 / 2, 1 / 2), (0, 0, 1)),
            at=((1, 1, 1, 0), (0, 1, -1, -1)))
F4 = Tiling(bt=((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0), (0, -2, -1, 2, 1, 0),
                (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1)),
            g=((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6), (1 / 24, 1 / 12, 1 / 6),
               (1 / 24, -1 / 12, 1 / 6), (0, 0, 1)),
            at=((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1)))


def choose(out_hw) -> Tiling:
    """F(4x4) where it saves about as many products as it can (at most 0.6x F(2x2)'s: both tilings
    cover the output with little waste), else F(2x2), whose transforms cost less and round less.
    Measured here (training step, one thread): VGG-small (32x32 and 16x16 outputs, 0.56x) 105-110 ms
    with F(4x4) against 122-137 with F(2x2); LeNet (10x10 outputs, 0.81x; 13x13 gradients, 0.73x)
    23-24 ms with F(2x2) against 25-28 with F(4x4)."""
    return F4 if F4.products(out_hw) <= 0.6 * F2.products(out_hw) else F2


@functools.lru_cache(maxsize=None)
def coefficients(matrix: tuple, dtype) -> tuple:
    """A transform as a tuple of tuples of ``dtype`` scalars: numba compiles one loop per tuple
    length, so the loops over a row below have a constant count that LLVM unrolls."""
    return tuple(tuple(np.dtype(dtype).type(c) for c in row) for row in matrix)


def filter_transform(f: np.ndarray, tiling: Tiling) -> np.ndarray:
    """U = G f Gᵀ for every filter: f (3, 3, C_in, C_out) -> U (α², C_in, C_out), k = α·row + column.
    As two products with G over all filters at once (np.einsum took 11 ms for 128 -> 256 channels)."""
    g, alpha = np.array(tiling.g, f.dtype), tiling.alpha
    rows = (g @ f.reshape(3, -1)).reshape(alpha, 3, -1)  # G f, every filter's columns side by side
    return np.ascontiguousarray((g @ rows).reshape(alpha * alpha, *f.shape[2:]))  # (G f) Gᵀ, per row


def filter_gradient(du: np.ndarray, tiling: Tiling) -> np.ndarray:
    """df = Gᵀ dU G: dU (α², C_in, C_out) -> df (3, 3, C_in, C_out)."""
    g, alpha = np.array(tiling.g, du.dtype), tiling.alpha
    rows = (g.T @ du.reshape(alpha, -1)).reshape(3, alpha, -1)  # Gᵀ dU
    return (g.T @ rows).reshape(3, 3, *du.shape[1:])             # (Gᵀ dU) G, per row


# The loops below run over the channel axis innermost (contiguous in NHWC), each writing one array
# with the sum over a transform's row inside (a constant count: unrolled): LLVM vectorises such a
# loop. The same sums of F(2x2) written as one loop body with 16 loads and 16 stores were not
# vectorised (too many pointers to check for overlap) and ran 10x slower (input tiles of
# 8x32x32x32: 3.3 against 0.33 ms); loops over a matrix's nonzero entries, adding into the
# output, ran 1.5-2x slower than these. A tile's α² values lie side by side (v[t]): stored by tile
# position instead (v[k], as the products read them), VGG-small's output tiles took 2.2x as long.


@compiled
def input_tiles(x, top, left, bt, tiles_h, tiles_w, v):
    """V = Bᵀ d B for every α x α tile d of x (images, H, W, C) zero-padded by ``top`` rows and ``left``
    columns (negative: cropped) and as far as the tiles reach: tile (i, j) starts at row m·i - top,
    column m·j - left. Into v (images·tiles_h·tiles_w, α², C), entry (a, b) of tile t at
    v[t, α·a + b]: a tile's values side by side, for the next loop to read together."""
    images, h, w, c = x.shape
    alpha = len(bt)
    step = alpha - 2
    width = step * tiles_w + 2  # the padded columns the tiles read
    e = np.zeros((alpha, width, c), x.dtype)  # columns outside x stay 0: never written
    rows = np.zeros((alpha, w, c), x.dtype)   # a tile row's input rows when some lie outside x
    first, last = max(0, -left), min(w, width - left)  # x's columns inside the padded width
    for n in range(images):
        for ti in range(tiles_h):
            r = step * ti - top
            if 0 <= r and r + alpha <= h:
                src = x[n, r:r + alpha]
            else:  # the padding's zero rows, copied around the rows of x (only at the image's edges)
                for i in range(alpha):
                    if 0 <= r + i < h:
                        rows[i] = x[n, r + i]
                    else:
                        rows[i] = 0
                src = rows
            for a in range(alpha):  # Bᵀ d for the whole row of tiles: e[a] = Σ_i Bᵀ[a, i] · row i
                coef = bt[a]
                for j in range(first, last):
                    for k in range(c):
                        acc = coef[0] * src[0, j, k]
                        for i in range(1, alpha):
                            acc += coef[i] * src[i, j, k]
                        e[a, j + left, k] = acc
            for tj in range(tiles_w):  # (Bᵀ d) B: the same on each tile's columns
                t, col = (n * tiles_h + ti) * tiles_w + tj, step * tj
                for a in range(alpha):
                    for b in range(alpha):
                        coef = bt[b]
                        for k in range(c):
                            acc = coef[0] * e[a, col, k]
                            for j in range(1, alpha):
                                acc += coef[j] * e[a, col + j, k]
                            v[t, alpha * a + b, k] = acc


@compiled
def output_tiles(mt, at, bias, relu, tiles_h, tiles_w, y, took):
    """Y = Aᵀ M A (+ bias, then max(·, 0) if ``relu``) for every tile: mt (images·tiles_h·tiles_w, α², C_out)
    -> y (images, out_h, out_w, C_out); outputs past out_h/out_w (a last part tile) are dropped.

    With a non-empty ``took`` (images, p_h, p_w, C_out), 2x2 max pooling at stride 2 follows in the
    same pass (m even, the tiles starting where the pooling windows do): y (images, p_h, p_w, C_out)
    gets each window's maximum (relu applied after it) and ``took`` the winner's position in its
    window (0-3, row-major), winners and NaNs as ``pooling_loops.max_pool_2x2`` picks them; the
    convolution's outputs never leave the tile's buffer."""
    images, y_h, y_w, c = y.shape
    step, alpha = len(at), len(at[0])
    pooled, half = took.size > 0, step // 2
    s = np.empty((step, alpha, c), mt.dtype)
    z = np.empty((step, step, c), mt.dtype)
    for n in range(images):
        for ti in range(tiles_h):
            for tj in range(tiles_w):
                t = (n * tiles_h + ti) * tiles_w + tj
                for i in range(step):  # Aᵀ M: s[i, b] = Σ_a Aᵀ[i, a] · M[a, b]
                    coef = at[i]
                    for b in range(alpha):
                        for k in range(c):
                            acc = coef[0] * mt[t, b, k]
                            for a in range(1, alpha):
                                acc += coef[a] * mt[t, alpha * a + b, k]
                            s[i, b, k] = acc
                for i in range(step):  # (Aᵀ M) A + b: the tile's outputs
                    for j in range(step):
                        coef = at[j]
                        for k in range(c):
                            acc = bias[k]
                            for b in range(alpha):
                                acc += coef[b] * s[i, b, k]
                            z[i, j, k] = acc
                if not pooled:  # the outputs inside the image
                    for i in range(min(step, y_h - step * ti)):
                        for j in range(min(step, y_w - step * tj)):
                            for k in range(c):
                                y[n, step * ti + i, step * tj + j, k] = max(z[i, j, k], 0) if relu else z[i, j, k]
                    continue
                for wi in range(min(half, y_h - half * ti)):  # the pooling windows inside the tile
                    for wj in range(min(half, y_w - half * tj)):
                        pi, pj = half * ti + wi, half * tj + wj
                        for k in range(c):
                            best, won = z[2 * wi, 2 * wj, k], 0
                            if not z[2 * wi, 2 * wj + 1, k] <= best and best == best:  # greater or NaN
                                best, won = z[2 * wi, 2 * wj + 1, k], 1
                            if not z[2 * wi + 1, 2 * wj, k] <= best and best == best:
                                best, won = z[2 * wi + 1, 2 * wj, k], 2
                            if not z[2 * wi + 1, 2 * wj + 1, k] <= best and best == best:
                                best, won = z[2 * wi + 1, 2 * wj + 1, k], 3
                            y[n, pi, pj, k] = max(best, 0) if relu else best
                            took[n, pi, pj, k] = won if best != -np.inf else 0


NO_POOLING = np.zeros((0, 0, 0, 0), np.int8)  # ``output_tiles``' took when no pooling follows


@compiled
def gradient_tiles(g, a_matrix, tiles_h, tiles_w, dmt):
    """dM = A dY Aᵀ for every m x m tile of dL/dY g (images, out_h, out_w, C_out) (zero past its edge)
    into dmt (images·tiles_h·tiles_w, α², C_out): the gradient of ``output_tiles``' sums.
    ``a_matrix`` is A (α x m), the transpose of ``output_tiles``' Aᵀ."""
    images, out_h, out_w, c = g.shape
    alpha, step = len(a_matrix), len(a_matrix[0])
    q = np.zeros((step, step, c), g.dtype)
    h = np.empty((alpha, step, c), g.dtype)
    for n in range(images):
        for ti in range(tiles_h):
            for tj in range(tiles_w):
                t = (n * tiles_h + ti) * tiles_w + tj
                rows, cols = min(step, out_h - step * ti), min(step, out_w - step * tj)
                for i in range(step):  # the tile's gradients, zeros past the edge
                    for j in range(step):
                        if i < rows and j < cols:
                            for k in range(c):
                                q[i, j, k] = g[n, step * ti + i, step * tj + j, k]
                        else:
                            for k in range(c):
                                q[i, j, k] = 0
                for a in range(alpha):  # A dY: h[a, j] = Σ_i A[a, i] · dY[i, j]
                    coef = a_matrix[a]
                    for j in range(step):
                        for k in range(c):
                            acc = coef[0] * q[0, j, k]
                            for i in range(1, step):
                                acc += coef[i] * q[i, j, k]
                            h[a, j, k] = acc
                for a in range(alpha):  # (A dY) Aᵀ: the same on each row's columns
                    for b in range(alpha):
                        coef = a_matrix[b]
                        for k in range(c):
                            acc = coef[0] * h[a, 0, k]
                            for j in range(1, step):
                                acc += coef[j] * h[a, j, k]
                            dmt[t, alpha * a + b, k] = acc


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
    """Values of one image's transformed tiles V (tiles, α², C_in) and products M (tiles, α², C_out)."""
    tiling = choose(out_hw)
    return tiling.products(out_hw) * (c_in + c_out)


def convolve(x: np.ndarray, u: np.ndarray, tiling: Tiling, bias: np.ndarray, relu: bool, top: int, left: int,
             y: np.ndarray) -> None:
    """y (images, out_h, out_w, C_out) = the 3x3 stride-1 convolution of x (images, H, W, C_in),
    zero-padded by ``top``/``left`` (and as far as needed on the other sides), with filters
    transformed for ``tiling`` u (α², C_in, C_out), + bias, then relu if asked: input tiles, α²
    products, output tiles."""
    images, out_h, out_w, c_out = y.shape
    th, tw = tiling.tiles((out_h, out_w))
    tiles_count, squares = images * th * tw, tiling.alpha ** 2
    v = scratch.buffer("winograd.v", (tiles_count, squares, x.shape[3]), y.dtype)
    mt = scratch.buffer("winograd.m", (tiles_count, squares, c_out), y.dtype)
    input_tiles(x, top, left, coefficients(tiling.bt, y.dtype), th, tw, v)
    np.matmul(v.transpose(1, 0, 2), u, out=mt.transpose(1, 0, 2))  # BLAS reads the strided views as they are
    output_tiles(mt, coefficients(tiling.at, y.dtype), bias, relu, th, tw, y, NO_POOLING)


def convolve_max_pooled(x: np.ndarray, u: np.ndarray, tiling: Tiling, bias: np.ndarray, relu: bool, top: int,
                        left: int, pooled: np.ndarray, took: np.ndarray) -> None:
    """``convolve`` of x (images, H, W, C_in) over the 2·p_h x 2·p_w outputs that 2x2 max pooling at
    stride 2 reads, pooled in the same pass (then relu if asked): into pooled and took
    (images, p_h, p_w, C_out). The convolution's output itself is never stored."""
    images, p_h, p_w, c_out = pooled.shape
    th, tw = tiling.tiles((2 * p_h, 2 * p_w))
    tiles_count, squares = images * th * tw, tiling.alpha ** 2
    v = scratch.buffer("winograd.v", (tiles_count, squares, x.shape[3]), pooled.dtype)
    mt = scratch.buffer("winograd.m", (tiles_count, squares, c_out), pooled.dtype)
    input_tiles(x, top, left, coefficients(tiling.bt, pooled.dtype), th, tw, v)
    np.matmul(v.transpose(1, 0, 2), u, out=mt.transpose(1, 0, 2))
    output_tiles(mt, coefficients(tiling.at, pooled.dtype), bias, relu, th, tw, pooled, took)


def filter_gradient_share(x: np.ndarray, g: np.ndarray, tiling: Tiling, top: int, left: int) -> np.ndarray:
    """dU (α², C_in, C_out) of a few images: Σ over their tiles of V[k]ᵀ · dM[k], from x (images, H, W, C_in)
    and dL/dZ g (images, out_h, out_w, C_out); in this thread's reused buffer."""
    images, out_h, out_w, c_out = g.shape
    th, tw = tiling.tiles((out_h, out_w))
    tiles_count, squares = images * th * tw, tiling.alpha ** 2
    v = scratch.buffer("winograd.v", (tiles_count, squares, x.shape[3]), g.dtype)
    dmt = scratch.buffer("winograd.m", (tiles_count, squares, c_out), g.dtype)
    input_tiles(x, top, left, coefficients(tiling.bt, g.dtype), th, tw, v)
    gradient_tiles(g, coefficients(tuple(zip(*tiling.at)), g.dtype), th, tw, dmt)
    du = scratch.buffer("winograd.du", (squares, x.shape[3], c_out), g.dtype)
    return np.matmul(v.transpose(1, 2, 0), dmt.transpose(1, 0, 2), out=du)
