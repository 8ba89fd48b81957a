"""Layer benchmark: faltung vs PyTorch, forward and forward+backward, batch 64, float32.

    python benchmarks/layers.py [--repeats 7] [--only conv]

faltung runs inside ``backend.scope()``, as a training step does (fit, train_on_batch): NumPy's
BLAS on one thread while faltung's thread pool works. Prints a markdown table: faltung ms, torch ms (the faster of NCHW and channels_last),
ratio (faltung / torch: below 1 is faster), faltung GFLOP/s, and each framework's rate as a %
of NumPy's measured matmul peak (torch above 100 %: faster than BLAS could do the bare products).
"""
from __future__ import annotations

import argparse

import numpy as np

import faltung.functional as F
from faltung import Tensor, backend, no_grad

from common import header, matmul_peak_gflops, median_ms, pause, table, blas_threads

BATCH = 64
# (label, kind, (H, W, C_in), C_out or pool, kernel, stride, padding)
ROWS = [
    ("conv 28x28x1->32 k5 valid", "conv", (28, 28, 1), 32, 5, 1, "valid"),
    ("conv 28x28x1->32 k3 same", "conv", (28, 28, 1), 32, 3, 1, "same"),
    ("conv 32x32x3->32 k3 same", "conv", (32, 32, 3), 32, 3, 1, "same"),
    ("conv 32x32x32->64 k3 same", "conv", (32, 32, 32), 64, 3, 1, "same"),
    ("conv 16x16x64->128 k3 same", "conv", (16, 16, 64), 128, 3, 1, "same"),
    ("conv 8x8x128->256 k3 same", "conv", (8, 8, 128), 256, 3, 1, "same"),
    ("conv 32x32x32->64 k3 s2 same", "conv", (32, 32, 32), 64, 3, 2, "same"),
    ("conv 16x16x128->64 k1", "conv", (16, 16, 128), 64, 1, 1, "valid"),
    ("maxpool 2x2/2 32x32x64", "max", (32, 32, 64), None, 2, 2, "valid"),
    ("maxpool 3x3/2 same 32x32x64", "max", (32, 32, 64), None, 3, 2, "same"),
    ("avgpool 2x2/2 32x32x64", "avg", (32, 32, 64), None, 2, 2, "valid"),
    ("avgpool 3x3/2 same 32x32x64", "avg", (32, 32, 64), None, 3, 2, "same"),
    ("dense 4096->256", "dense", (4096,), 256, None, None, None),
]


def faltung_case(kind, shape, c_out, k, s, padding, rng):
    x = rng.standard_normal((BATCH, *shape)).astype(np.float32)
    if kind == "conv":
        w = (rng.standard_normal((k, k, shape[2], c_out)) * 0.1).astype(np.float32)
        b = np.zeros(c_out, np.float32)
        params = (w, b)
        op = lambda x, w, b: F.conv2d(x, w, b, strides=s, padding=padding)  # noqa: E731
    elif kind == "dense":
        params = ((rng.standard_normal((shape[0], c_out)) * 0.01).astype(np.float32), np.zeros(c_out, np.float32))
        op = F.dense
    else:
        params = ()
        pool = F.max_pool2d if kind == "max" else F.avg_pool2d
        op = lambda x: pool(x, k, s, padding)  # noqa: E731

    def forward():
        with no_grad():
            op(x, *params)

    tensors = [Tensor(x, requires_grad=True)] + [Tensor(p, requires_grad=True) for p in params]
    out_shape = op(x, *params).shape
    grad = rng.standard_normal(out_shape).astype(np.float32)

    def both():
        for t in tensors:
            t.grad = None
        op(*tensors).backward(grad)
    return forward, both, out_shape


def torch_case(torch, kind, shape, c_out, k, s, padding, rng, channels_last):
    tf = torch.nn.functional
    x = torch.tensor(rng.standard_normal((BATCH, *shape)).astype(np.float32))
    if kind == "dense":
        w = torch.tensor((rng.standard_normal((c_out, shape[0])) * 0.01).astype(np.float32))
        params = [w, torch.zeros(c_out)]
        op = lambda x, w, b: tf.linear(x, w, b)  # noqa: E731
    else:
        x = x.permute(0, 3, 1, 2).contiguous()
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        pad = (k // 2) if padding == "same" else 0  # same output size as TensorFlow's rule here
        if kind == "conv":
            w = torch.tensor((rng.standard_normal((c_out, shape[2], k, k)) * 0.1).astype(np.float32))
            if channels_last:
                w = w.contiguous(memory_format=torch.channels_last)
            params = [w, torch.zeros(c_out)]
            op = lambda x, w, b: tf.conv2d(x, w, b, stride=s, padding=pad)  # noqa: E731
        else:
            params = []
            if kind == "max":
                op = lambda x: tf.max_pool2d(x, k, s, padding=pad)  # noqa: E731
            else:
                op = lambda x: tf.avg_pool2d(x, k, s, padding=pad, count_include_pad=False)  # noqa: E731

    def forward():
        with torch.no_grad():
            op(x, *params)

    leaves = [x.detach().requires_grad_(True)] + [p.detach().requires_grad_(True) for p in params]
    grad = torch.randn_like(op(x, *params))

    def both():
        for t in leaves:
            t.grad = None
        op(*leaves).backward(grad)
    return forward, both


def flops(kind, shape, c_out, k, out_shape):
    if kind == "conv":
        return 2 * BATCH * out_shape[1] * out_shape[2] * k * k * shape[2] * c_out
    if kind == "dense":
        return 2 * BATCH * shape[0] * c_out
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", default=None, help="run only rows whose label contains this text")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(blas_threads())
    print(header(f"Layers, batch {BATCH}, float32 (torch threads: {torch.get_num_threads()})"))
    peak = matmul_peak_gflops()
    print(f"Measured float32 matmul peak: {peak:.1f} GFLOP/s\n")
    rng = np.random.default_rng(0)
    rows = []
    for label, kind, shape, c_out, k, s, padding in ROWS:
        if args.only and args.only not in label:
            continue
        fwd, both, out_shape = faltung_case(kind, shape, c_out, k, s, padding, rng)
        with backend.scope():  # as in fit or train_on_batch: NumPy's BLAS on one thread for the whole run
            f = {"fwd": median_ms(fwd, args.repeats), "fwd+bwd": median_ms(both, args.repeats)}
        pause()
        t = {"fwd": float("inf"), "fwd+bwd": float("inf")}
        for channels_last in ((False, True) if kind != "dense" else (False,)):
            tf, tb = torch_case(torch, kind, shape, c_out, k, s, padding, rng, channels_last)
            t["fwd"] = min(t["fwd"], median_ms(tf, args.repeats))
            t["fwd+bwd"] = min(t["fwd+bwd"], median_ms(tb, args.repeats))
            pause()
        for what, factor in (("fwd", 1), ("fwd+bwd", 3)):
            work = factor * flops(kind, shape, c_out, k, out_shape)
            rate, torch_rate = (work / (ms / 1000) / 1e9 for ms in (f[what], t[what]))
            rows.append([label, what, f"{f[what]:.2f}", f"{t[what]:.2f}", f"{f[what] / t[what]:.2f}",
                         f"{rate:.1f}" if work else "-", f"{100 * rate / peak:.0f}%" if work else "-",
                         f"{100 * torch_rate / peak:.0f}%" if work else "-"])
        print(f"  {label}: fwd {f['fwd'] / t['fwd']:.2f}x, fwd+bwd {f['fwd+bwd'] / t['fwd+bwd']:.2f}x", flush=True)
    print()
    # torch above 100 %: its direct convolution beats NumPy's BLAS at the layer's bare products
    print(table(["layer", "pass", "faltung ms", "torch ms", "ratio", "faltung GFLOP/s", "% peak", "torch % peak"], rows))


if __name__ == "__main__":
    main()
