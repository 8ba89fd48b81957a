"""faltung.backend: the one seam that chooses the kernels, and a user's process left as it was.

The functional ops call whichever kernel set is active (reference or fast) and both train
to the same numbers; importing faltung and training leave NumPy's BLAS threads, the
allocator and the kernels' buffers as they were.
"""
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

import faltung as ft
import faltung.functional as F
from faltung import Tensor, backend, callbacks, zoo
from faltung.kernels import fast, reference
from faltung.kernels.fast import compiled, memory, parallel, scratch

PACKAGE = pathlib.Path(ft.__file__).parent


def _run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def _numpy_blas(info: list) -> list:
    """NumPy's BLAS among threadpoolctl's libraries: numba, which the compiled kernels import, may load
    SciPy's too, which faltung never calls."""
    blas = [i for i in info if i["user_api"] == "blas"]
    return [i for i in blas if "numpy" in i["filepath"]] or blas


def _blas_threads() -> int:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return max([i["num_threads"] for i in _numpy_blas(threadpoolctl.threadpool_info())] or [1])


def _tiny_model_and_data(n=16):
    ft.set_seed(0)
    model = zoo.lenet((28, 28, 1), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    return model, rng.random((n, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, n)


# ----- choosing the kernels -----
def test_the_environment_chooses_the_kernels():
    out = _run_python("from faltung import backend; print(backend.get_kernels(), backend.active_kernels().__name__)",
                      FALTUNG_KERNELS="reference")
    assert out.stdout.split() == ["reference", "faltung.kernels.reference"], out.stderr
    out = _run_python("import faltung", FALTUNG_KERNELS="quick")
    assert out.returncode != 0 and "FALTUNG_KERNELS must be 'fast' or 'reference'; got 'quick'" in out.stderr


def test_set_kernels_and_the_block_form():
    before = backend.get_kernels()
    with backend.kernels("reference"):
        assert backend.active_kernels() is reference
        with backend.kernels("fast"):
            assert backend.active_kernels() is fast
        assert backend.get_kernels() == "reference"
    assert backend.get_kernels() == before
    with pytest.raises(ValueError, match="kernels must be 'fast' or 'reference'; got 'gpu'"):
        backend.set_kernels("gpu")
    with pytest.raises(RuntimeError), backend.kernels("reference"):
        raise RuntimeError  # the block's kernels are undone on an error too
    assert backend.get_kernels() == before


def _spy_on(monkeypatch, module) -> list:
    """Record the name of every kernel of ``module`` that the ops call."""
    calls = []
    for name in module.__all__:
        if name.endswith(("_forward", "_backward")):
            kernel = getattr(module, name)
            monkeypatch.setattr(module, name, lambda *a, _k=kernel, _n=name, **k: calls.append(_n) or _k(*a, **k))
    return calls


OPS = {
    "conv2d": lambda x: F.conv2d(x, np.ones((3, 3, 2, 4)), np.ones(4), padding="same", relu=True),
    "max_pool2d": lambda x: F.max_pool2d(x, 2),
    "avg_pool2d": lambda x: F.avg_pool2d(x, 3, 2, "same"),
    "conv2d_max_pool2d": lambda x: F.conv2d_max_pool2d(x, np.ones((3, 3, 2, 4)), relu=True),
    "dense": lambda x: F.dense(x, np.ones((2, 3)), np.ones(3)),
}


@pytest.mark.parametrize("op", OPS)
def test_ops_call_the_active_kernels_and_keep_them_for_backward(op, monkeypatch):
    ref_calls, fast_calls = _spy_on(monkeypatch, reference), _spy_on(monkeypatch, fast)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 6, 6, 2)), requires_grad=True)
    with backend.kernels("reference"):
        y = OPS[op](x)
    y.sum().backward()  # outside the block: the backward stays with the forward's kernels
    assert len(ref_calls) == 2 and ref_calls[0].endswith("_forward") and ref_calls[1].endswith("_backward")
    assert fast_calls == []
    with backend.kernels("fast"):
        OPS[op](x).sum().backward()
    assert len(fast_calls) == 2 and len(ref_calls) == 2


def test_only_the_backend_names_a_kernel_set():
    """Layers, functional ops and models never know which kernels run: no module outside kernels/
    and backend.py imports a kernel set (the padding arithmetic is shared)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("kernels/") or relative == "backend.py":
            continue
        text = path.read_text()
        if "kernels.fast" in text or "kernels.reference" in text or "kernels import fast" in text \
                or "kernels import reference" in text:
            offenders.append(relative)
    assert offenders == []


def _two_steps(net: str, shape: tuple, kernel_set: str, dtype) -> list:
    rng = np.random.default_rng(1)
    x, y = rng.random((8, *shape)).astype(dtype), rng.integers(0, 10, 8)
    with backend.kernels(kernel_set):
        ft.set_seed(0)
        model = zoo.build(net, shape, 10)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        losses = [model.train_on_batch(x, y) for _ in range(2)]
        return [np.array(losses), model.predict(x, verbose=0)] + [w.numpy() for w in model.weights]


@pytest.mark.parametrize("net,shape", [("lenet", (28, 28, 1)), ("vgg-small", (32, 32, 3))])
def test_both_kernel_sets_train_to_the_same_weights(net, shape):
    """Two Adam steps and a prediction. In float64 the kernel sets agree to the last digits: every
    weight. In float32 the losses and predictions agree to float32 rounding; the weights are not
    compared there, because max pooling's winner flips where two values of a window are closer than
    the rounding (Winograd's F(4x4) rounds differently from im2col), moving that cell's gradient,
    and Adam's first step moves a weight by about lr·sign(g) whatever the size of g."""
    backend.set_floatx("float64")
    try:
        ours, theirs = (_two_steps(net, shape, name, np.float64) for name in backend.KERNEL_SETS)
    finally:
        backend.set_floatx("float32")
    for a, c in zip(ours, theirs):
        assert a.dtype == c.dtype
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-12)
    ours, theirs = (_two_steps(net, shape, name, np.float32)[:2] for name in backend.KERNEL_SETS)
    assert ours[1].dtype == theirs[1].dtype == np.float32
    for a, c in zip(ours, theirs):
        np.testing.assert_allclose(a, c, rtol=2e-4, atol=2e-5)


# ----- the user's process -----
def test_import_and_training_leave_the_blas_threads_as_they_were():
    pytest.importorskip("threadpoolctl")
    code = """
import json, numpy as np
from threadpoolctl import threadpool_info
states = [threadpool_info()]
import faltung as ft
from faltung import zoo
states.append(threadpool_info())
model = zoo.lenet((28, 28, 1), 10)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
x, y = np.random.rand(64, 28, 28, 1).astype(np.float32), np.arange(64) % 10
model.fit(x, y, batch_size=16, epochs=1, verbose=0)
model.train_on_batch(x, y)
model.predict(x, verbose=0)
ft.functional.conv2d(x, np.ones((3, 3, 1, 4), np.float32))
states.append(threadpool_info())
print(json.dumps(states))
"""
    out = _run_python(code, FALTUNG_KERNELS="fast")
    assert out.returncode == 0, out.stderr
    before, after_import, after_training = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == after_import
    # the compiled kernels' first use imports numba, which may load another BLAS (SciPy's) with its own
    # default settings; every library loaded before keeps exactly the settings it had
    loaded = {i["filepath"]: i for i in after_training}
    assert all(loaded[i["filepath"]] == i for i in before)
    assert any(i["user_api"] == "blas" for i in before)


def test_blas_runs_one_thread_only_inside_faltungs_calls():
    from threadpoolctl import threadpool_info
    original = _blas_threads()
    if original < 2 or parallel.threads() < 2:
        pytest.skip("one BLAS thread or one worker: nothing to limit")
    seen = []
    model, x, y = _tiny_model_and_data()
    with backend.kernels("fast"):  # the reference kernels change nothing at all
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: seen.append(
                [i["num_threads"] for i in _numpy_blas(threadpool_info())]))])
    assert seen and all(threads == [1] for threads in seen)
    assert _blas_threads() == original


def test_a_users_matmul_runs_as_fast_after_training():
    if _blas_threads() < 2:
        pytest.skip("NumPy's BLAS runs one thread here: nothing faltung could have taken away")
    a = np.random.default_rng(0).standard_normal((2000, 2000))

    def best_matmul_seconds():
        """The fastest of 7 (not the median: a busy neighbour slows single runs; BLAS left on one
        thread would slow every run, the fastest too, by about 2x)."""
        times = []
        for _ in range(7):
            start = time.perf_counter()
            a @ a
            times.append(time.perf_counter() - start)
        return min(times)
    a @ a  # warm-up
    before = best_matmul_seconds()
    model, x, y = _tiny_model_and_data(64)
    with backend.kernels("fast"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    after = best_matmul_seconds()
    assert after / before < 1.5, f"{before:.3f} s before fit, {after:.3f} s after"


def test_the_allocator_is_tuned_only_on_request(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_tuned", False)
    monkeypatch.setattr(memory, "_mallopt", lambda settings: calls.append(settings) or True)
    model, x, y = _tiny_model_and_data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.train_on_batch(x, y)
    assert calls == []
    assert backend.configure(keep_freed_memory=True)["keep_freed_memory"] is True
    backend.configure(keep_freed_memory=True)
    assert len(calls) == 1  # once per process
    with pytest.raises(ValueError, match="cannot be turned off"):
        backend.configure(keep_freed_memory=False)


def test_scratch_buffers_are_bounded_and_freed_after_fit():
    held = []
    model, x, y = _tiny_model_and_data()
    with backend.kernels("fast"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: held.append(scratch.held_bytes()))])
        assert held and min(held) > 0
        assert scratch.held_bytes() == 0
        model.train_on_batch(x, y)  # a loop of batches keeps its buffers for the next one ...
        assert 0 < scratch.held_bytes() <= scratch.LIMIT_BYTES * (parallel.threads() + 1) + scratch.RESULT_LIMIT_BYTES
        with backend.scope(release_memory=True):  # ... until a scope that releases ends
            pass
        assert scratch.held_bytes() == 0


def test_a_result_is_reused_only_once_nobody_holds_it():
    shape = (256, 256)  # 256 KiB: big enough to be kept for reuse
    first = scratch.result(shape, np.float32)
    held = first[::2]  # a view holds its base
    address = first.__array_interface__["data"][0]
    del first
    second = scratch.result(shape, np.float32)
    assert second.__array_interface__["data"][0] != address
    del held
    third = scratch.result(shape, np.float32)
    assert third.__array_interface__["data"][0] == address  # nothing holds it any more: handed out again
    scratch.release_all()
    assert scratch.held_bytes() == 0


def test_results_the_user_keeps_are_never_overwritten():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 3, 4, 8)).astype(np.float32)
    with backend.kernels("fast"):
        kept = [F.max_pool2d(F.conv2d(rng.standard_normal((16, 32, 32, 4)).astype(np.float32), w, relu=True), 2)
                for _ in range(3)]
        copies = [k.numpy().copy() for k in kept]
        F.max_pool2d(F.conv2d(rng.standard_normal((16, 32, 32, 4)).astype(np.float32), w, relu=True), 2)
    assert not np.array_equal(copies[0], copies[1])
    for k, c in zip(kept, copies):
        np.testing.assert_array_equal(k.numpy(), c)


def test_scratch_keeps_at_most_its_limit_per_thread(monkeypatch):
    monkeypatch.setattr(scratch, "LIMIT_BYTES", 3000)
    scratch.release_all()
    for i in range(5):
        scratch.buffer(f"test.{i}", (100,), np.float64)  # 800 bytes each
    assert scratch.held_bytes() <= 3000
    scratch.release_all()
    assert scratch.held_bytes() == 0


def test_configure_the_worker_threads():
    pytest.importorskip("threadpoolctl")
    previous = parallel.threads()
    try:
        assert backend.configure(num_threads=1)["num_threads"] == 1
        out = F.conv2d(np.ones((4, 8, 8, 3), np.float32), np.ones((3, 3, 3, 2), np.float32))
        assert out.shape == (4, 6, 6, 2)
        for bad in (0, 2.5, True):
            with pytest.raises(ValueError, match="num_threads must be a positive int; got"):
                backend.configure(num_threads=bad)
    finally:
        backend.configure(num_threads=previous)
    assert parallel.threads() == previous


def test_import_faltung_does_not_import_numba():
    """The compiled kernels' numba is imported on their first use, never by ``import faltung``."""
    out = _run_python("import sys, faltung, faltung.keras; from faltung import zoo; print('numba' in sys.modules)",
                      FALTUNG_KERNELS="fast")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_without_numba_the_fast_kernels_say_so_once_and_compute_the_same():
    """FALTUNG_NUMBA=0 stands for a machine without numba: the fast kernels fall back to their NumPy
    versions, warn once (not once per layer or step), and train to the same numbers."""
    code = """
import json, warnings, numpy as np, faltung as ft
from faltung import zoo
warnings.simplefilter("always")
ft.set_seed(0)
model = zoo.build("vgg-small", (16, 16, 3), 10)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
x, y = np.random.default_rng(0).random((16, 16, 16, 3)).astype(np.float32), np.arange(16) % 10
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
said = [str(w.message) for w in caught if "numba" in str(w.message)]
print(json.dumps([losses, said]))
"""
    results = {}
    for numba in ("0", "1"):
        out = _run_python(code, FALTUNG_KERNELS="fast", FALTUNG_NUMBA=numba)
        assert out.returncode == 0, out.stderr
        results[numba] = json.loads(out.stdout.strip().splitlines()[-1])
    (without, said), (with_numba, silent) = results["0"], results["1"]
    assert len(said) == 1 and "pip install 'faltung[fast]'" in said[0]
    assert silent == [] or not compiled.available()
    np.testing.assert_allclose(without, with_numba, rtol=1e-4)
