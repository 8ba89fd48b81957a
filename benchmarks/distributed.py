"""Data-parallel training over MPI: where a step's time goes, measured here and modelled for clusters.

    python benchmarks/distributed.py [--steps 15] [--batch 128] [--latency-us 30 5]

Measured on this machine, for the LeNet-style net and VGG-small at a global batch of 128 (Adam):
one process with two threads against two ranks (``mpiexec -n 2``) with one thread each, the time
per training step split into compute, the gradients' Allreduce and the small collectives (losses
and metrics, callbacks' effects). Time a rank spends waiting in a collective for the slower rank
counts as collective time.

Modelled on paper for 4-64 machines on 10 and 100 Gbit/s: a step computes its shard, then sums
the gradients with a ring Allreduce: 2(N-1)/N x bytes / bandwidth + 2(N-1) x latency, with
bytes = 4 x parameters (float32), nothing overlapped; the small collectives cost
ceil(log2 N) x latency each. The compute time per image is this machine's, the faster of the two
configurations (on a busy machine the slower one mostly measures the other users).
Every figure is printed as a Markdown section for benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

from common import header, table

NETS = {"lenet": (28, 28, 1), "vgg-small": (32, 32, 3)}
MACHINES = (4, 8, 16, 32, 64)
LINKS_GBIT = (10, 100)


def worker(net: str, batch: int, steps: int) -> None:
    """One configuration, in this process (a rank of mpiexec, or alone): prints rank 0's timings as JSON."""
    import faltung as ft
    from faltung import distributed, zoo
    distributed.init()
    ft.set_seed(0)
    shape = NETS[net]
    model = zoo.build(net, shape, 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch * steps, *shape)).astype(np.uint8)
    y = rng.integers(0, 10, batch * steps)
    model.fit(x[:2 * batch], y[:2 * batch], batch_size=batch, verbose=0)  # warm-up: buffers, thread pool
    parallel = distributed.strategy()
    before = dict(getattr(parallel, "seconds", {"gradients": 0.0, "small": 0.0}))
    distributed.barrier()
    began = time.perf_counter()
    model.fit(x, y, batch_size=batch, verbose=0)
    seconds = time.perf_counter() - began
    spent = {k: v - before[k] for k, v in getattr(parallel, "seconds", before).items()}
    if distributed.is_primary():
        print(json.dumps({"step_ms": 1000 * seconds / steps, "allreduce_ms": 1000 * spent["gradients"] / steps,
                          "small_ms": 1000 * spent["small"] / steps, "parameters": model.count_params()}))


def measure(net: str, ranks: int, threads: int, batch: int, steps: int) -> dict:
    """Run ``worker`` as ``ranks`` processes of ``threads`` threads each and return its timings."""
    env = dict(os.environ, FALTUNG_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads))
    command = [sys.executable, __file__, "--worker", net, "--batch", str(batch), "--steps", str(steps)]
    if ranks > 1:
        from faltung.distributed.launch import find_mpiexec
        command = [find_mpiexec(), "-n", str(ranks), *command]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ring_allreduce_s(parameters: int, machines: int, gbit: float, latency_s: float) -> float:
    """The textbook ring Allreduce of 4 x parameters bytes: a reduce-scatter and an all-gather,
    each N-1 steps moving 1/N of the buffer."""
    bytes_ = 4 * parameters
    return 2 * (machines - 1) / machines * bytes_ / (gbit * 1e9 / 8) + 2 * (machines - 1) * latency_s


def compute_ms(measured: dict) -> float:
    return measured["step_ms"] - measured["allreduce_ms"] - measured["small_ms"]


def on_paper(name: str, measured: list[dict], batch: int, latencies_us: dict) -> str:
    """Step time and speed-up over one machine, for a global batch of ``batch`` and for ``batch`` per machine."""
    per_image_s = min(compute_ms(m) for m in measured) / 1000 / batch  # the machine's whole batch, either way
    parameters = measured[0]["parameters"]
    small_per_step = 3  # the logs' Allreduce and the callbacks' two broadcasts (no batch norm in these nets)
    rows = []
    for gbit in LINKS_GBIT:
        latency = latencies_us[gbit] / 1e6
        for machines in MACHINES:
            network = ring_allreduce_s(parameters, machines, gbit, latency)
            small = small_per_step * math.ceil(math.log2(machines)) * latency
            cells = [f"{gbit} Gbit/s", str(machines), f"{1000 * network:.2f}"]
            for global_batch in (batch, batch * machines):
                compute = per_image_s * global_batch / machines
                step = compute + network + small
                speedup = per_image_s * global_batch / step
                cells += [f"{1000 * step:.1f}", f"{speedup:.1f}x ({100 * speedup / machines:.0f} %)"]
            rows.append(cells)
    columns = ["link", "machines", "Allreduce ms", f"step ms, batch {batch}", "speed-up (efficiency)",
               f"step ms, {batch}/machine", "speed-up (efficiency)"]
    return (f"**{name}**: {parameters:,} parameters, {4 * parameters / 1e6:.2f} MB of gradients per step; "
            f"{1e3 * per_image_s:.2f} ms of compute per image here.\n\n" + table(columns, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--latency-us", type=float, nargs=2, default=(30.0, 5.0), metavar=("AT_10", "AT_100"),
                        help="one message's latency on the 10 and the 100 Gbit/s network (µs)")
    parser.add_argument("--worker", choices=NETS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.batch, args.steps)
    print(header(f"Data-parallel training over MPI, global batch {args.batch}, Adam"))
    load_before = os.getloadavg()[0]  # other users of a shared machine skew every figure
    rows, measured = [], {}
    for net in NETS:
        for ranks, threads in ((1, 2), (2, 1)):
            m = measure(net, ranks, threads, args.batch, args.steps)
            measured.setdefault(net, []).append(m)
            rows.append([net, f"{ranks} x {threads}", f"{m['step_ms']:.1f}", f"{compute_ms(m):.1f}",
                         f"{m['allreduce_ms']:.2f}", f"{m['small_ms']:.2f}", f"{1000 * args.batch / m['step_ms']:.0f}"])
    print(table(["net", "ranks x threads", "step ms", "compute ms", "gradient Allreduce ms", "small collectives ms",
                 "images/s"], rows))
    print(f"\nLoad average (1 min) of the {os.cpu_count()}-core machine: {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after.")
    latencies = dict(zip(LINKS_GBIT, args.latency_us))
    print(f"\n### On paper: N machines like this one, ring Allreduce, latency {latencies[10]:g} µs at 10 Gbit/s "
          f"and {latencies[100]:g} µs at 100 Gbit/s\n")
    for net in NETS:
        print(on_paper(net, measured[net], args.batch, latencies) + "\n")


if __name__ == "__main__":
    main()
