"""How fast can an im2col + BLAS design train? The two parts it cannot avoid, timed alone.

    python benchmarks/bound.py [--repeats 7]

For each net of `train.py`, every conv layer's matrix products (forward, kernel gradient,
input gradient) and its window copies (the forward's and the kernel gradient's im2col, the
input gradient's im2col or col2im) are run on their own, at the shapes, chunk sizes and
threads that faltung's conv kernel uses, with nothing else (no bias, relu, masks, pooling,
dense layers, loss or optimizer). Their sum bounds faltung's step from below; PyTorch's
whole training step (the faster of NCHW and channels_last) is timed in the same process,
alternating. "ceiling" is the throughput faltung would reach if everything else were free.
"""
from __future__ import annotations

import argparse

import numpy as np

from common import blas_threads, header, median_ms, pause, table
from train import BATCH, NETS, faltung_step, torch_step


def conv_layers(net: str) -> list[dict]:
    """The conv layers of the faltung net: input (H, W, C_in), kernel, strides, pads, the outputs
    computed (under a max pooling, only those its windows read, as the fused kernel does), and
    whether the input gradient is needed (not for the first layer, whose input is data)."""
    from faltung import zoo
    from faltung.functional.pooling import pool_geometry
    from faltung.kernels.fast.conv_pool import reached
    from faltung.kernels.padding import output_size, resolve_pads
    from faltung.models.graph import fusable
    stack = zoo.build(net, NETS[net], 10).layers
    found = []
    for layer, following in zip(stack, stack[1:] + [None]):
        if type(layer).__name__ != "Conv2D":
            continue
        hw = tuple(layer.input_shape[1:3])
        pads = resolve_pads(layer.padding, hw, layer.kernel_size, layer.strides)
        out_hw = output_size(hw, layer.kernel_size, layer.strides, (1, 1), pads)
        if following is not None and fusable(layer, following):
            out_hw = reached(out_hw, pool_geometry(out_hw, following.pool_size, following.strides, following.padding))
        found.append(dict(shape=tuple(layer.input_shape[1:]), c_out=layer.filters, kernel=layer.kernel_size,
                          strides=layer.strides, pads=pads, need_dx=bool(found), out_hw=out_hw))
    return found


def layer_parts(spec: dict, rng) -> tuple:
    """(products, copies): two callables running one layer's products and its copies over the batch."""
    from faltung.kernels.fast import conv, scratch
    from faltung.kernels.fast.parallel import map_chunks
    from faltung.kernels.reference.im2col import add_windows
    (h, w, c_in), c_out, (kh, kw), strides, pads, out_hw = (spec[k] for k in
                                                            ("shape", "c_out", "kernel", "strides", "pads", "out_hw"))
    rows, k, one = out_hw[0] * out_hw[1], kh * kw * c_in, (1, 1)
    x = rng.standard_normal((BATCH, h, w, c_in)).astype(np.float32)
    g = rng.standard_normal((BATCH, *out_hw, c_out)).astype(np.float32)
    w4 = rng.standard_normal((kh, kw, c_in, c_out)).astype(np.float32)
    w2 = w4.reshape(k, c_out)
    grads = conv.Gradients(x, w4, strides, one, pads, out_hw, np.float32, (spec["need_dx"], True, True))
    by_correlation = grads.by_correlation
    back_pads = ((kh - 1 - pads[0][0], h + pads[0][0] - out_hw[0]), (kw - 1 - pads[1][0], w + pads[1][0] - out_hw[1]))
    forward_chunk = conv.forward_chunk(w4.shape, out_hw, 4, BATCH)
    backward_chunk = grads.chunk_images(BATCH)

    filled = set()

    def buffer(name, shape):  # this thread's reused buffer, filled once with ordinary values (no denormals)
        array = scratch.buffer("bound." + name, shape, np.float32)
        if id(array) not in filled:
            array[...] = 0.5
            filled.add(id(array))
        return array

    def columns(a, b):  # laid out as the kernel lays them out (transposed for one-channel images)
        return buffer("cols", (k, (b - a) * rows)).T if c_in == 1 else buffer("cols", ((b - a) * rows, k))

    def products() -> None:
        def forward(a, b):
            np.matmul(columns(a, b), w2, out=buffer("out", ((b - a) * rows, c_out)))

        def backward(a, b):
            cols, gb = columns(a, b), g[a:b].reshape(-1, c_out)
            cols.T @ gb
            if by_correlation:
                np.matmul(buffer("gcols", ((b - a) * h * w, kh * kw * c_out)), buffer("flipped", (kh * kw * c_out, c_in)),
                          out=buffer("dx", ((b - a) * h * w, c_in)))
            elif spec["need_dx"]:
                np.matmul(gb, w2.T, out=buffer("dwin", ((b - a) * rows, k)))
        map_chunks(forward, BATCH, forward_chunk)
        map_chunks(backward, BATCH, backward_chunk)

    def copies() -> None:
        def im2col(a, b):
            conv._columns(x[a:b], (kh, kw), strides, one, pads, out_hw)

        def backward(a, b):
            im2col(a, b)
            if by_correlation:
                gp = conv.pad_or_crop(g[a:b], back_pads, "bound.gp")
                conv._columns(gp, (kh, kw), one, one, ((0, 0), (0, 0)), (h, w))
            elif spec["need_dx"]:
                dxp = buffer("dxp", (b - a, h + sum(pads[0]), w + sum(pads[1]), c_in))
                dxp[...] = 0
                add_windows(dxp, buffer("dwin", ((b - a) * rows, k)).reshape(b - a, *out_hw, kh, kw, c_in), strides, one)
        map_chunks(im2col, BATCH, forward_chunk)
        map_chunks(backward, BATCH, backward_chunk)
    return products, copies


def limited(fn):
    """``fn`` run as the fast kernels run: NumPy's BLAS on one thread while the thread pool works."""
    from faltung.kernels.fast.parallel import one_blas_thread

    def run():
        with one_blas_thread():
            return fn()
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    import torch
    torch.set_num_threads(blas_threads())
    print(header(f"What im2col + BLAS can reach, batch {BATCH} (torch threads: {torch.get_num_threads()})"))
    rng = np.random.default_rng(0)
    rows = []
    for net in NETS:
        parts = [layer_parts(spec, rng) for spec in conv_layers(net)]
        ours = faltung_step(net)
        timed = {
            "faltung step": ours,
            "products": limited(lambda: [products() for products, _ in parts]),
            "copies": limited(lambda: [copies() for _, copies in parts]),
            "torch NCHW": torch_step(net, channels_last=False),
            "torch channels_last": torch_step(net, channels_last=True),
        }
        ms = {name: [] for name in timed}
        for _ in range(args.repeats):  # alternate, so that a slow minute hits every column alike
            for name, fn in timed.items():
                ms[name].append(median_ms(fn, repeats=3, warmup=1))
                pause()
        m = {name: float(np.median(v)) for name, v in ms.items()}
        theirs = min(m["torch NCHW"], m["torch channels_last"])
        rows.append([net, f"{m['faltung step']:.1f}", f"{m['products']:.1f}", f"{m['copies']:.1f}", f"{theirs:.1f}",
                     f"{m['products'] / theirs:.2f}", f"{m['copies'] / theirs:.2f}",
                     f"{theirs / (m['products'] + m['copies']):.2f}", f"{theirs / m['faltung step']:.2f}"])
        print(f"  {net}: ceiling {theirs / (m['products'] + m['copies']):.2f}x torch's throughput", flush=True)
    print()
    print(table(["net", "faltung step ms", "conv products alone ms", "conv copies alone ms", "torch step ms",
                 "products / torch step", "copies / torch step", "ceiling (throughput)", "faltung now"], rows))


if __name__ == "__main__":
    main()
