"""Wall time to reach 90 % test accuracy on Fashion-MNIST: faltung vs PyTorch, same net, same
hyper-parameters (the CLI's LeNet-style CNN, Adam 1e-3, batch 128, inputs scaled to 0..1).

    python benchmarks/fashion_mnist.py [--max-epochs 15]

Each framework trains one epoch at a time and is evaluated on the 10,000 test images after
each; the clock (training time only) stops at the first epoch reaching the target.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import blas_threads, header, pause, table

TARGET = 0.90


def run_faltung(x, y, xt, yt, max_epochs, batch):
    import faltung as ft
    from faltung import zoo
    ft.set_seed(0)
    model = zoo.lenet((28, 28, 1), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    spent = 0.0
    for epoch in range(1, max_epochs + 1):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        spent += time.perf_counter() - start
        accuracy = model.evaluate(xt, yt, batch_size=1000, verbose=0)[1]
        print(f"  faltung epoch {epoch}: test accuracy {accuracy:.4f}, {spent:.0f} s", flush=True)
        if accuracy >= TARGET:
            return epoch, spent, accuracy
    return None, spent, accuracy


def run_torch(x, y, xt, yt, max_epochs, batch):
    import torch
    from torch import nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tx = torch.tensor(x[:, None].astype(np.float32) / 255)
    ty = torch.tensor(y.astype(np.int64))
    txt = torch.tensor(xt[:, None].astype(np.float32) / 255)
    generator = torch.Generator().manual_seed(0)
    spent = 0.0
    for epoch in range(1, max_epochs + 1):
        start = time.perf_counter()
        model.train()
        for idx in torch.randperm(len(tx), generator=generator).split(batch):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(tx[idx]), ty[idx]).backward()
            optimizer.step()
        spent += time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            accuracy = (model(txt).argmax(1).numpy() == yt).mean()
        print(f"  torch epoch {epoch}: test accuracy {accuracy:.4f}, {spent:.0f} s", flush=True)
        if accuracy >= TARGET:
            return epoch, spent, accuracy
    return None, spent, accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    import torch
    from faltung import datasets
    torch.set_num_threads(blas_threads())
    print(header(f"Fashion-MNIST to {TARGET:.0%} test accuracy (torch threads: {torch.get_num_threads()})"))
    (x, y), (xt, yt) = datasets.fashion_mnist.load_data()
    f = run_faltung(x[..., None], y, xt[..., None], yt, args.max_epochs, args.batch_size)
    pause()
    t = run_torch(x, y, xt, yt, args.max_epochs, args.batch_size)
    rows = [[name, str(r[0] or f"not in {args.max_epochs}"), f"{r[1]:.0f}", f"{r[2]:.4f}"]
            for name, r in (("faltung", f), ("torch", t))]
    print()
    print(table(["framework", "epochs to 90 %", "training seconds", "test accuracy then"], rows))
    if f[0] and t[0]:
        print(f"\nfaltung / torch wall time: {f[1] / t[1]:.2f}")


if __name__ == "__main__":
    main()
