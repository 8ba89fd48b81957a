"""Training-step throughput and peak memory: faltung vs PyTorch eager, batch 128, Adam.

    python benchmarks/train.py [--steps 20]

Throughput (images/s, forward + backward + Adam update) is measured for both
frameworks in this process, alternating; peak resident memory of each is measured in
a fresh process of its own (`--memory-child` runs one), reported as the whole
process's peak and as the growth over the process right before training starts.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

import numpy as np

from common import blas_threads, header, median_ms, pause, table

BATCH = 128
NETS = {"lenet": (28, 28, 1), "vgg-small": (32, 32, 3)}


def faltung_step(net: str):
    import faltung as ft
    from faltung import zoo
    ft.set_seed(0)
    shape = NETS[net]
    model = zoo.build(net, shape, 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (BATCH, *shape)).astype(np.uint8)
    y = rng.integers(0, 10, BATCH)
    return lambda: model.train_on_batch(x, y)


def torch_step(net: str, channels_last: bool = False):
    import torch
    from torch import nn
    torch.manual_seed(0)
    h, w, c = NETS[net]
    if net == "lenet":
        layers = [nn.Conv2d(c, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10)]
    else:
        layers = [nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                  nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1),
                  nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 8 * 8, 256), nn.ReLU(), nn.Linear(256, 10)]
    model = nn.Sequential(*layers)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.integers(0, 256, (BATCH, c, h, w)).astype(np.float32) / 255)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.tensor(rng.integers(0, 10, BATCH))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return step


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: that survives fork+exec, so a child
    would report its parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(framework: str, net: str, steps: int) -> None:
    if framework == "torch":
        import torch
        torch.set_num_threads(blas_threads())
        step = torch_step(net)
    else:
        step = faltung_step(net)
    before = peak_rss_mb()
    for _ in range(steps):
        step()
    print(json.dumps({"peak": peak_rss_mb(), "before": before}))


def measure_memory(framework: str, net: str, steps: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory-child", framework, net, "--steps", str(steps)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-child", nargs=2, metavar=("FRAMEWORK", "NET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child, args.steps)
        return
    import torch
    torch.set_num_threads(blas_threads())
    print(header(f"Training steps, batch {BATCH}, Adam (torch threads: {torch.get_num_threads()})"))
    rows = []
    for net in NETS:
        ours = faltung_step(net)
        f_ms = median_ms(lambda: [ours() for _ in range(args.steps)], args.repeats, warmup=1) / args.steps
        pause()
        t_ms = float("inf")
        for channels_last in (False, True):
            theirs = torch_step(net, channels_last)
            t_ms = min(t_ms, median_ms(lambda: [theirs() for _ in range(args.steps)], args.repeats, 1) / args.steps)
            pause()
        f_mem, t_mem = measure_memory("faltung", net, 20), measure_memory("torch", net, 20)
        rows.append([net, f"{1000 * BATCH / f_ms:.0f}", f"{1000 * BATCH / t_ms:.0f}", f"{t_ms / f_ms:.2f}",
                     f"{f_mem['peak']:.0f} ({f_mem['peak'] - f_mem['before']:+.0f})",
                     f"{t_mem['peak']:.0f} ({t_mem['peak'] - t_mem['before']:+.0f})",
                     f"{f_mem['peak'] / t_mem['peak']:.2f}"])
        print(f"  {net}: throughput {t_ms / f_ms:.2f}x torch", flush=True)
    print()
    print(table(["net", "faltung img/s", "torch img/s", "faltung/torch throughput",
                 "faltung peak MB (training growth)", "torch peak MB (training growth)", "peak ratio"], rows))


if __name__ == "__main__":
    main()
