"""Shared benchmark helpers: timing medians after warm-up, the BLAS in use, the machine's matmul peak.

Run benchmarks by hand (not in CI). Times are noisy on shared machines, so every
table compares faltung with PyTorch measured in the same process, alternating.
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from typing import Callable

import numpy as np


def blas_info() -> str:
    """Which BLAS NumPy calls, its kernel and thread count (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl)"
    parts = [f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
             f"threads={i.get('num_threads')}" for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(parts) or "no BLAS found"


def blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info
        return max([i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"] or [1])
    except ImportError:
        return os.cpu_count() or 1


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def header(title: str) -> str:
    import faltung
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    return (f"## {title}\n\n{time.strftime('%Y-%m-%d')} · {cpu_model()} · {os.cpu_count()} cores · "
            f"Python {platform.python_version()} · NumPy {np.__version__} · faltung {faltung.__version__} · "
            f"torch {torch_version}\n\nNumPy BLAS: {blas_info()}\n")


def median_ms(fn: Callable[[], object], repeats: int = 7, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def pause() -> None:
    """OpenBLAS and OpenMP threads spin for ~0.1 s after a call: let them sleep before timing the other side."""
    time.sleep(0.3)


def matmul_peak_gflops(n: int = 1536) -> float:
    """The machine's float32 matrix-multiply rate through NumPy's BLAS (GFLOP/s)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.T.copy()
    out = np.empty_like(a)
    ms = median_ms(lambda: np.matmul(a, b, out=out), repeats=5)
    return 2 * n ** 3 / (ms / 1000) / 1e9


def table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
