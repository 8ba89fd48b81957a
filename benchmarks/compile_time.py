"""First-use cost of the compiled kernels: numba's compile time, and its disk cache's load time.

    python benchmarks/compile_time.py [--repeats 3]

Each run is a fresh process training one batch of each network and then a second one; the
first step's extra time over the second is what the compiled kernels cost on first use. The
"cold" process starts with an empty numba cache (NUMBA_CACHE_DIR set to a new folder, in that
process's environment only), the "warm" ones find the cache the cold one wrote, as every run
after the first does where faltung is installed.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from common import header, table

CHILD = """
import json, sys, time
start = time.perf_counter()
import numpy as np, faltung as ft
from faltung import zoo
result = {"import faltung": time.perf_counter() - start, "numba imported by import faltung": "numba" in sys.modules}
for net, shape in (("lenet", (28, 28, 1)), ("vgg-small", (32, 32, 3))):
    ft.set_seed(0)
    model = zoo.build(net, shape, 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).integers(0, 256, (128, *shape)).astype(np.uint8)
    y = np.arange(128) % 10
    times = []
    for _ in range(2):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    result[net] = times
print(json.dumps(result))
"""


def run(cache_dir: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="warm-cache processes")
    args = parser.parse_args()
    import numba
    print(header(f"First use of the compiled kernels (numba {numba.__version__})"))
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        runs = [("cold (empty cache)", [run(cache)]), ("warm (cache on disk)", [run(cache) for _ in range(args.repeats)])]
        for label, results in runs:
            first = {net: statistics.median(r[net][0] - r[net][1] for r in results) for net in ("lenet", "vgg-small")}
            rows.append([label, f"{statistics.median(r['import faltung'] for r in results):.2f}",
                         str(any(r["numba imported by import faltung"] for r in results)),
                         f"{first['lenet']:.2f}", f"{first['vgg-small']:.2f}"])
    print(table(["process", "import faltung s", "numba imported at import", "lenet first step extra s",
                 "vgg-small first step extra s"], rows))


if __name__ == "__main__":
    main()
