"""A synthetic dataset of strokes and corners, drawn from a seed with no files at all.

In the spirit of the lecture's "lower left corner" filter: ten classes of bright line
shapes (lines in four orientations, corners in four orientations, a cross, a box outline)
at random positions, sizes, thicknesses and contrasts on a noisy background. Returned like
MNIST, ``((x_train, y_train), (x_test, y_test))`` with x uint8 ``(N, size, size)``, so the same
code trains on either. Each image is the union of at most four anti-aliased segments,
rendered for a chunk of images at once.
"""
from __future__ import annotations

import numpy as np

CLASS_NAMES = ["vertical line", "horizontal line", "diagonal line", "anti-diagonal line",
               "lower-left corner", "lower-right corner", "upper-left corner", "upper-right corner",
               "cross", "box"]
_SEGMENTS = 4          # a box needs four; other classes leave slots empty
_CHUNK = 1024          # images rendered at once: bounded memory (~ chunk * segments * size² floats)


def load_data(n_train: int = 10000, n_test: int = 2000, image_size: int = 28, seed: int = 0,
              noise: float = 0.1) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``((x_train, y_train), (x_test, y_test))``: x uint8 ``(N, image_size, image_size)``, y uint8 ``(N,)``.

    Classes are balanced (counts differ by at most one) and shuffled. The same ``seed`` gives
    the same arrays, and the test set does not depend on ``n_train``. ``noise`` is the standard
    deviation of the Gaussian pixel noise as a fraction of 255.

    >>> (x, y), _ = load_data(n_train=100, n_test=10, seed=1)
    >>> x.shape, x.dtype, CLASS_NAMES[y[0]] in CLASS_NAMES
    ((100, 28, 28), dtype('uint8'), True)
    """
    for arg, value, low in (("n_train", n_train, 0), ("n_test", n_test, 0), ("image_size", image_size, 12)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{arg} must be an int >= {low}; got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    if not (isinstance(noise, (int, float, np.floating)) and 0 <= noise <= 1):
        raise ValueError(f"noise must be a number in [0, 1]; got {noise!r}")
    train_seq, test_seq = np.random.SeedSequence(int(seed)).spawn(2)
    return (_generate(int(n_train), int(image_size), float(noise), np.random.default_rng(train_seq)),
            _generate(int(n_test), int(image_size), float(noise), np.random.default_rng(test_seq)))


def _generate(n: int, size: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.permutation(np.arange(n) % len(CLASS_NAMES)).astype(np.uint8)
    p0, p1, active = _segments(labels, size, rng)
    thickness = rng.uniform(1.0, 2.4, n) * size / 28
    background = rng.uniform(0, 100, n)
    foreground = np.minimum(background + rng.uniform(110, 230, n), 255)
    x = np.empty((n, size, size), dtype=np.uint8)
    axis = np.arange(size, dtype=np.float32)
    for start in range(0, n, _CHUNK):
        s = slice(start, min(start + _CHUNK, n))
        ink = _coverage(axis, axis, p0[s], p1[s], active[s], thickness[s])   # (chunk, size, size) in [0, 1]
        image = (background[s, None, None] + (foreground - background)[s, None, None] * ink).astype(np.float32)
        image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(noise * 255)
        x[s] = np.clip(np.rint(image), 0, 255)
    return x, labels


def _coverage(rows, cols, p0, p1, active, thickness) -> np.ndarray:
    """How much of each pixel the segments cover: 1 within half the thickness of a segment,
    falling linearly to 0 over one pixel (anti-aliased), 0 elsewhere. Shapes (chunk, size, size)."""
    ink = np.zeros((len(p0), len(rows), len(cols)), dtype=np.float32)
    for k in range(_SEGMENTS):
        use = np.flatnonzero(active[:, k])                                  # only images using slot k
        if use.size == 0:
            continue
        a_r, a_c = (p0[use, k, i].astype(np.float32)[:, None, None] for i in (0, 1))
        v_r, v_c = ((p1[use, k, i] - p0[use, k, i]).astype(np.float32)[:, None, None] for i in (0, 1))
        w_r, w_c = rows[None, :, None] - a_r, cols[None, None, :] - a_c    # pixel centre minus start
        vv = np.maximum(v_r * v_r + v_c * v_c, 1e-6)
        t = np.clip((w_r * v_r + w_c * v_c) / vv, 0.0, 1.0)                 # nearest point on the segment
        dist = np.sqrt((w_r - t * v_r) ** 2 + (w_c - t * v_c) ** 2)
        half = (thickness[use] / 2).astype(np.float32)[:, None, None]
        ink[use] = np.maximum(ink[use], np.clip(half + 0.5 - dist, 0.0, 1.0))
    return ink


def _segments(labels: np.ndarray, size: int, rng: np.random.Generator):
    """Segment end points ``(n, 4, 2)`` as (row, col), and which of the 4 slots are used."""
    n = len(labels)
    m = 2.5 * size / 28                                   # margin from the border
    span = size - 1 - 2 * m                               # room for a shape
    u = rng.uniform(size=(n, 4))                          # positions, drawn for every sample
    long = rng.uniform(0.45, 0.85, n) * span              # lines and diagonals
    arm1, arm2 = rng.uniform(0.4, 0.8, (2, n)) * span     # corner arms, box sides, cross arms
    p0 = np.zeros((n, _SEGMENTS, 2))
    p1 = np.zeros((n, _SEGMENTS, 2))
    active = np.zeros((n, _SEGMENTS), dtype=np.float32)

    def place(length, i):  # a start coordinate that keeps [start, start + length] inside the margins
        return m + u[:, i] * (span - length)

    def seg(mask, k, r0, c0, r1, c1):
        p0[mask, k] = np.stack([r0, c0], -1)[mask]
        p1[mask, k] = np.stack([r1, c1], -1)[mask]
        active[mask, k] = 1

    free = m + u[:, 1] * span                             # the position across a straight line
    r, c = place(long, 0), place(long, 1)
    seg(labels == 0, 0, r, free, r + long, free)                     # vertical line
    seg(labels == 1, 0, free, c, free, c + long)                     # horizontal line
    seg(labels == 2, 0, r, c, r + long, c + long)                    # diagonal \
    seg(labels == 3, 0, r + long, c, r, c + long)                    # anti-diagonal /
    top, left = place(arm1, 2), place(arm2, 3)                       # bounding box arm1 x arm2
    bottom, right = top + arm1, left + arm2
    seg(labels == 4, 0, top, left, bottom, left)                     # └ : down the left side,
    seg(labels == 4, 1, bottom, left, bottom, right)                 #     then along the bottom
    seg(labels == 5, 0, top, right, bottom, right)                   # ┘
    seg(labels == 5, 1, bottom, left, bottom, right)
    seg(labels == 6, 0, top, left, bottom, left)                     # ┌
    seg(labels == 6, 1, top, left, top, right)
    seg(labels == 7, 0, top, right, bottom, right)                   # ┐
    seg(labels == 7, 1, top, left, top, right)
    mid_r, mid_c = (top + bottom) / 2, (left + right) / 2
    seg(labels == 8, 0, top, mid_c, bottom, mid_c)                   # +
    seg(labels == 8, 1, mid_r, left, mid_r, right)
    for k, (a, b, c_, d) in enumerate(((top, left, top, right), (bottom, left, bottom, right),
                                       (top, left, bottom, left), (top, right, bottom, right))):
        seg(labels == 9, k, a, b, c_, d)                             # box outline
    return p0, p1, active
