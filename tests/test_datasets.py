"""faltung.datasets: IDX files, the search order, downloads from a loopback server, CIFAR-10 tars,
image folders, synthetic shapes. No test reaches the network: downloads go to 127.0.0.1 only."""
import gzip
import hashlib
import http.server
import io
import os
import subprocess
import sys
import tarfile
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from faltung import datasets
from faltung.datasets import cifar10, fashion_mnist, idx_dataset, mnist, shapes
from faltung.datasets.idx import read_idx, write_idx
from faltung.datasets.sources import DatasetNotFoundError, cache_dir

REAL_FASHION = Path(fashion_mnist.SYSTEM_FOLDERS[0])
IDX_FILES = idx_dataset.FILES


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own HOME and cache, no FALTUNG_* variables, no system folders, and
    download URLs that point at a closed loopback port (so nothing can leave this machine)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for var in ("FALTUNG_DATA", "FALTUNG_DATA_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(fashion_mnist, "SYSTEM_FOLDERS", ())
    for module in (mnist, fashion_mnist, cifar10):
        monkeypatch.setattr(module, "URL", "http://127.0.0.1:9/")


# ----- helpers -----

def write_set(folder, label=None, n_train=6, n_test=4, gz=True, seed=0):
    """A tiny MNIST-like set in ``folder``; labels all equal to ``label`` when given (to tell sets apart)."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        IDX_FILES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        IDX_FILES[1]: np.full(n_train, label, np.uint8) if label is not None else rng.integers(0, 10, n_train).astype(np.uint8),
        IDX_FILES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        IDX_FILES[3]: np.full(n_test, label, np.uint8) if label is not None else rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for name, a in arrays.items():
        write_idx(folder / (name + ".gz" if gz else name), a, gzip=gz)
    return arrays


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """A file server on 127.0.0.1 in a thread. ``files`` maps URL paths to bytes; ``fail`` maps
    paths to an HTTP status; ``cut`` paths announce their full length but send half and close."""

    def __init__(self):
        self.files, self.fail, self.cut, self.requests = {}, {}, set(), []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path in server.fail:
                    self.send_error(server.fail[self.path])
                    return
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:len(data) // 2] if self.path in server.cut else data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


# ----- IDX -----

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip(tmp_path, dtype, gz):
    rng = np.random.default_rng(1)
    a = (rng.normal(size=(3, 4, 5)) * 100).astype(dtype)
    write_idx(tmp_path / "a.idx", a, gzip=gz)
    b = read_idx(tmp_path / "a.idx")
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    np.testing.assert_array_equal(a, b)
    assert (tmp_path / "a.idx").read_bytes()[:2] == (b"\x1f\x8b" if gz else b"\x00\x00")


def test_idx_big_endian_on_disk_and_gzip_told_by_magic(tmp_path):
    # An int16 file built by hand: header 00 00 0B 01, one dimension 2, values 1 and 258 big-endian.
    raw = bytes([0, 0, 0x0B, 1]) + (2).to_bytes(4, "big") + b"\x00\x01\x01\x02"
    (tmp_path / "looks.gz").write_bytes(raw)                       # raw despite the name
    (tmp_path / "plain").write_bytes(gzip.compress(raw))            # gzip despite the name
    for name in ("looks.gz", "plain"):
        a = read_idx(tmp_path / name)
        assert a.tolist() == [1, 258] and a.dtype == np.int16
    write_idx(tmp_path / "w", np.array([1, 258], np.int16))
    assert (tmp_path / "w").read_bytes() == raw


def _corrupt_cases():
    good = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(6)
    return {
        "bad magic": (b"\x01\x00" + good[2:], "magic"),
        "bad type code": (good[:2] + b"\x07" + good[3:], "type code 0x07"),
        "zero ndim": (good[:3] + b"\x00" + good[4:], "0 dimensions"),
        "header cut": (good[:8], "truncated IDX header"),
        "too short for a header": (good[:3], "not an IDX file"),
        "size mismatch (extra byte)": (good + b"\x00", r"claims shape \(2, 3\)"),
        "truncated body": (good[:-2], r"claims shape \(2, 3\)"),
    }


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("case", list(_corrupt_cases()))
def test_idx_corrupt_headers_are_value_errors_naming_the_file(tmp_path, case, gz):
    data, expected = _corrupt_cases()[case]
    path = tmp_path / "bad-idx"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match=expected) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_idx_wrong_ndim_is_refused(tmp_path):
    write_idx(tmp_path / "labels", np.arange(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="1 dimensions; expected 3"):
        read_idx(tmp_path / "labels", ndim=3)
    assert read_idx(tmp_path / "labels", ndim=1).shape == (5,)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_header_claiming_a_trillion_elements_fails_fast_without_allocating(tmp_path, gz):
    header = bytes([0, 0, 0x08, 2]) + (10**6).to_bytes(4, "big") + (10**6).to_bytes(4, "big")
    data = header + bytes(100)
    if gz:
        data = bytearray(gzip.compress(data))
        # forge the gzip trailer to agree with the header, so only the deflate-ratio bound can refuse it
        data[-4:] = ((len(header) + 10**12) % 2**32).to_bytes(4, "little")
    path = tmp_path / "huge"
    path.write_bytes(bytes(data))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError) as err:
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < 2**20, f"allocated {peak} bytes before refusing"
    message = str(err.value)
    assert str(path) in message and "(1000000, 1000000)" in message and str(10**12 + 12) in message
    assert (str(len(data)) if not gz else "inflate to at most") in message


def test_write_idx_refuses_types_without_an_idx_code(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "x", np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))
    assert not (tmp_path / "x").exists()


# ----- MNIST / Fashion-MNIST: search order -----

def test_search_order_path_then_env_then_cache_then_system(tmp_path, monkeypatch):
    folders = {
        1: tmp_path / "arg",
        2: tmp_path / "data" / "fashion-mnist",
        3: tmp_path / "data",
        4: tmp_path / "xdg" / "faltung" / "fashion-mnist",
        5: tmp_path / "system",
    }
    for label, folder in folders.items():
        write_set(folder, label=label, gz=label % 2 == 0)  # raw and gzip alike
    monkeypatch.setenv("FALTUNG_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(fashion_mnist, "SYSTEM_FOLDERS", (str(folders[5]),))
    for label in range(1, 6):
        (x, y), (xt, yt) = fashion_mnist.load_data(path=folders[1], download=False)
        assert set(y) == {label} and set(yt) == {label}
        assert x.shape == (6, 28, 28) and xt.shape == (4, 28, 28) and x.dtype == y.dtype == np.uint8
        for name in IDX_FILES:  # take this folder's set away; the next place must win
            for f in (folders[label] / name, folders[label] / (name + ".gz")):
                f.unlink(missing_ok=True)
    with pytest.raises(DatasetNotFoundError):
        fashion_mnist.load_data(path=folders[1], download=False)


def test_cache_follows_xdg_then_home(tmp_path, monkeypatch):
    assert cache_dir("mnist") == tmp_path / "xdg" / "faltung" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_dir("mnist") == tmp_path / "home" / ".cache" / "faltung" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    write_set(tmp_path / "home" / ".cache" / "faltung" / "mnist", label=7)
    (_, y), _ = mnist.load_data(download=False)
    assert set(y) == {7}


def test_partial_folder_is_skipped_and_reported(tmp_path):
    write_set(tmp_path / "a", label=1, gz=False)
    (tmp_path / "a" / IDX_FILES[3]).unlink()
    with pytest.raises(DatasetNotFoundError, match=r"missing t10k-labels-idx1-ubyte\(\.gz\)"):
        mnist.load_data(tmp_path / "a", download=False)
    write_set(tmp_path / "xdg" / "faltung" / "mnist", label=2)
    (_, y), _ = mnist.load_data(tmp_path / "a", download=False)
    assert set(y) == {2}


def test_not_found_message_names_every_folder_and_both_ways(tmp_path, monkeypatch):
    monkeypatch.setenv("FALTUNG_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(fashion_mnist, "SYSTEM_FOLDERS", (str(tmp_path / "system"),))
    with pytest.raises(FileNotFoundError) as err:
        fashion_mnist.load_data(tmp_path / "arg", download=False)
    message = str(err.value)
    assert isinstance(err.value, DatasetNotFoundError)
    for folder in ("arg", "data/fashion-mnist", "data ", "xdg/faltung/fashion-mnist", "system"):
        assert str(tmp_path / folder.strip()) in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "FALTUNG_DATA" in message and str(tmp_path / "xdg" / "faltung" / "fashion-mnist") in message
    assert "train-images-idx3-ubyte.gz" in message


def test_loader_checks_that_files_fit_together(tmp_path):
    write_set(tmp_path, label=1)
    write_idx(tmp_path / (IDX_FILES[1] + ".gz"), np.zeros(5, np.uint8), gzip=True)  # 6 images, 5 labels
    with pytest.raises(ValueError, match="6 images but .* 5 labels"):
        mnist.load_data(tmp_path, download=False)
    write_idx(tmp_path / (IDX_FILES[0] + ".gz"), np.zeros((5, 27, 27), np.uint8), gzip=True)
    with pytest.raises(ValueError, match="27x27; expected 28x28"):
        mnist.load_data(tmp_path, download=False)
    with pytest.raises(ValueError, match="is a file"):
        mnist.load_data(tmp_path / (IDX_FILES[0] + ".gz"))


# ----- downloads from a loopback server -----

@pytest.fixture
def served(server, tmp_path, monkeypatch):
    """The tiny set served as /mnist/<file>.gz, with SHA256 patched to match; FALTUNG_DATA_URL set."""
    arrays = write_set(tmp_path / "served", label=3)
    blobs = {f + ".gz": (tmp_path / "served" / (f + ".gz")).read_bytes() for f in IDX_FILES}
    for file, data in blobs.items():
        server.files[f"/mnist/{file}"] = data
    monkeypatch.setattr(mnist, "SHA256", {file: sha(data) for file, data in blobs.items()})
    monkeypatch.setenv("FALTUNG_DATA_URL", server.url)
    return server, arrays, blobs


def test_download_verifies_and_caches(served, tmp_path, capsys):
    server, arrays, blobs = served
    (x, y), (xt, yt) = mnist.load_data()
    np.testing.assert_array_equal(x, arrays[IDX_FILES[0]])
    np.testing.assert_array_equal(yt, arrays[IDX_FILES[3]])
    assert sorted(server.requests) == sorted(f"/mnist/{f}.gz" for f in IDX_FILES)
    cache = tmp_path / "xdg" / "faltung" / "mnist"
    assert sorted(os.listdir(cache)) == sorted(f + ".gz" for f in IDX_FILES)  # no temporary files left
    assert "Downloading" in capsys.readouterr().out
    server.requests.clear()
    (x2, _), _ = mnist.load_data()  # second time: from the cache, no request
    assert server.requests == [] and np.array_equal(x, x2)


def test_download_base_url_argument_wins_over_env(served, monkeypatch):
    server, arrays, _ = served
    monkeypatch.setenv("FALTUNG_DATA_URL", "http://127.0.0.1:9")
    (x, _), _ = mnist.load_data(base_url=server.url + "/mnist", verbose=0)
    assert np.array_equal(x, arrays[IDX_FILES[0]]) and len(server.requests) == 4


def test_download_with_wrong_sha256_leaves_nothing(served, tmp_path, monkeypatch):
    server, _, blobs = served
    monkeypatch.setitem(mnist.SHA256, IDX_FILES[0] + ".gz", "0" * 64)
    with pytest.raises(DatasetNotFoundError) as err:
        mnist.load_data(verbose=0)
    message = str(err.value)
    assert "SHA-256" in message and sha(blobs[IDX_FILES[0] + ".gz"]) in message and "0" * 64 in message
    cache = tmp_path / "xdg" / "faltung" / "mnist"
    assert not cache.exists() or os.listdir(cache) == []


@pytest.mark.parametrize("failure", ["http 500", "cut", "refused"])
def test_download_failure_gives_the_helpful_message(served, tmp_path, monkeypatch, failure):
    server, _, _ = served
    path = f"/mnist/{IDX_FILES[0]}.gz"
    if failure == "http 500":
        server.fail[path] = 500
    elif failure == "cut":
        server.cut.add(path)
    else:
        monkeypatch.setenv("FALTUNG_DATA_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(DatasetNotFoundError) as err:
        mnist.load_data(tmp_path / "arg", verbose=0)
    message = str(err.value)
    assert "failed" in message and str(tmp_path / "arg") in message and "To get the data" in message
    assert {"http 500": "HTTP 500", "cut": "after", "refused": "127.0.0.1:9"}[failure] in message
    assert "Traceback" not in message and err.value.__cause__ is None
    cache = tmp_path / "xdg" / "faltung" / "mnist"
    assert not cache.exists() or os.listdir(cache) == []


def test_download_off_never_touches_the_network(served):
    server, _, _ = served
    with pytest.raises(DatasetNotFoundError, match="download=False"):
        mnist.load_data(download=False)
    assert server.requests == []


# ----- CIFAR-10 -----

def _cifar_records(n, seed):
    rng = np.random.default_rng(seed)
    records = rng.integers(0, 256, (n, cifar10.RECORD_BYTES), dtype=np.uint8)
    records[:, 0] = rng.integers(0, 10, n)
    return records


def _expected(records):
    # independent of the loader: pixel (i, j) of channel c sits at byte 1 + 1024 c + 32 i + j
    n = len(records)
    x = np.empty((n, 32, 32, 3), np.uint8)
    for c in range(3):
        for i in range(32):
            x[:, i, :, c] = records[:, 1 + 1024 * c + 32 * i: 1 + 1024 * c + 32 * i + 32]
    return x, records[:, :1]


def _add(tar, name, data=b"", kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def write_cifar(path, per_batch=3, members=None, extra=()):
    batches = {f: _cifar_records(per_batch, i) for i, f in enumerate(cifar10.FILES)}
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "cifar-10-batches-bin/readme.html", b"<html>")
        for f, records in batches.items():
            name = (members or {}).get(f, f"cifar-10-batches-bin/{f}")
            if name is not None:
                _add(tar, name, records.tobytes())
        for item in extra:
            _add(tar, *item)
    train = np.concatenate([batches[f] for f in cifar10.TRAIN_FILES])
    return _expected(train), _expected(batches[cifar10.TEST_FILE])


@pytest.fixture
def small_cifar(monkeypatch):
    monkeypatch.setattr(cifar10, "RECORDS_PER_BATCH", 3)


def test_cifar10_from_tar_gz_in_a_folder_and_as_a_file(tmp_path, small_cifar):
    (x_exp, y_exp), (xt_exp, yt_exp) = write_cifar(tmp_path / cifar10.ARCHIVE)
    for path in (tmp_path, tmp_path / cifar10.ARCHIVE):
        (x, y), (xt, yt) = cifar10.load_data(path, download=False)
        assert x.shape == (15, 32, 32, 3) and y.shape == (15, 1) and xt.shape == (3, 32, 32, 3)
        assert x.dtype == y.dtype == np.uint8
        np.testing.assert_array_equal(x, x_exp)
        np.testing.assert_array_equal(y, y_exp)
        np.testing.assert_array_equal(xt, xt_exp)
        np.testing.assert_array_equal(yt, yt_exp)
    assert sorted(os.listdir(tmp_path)) == [cifar10.ARCHIVE]  # nothing extracted


def test_cifar10_from_extracted_folder_via_faltung_data(tmp_path, monkeypatch, small_cifar):
    (x_exp, y_exp), _ = write_cifar(tmp_path / "a.tar.gz")
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        tar.extractall(tmp_path / "data" / "cifar10", filter="data")
    monkeypatch.setenv("FALTUNG_DATA", str(tmp_path / "data"))
    (x, y), _ = cifar10.load_data(download=False)
    np.testing.assert_array_equal(x, x_exp)
    np.testing.assert_array_equal(y, y_exp)
    (tmp_path / "data" / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="test_batch.bin: 100 bytes"):
        cifar10.load_data(download=False)


def test_cifar10_download_from_loopback(tmp_path, monkeypatch, server, small_cifar):
    (x_exp, _), _ = write_cifar(tmp_path / "served.tar.gz")
    blob = (tmp_path / "served.tar.gz").read_bytes()
    server.files[f"/cifar10/{cifar10.ARCHIVE}"] = blob
    monkeypatch.setenv("FALTUNG_DATA_URL", server.url)
    monkeypatch.setattr(cifar10, "SHA256", {cifar10.ARCHIVE: "f" * 64})
    with pytest.raises(DatasetNotFoundError, match="SHA-256"):
        cifar10.load_data(verbose=0)
    assert not (tmp_path / "xdg" / "faltung" / "cifar10" / cifar10.ARCHIVE).exists()
    monkeypatch.setattr(cifar10, "SHA256", {cifar10.ARCHIVE: sha(blob)})
    (x, _), _ = cifar10.load_data(verbose=0)
    np.testing.assert_array_equal(x, x_exp)
    assert (tmp_path / "xdg" / "faltung" / "cifar10" / cifar10.ARCHIVE).read_bytes() == blob


def test_cifar10_tar_members_outside_the_folder_are_never_read_or_written(tmp_path, small_cifar):
    evil = {"data_batch_1.bin": "../data_batch_1.bin", "test_batch.bin": "/tmp/test_batch.bin"}
    write_cifar(tmp_path / "bad.tar.gz", members=evil)
    with pytest.raises(ValueError, match="missing data_batch_1.bin, test_batch.bin"):
        cifar10.load_data(tmp_path / "bad.tar.gz")
    assert sorted(os.listdir(tmp_path)) == ["bad.tar.gz"]


@pytest.mark.parametrize("problem", ["symlink", "size", "label", "not a tar", "duplicate"])
def test_cifar10_bad_archives_are_value_errors(tmp_path, small_cifar, problem):
    path = tmp_path / "c.tar.gz"
    if problem == "symlink":
        write_cifar(path, members={"data_batch_2.bin": None},
                    extra=[("cifar-10-batches-bin/data_batch_2.bin", b"", tarfile.SYMTYPE, "/etc/passwd")])
        expected = "not a regular file"
    elif problem == "size":
        write_cifar(path, members={"data_batch_2.bin": None},
                    extra=[("cifar-10-batches-bin/data_batch_2.bin", bytes(100))])
        expected = "data_batch_2.bin: 100 bytes; a CIFAR-10 batch is 3 records"
    elif problem == "label":
        bad = _cifar_records(3, 9)
        bad[1, 0] = 10
        write_cifar(path, members={"test_batch.bin": None},
                    extra=[("cifar-10-batches-bin/test_batch.bin", bad.tobytes())])
        expected = "label byte 10"
    elif problem == "duplicate":
        write_cifar(path, extra=[("cifar-10-batches-bin/data_batch_1.bin", _cifar_records(3, 5).tobytes())])
        expected = "appears twice"
    else:
        path.write_bytes(b"this is not a tar archive at all" * 20)
        expected = "not a readable CIFAR-10 archive"
    with pytest.raises(ValueError, match=expected) as err:
        cifar10.load_data(path)
    assert str(path) in str(err.value)


# ----- image folders -----

COLORS = {"cat": (200, 10, 10), "dog": (10, 10, 200)}


@pytest.fixture
def photos(tmp_path):
    """cat/ with 5 images and dog/ with 7 (PNG, JPEG-free lossless formats and a GIF), plus a text file."""
    Image = pytest.importorskip("PIL.Image")
    root = tmp_path / "photos"
    formats = ["png", "bmp", "gif", "png", "png", "png", "png"]
    for name, count in (("cat", 5), ("dog", 7)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            image = Image.new("RGB", (6 + i, 8), COLORS[name])
            image.save(root / name / f"{i:02d}.{formats[i]}")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    return root


def test_image_folder_batches_labels_and_class_names(photos):
    ds = datasets.image_dataset_from_directory(photos, image_size=(4, 5), batch_size=5, seed=1, verbose=False)
    assert ds.class_names == ["cat", "dog"] and len(ds) == 3 and len(ds.file_paths) == 12
    batches = list(ds)
    assert [b[0].shape for b in batches] == [(5, 4, 5, 3), (5, 4, 5, 3), (2, 4, 5, 3)]
    x, y = ds.numpy()
    assert x.dtype == np.float32 and y.dtype == np.int32 and np.bincount(y).tolist() == [5, 7]
    np.testing.assert_array_equal(x, np.concatenate([b[0] for b in batches]))
    np.testing.assert_array_equal(y, np.concatenate([b[1] for b in batches]))
    for image, label in zip(x, y):  # every image carries its folder's colour: labels follow their files
        np.testing.assert_allclose(image, np.broadcast_to(COLORS[ds.class_names[label]], image.shape), atol=0.5)
    for path, label in zip(ds.file_paths, y):
        assert Path(path).parent.name == ds.class_names[label]


def test_image_folder_split_is_keras_split(photos):
    train, val = datasets.image_dataset_from_directory(photos, image_size=(4, 4), seed=7, validation_split=0.25,
                                                       subset="both", verbose=False)
    # Keras: files sorted by class then name, shuffled by np.random.RandomState(seed), last 25% validate
    files = [str(photos / c / f) for c in ("cat", "dog") for f in sorted(os.listdir(photos / c)) if f != "notes.txt"]
    np.random.RandomState(7).shuffle(files)
    assert train.file_paths == files[:9] and val.file_paths == files[9:]
    alone = datasets.image_dataset_from_directory(photos, image_size=(4, 4), seed=7, validation_split=0.25,
                                                  subset="validation", verbose=False)
    assert alone.file_paths == val.file_paths and len(val.numpy()[0]) == 3


def test_image_folder_label_and_color_modes(photos):
    kw = dict(image_size=(3, 3), seed=0, verbose=False)
    x, y = datasets.image_dataset_from_directory(photos, label_mode="categorical", color_mode="grayscale", **kw).numpy()
    assert x.shape == (12, 3, 3, 1) and y.shape == (12, 2) and y.dtype == np.float32 and (y.sum(1) == 1).all()
    x, y = datasets.image_dataset_from_directory(photos, label_mode="binary", color_mode="rgba", **kw).numpy()
    assert x.shape == (12, 3, 3, 4) and y.shape == (12, 1) and set(y.ravel()) == {0.0, 1.0}
    assert (x[..., 3] == 255).all()
    only_x = datasets.image_dataset_from_directory(photos, label_mode=None, batch_size=None, **kw)
    first = next(iter(only_x))
    assert isinstance(first, np.ndarray) and first.shape == (3, 3, 3) and len(only_x) == 12
    ds = datasets.image_dataset_from_directory(photos, class_names=["dog", "cat"], **kw)
    x, y = ds.numpy()
    assert ds.class_names == ["dog", "cat"] and np.bincount(y).tolist() == [7, 5]


def test_image_folder_errors_are_clear(photos, tmp_path):
    f = datasets.image_dataset_from_directory
    with pytest.raises(FileNotFoundError, match="does not exist"):
        f(tmp_path / "nowhere")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "a" / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="No images found"):
        f(tmp_path / "empty", verbose=False)
    with pytest.raises(ValueError, match="color_mode must be one of"):
        f(photos, color_mode="cmyk")
    with pytest.raises(ValueError, match="subset and validation_split go together"):
        f(photos, subset="training", seed=1)
    with pytest.raises(ValueError, match="give a seed"):
        f(photos, subset="training", validation_split=0.2)
    with pytest.raises(ValueError, match="do not match the subfolders"):
        f(photos, class_names=["cat", "cow"])
    with pytest.raises(ValueError, match="interpolation must be one of"):
        f(photos, interpolation="magic")


def test_image_folder_without_pillow_says_which_extra(photos, monkeypatch):
    for module in ("PIL", "PIL.Image"):
        monkeypatch.setitem(sys.modules, module, None)  # as if Pillow were not installed
    with pytest.raises(ImportError, match=r"faltung\[images\]"):
        datasets.image_dataset_from_directory(photos)


@pytest.mark.parametrize("method,torch_mode", [("bilinear", "bilinear"), ("nearest", "nearest-exact")])
def test_resize_matches_tensorflow_half_pixel_rule(torch, method, torch_mode):
    from faltung.datasets.resize import resize
    image = np.random.default_rng(0).uniform(0, 255, (7, 9, 3)).astype(np.float32)
    t = torch.from_numpy(image).permute(2, 0, 1)[None]
    for size in ((4, 13), (11, 5), (7, 9), (1, 1)):
        kwargs = {"align_corners": False} if method == "bilinear" else {}
        expected = torch.nn.functional.interpolate(t, size=size, mode=torch_mode, **kwargs)[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(resize(image, size, method), expected, atol=1e-3)


# ----- shapes -----

def test_shapes_repeatable_balanced_and_mnist_like():
    (x, y), (xt, yt) = shapes.load_data(n_train=200, n_test=50, seed=3)
    (x2, y2), (xt2, yt2) = shapes.load_data(n_train=200, n_test=50, seed=3)
    assert x.shape == (200, 28, 28) and x.dtype == y.dtype == np.uint8 and xt.shape == (50, 28, 28)
    assert np.array_equal(x, x2) and np.array_equal(y, y2) and np.array_equal(xt, xt2)
    assert np.bincount(y, minlength=10).tolist() == [20] * 10 and np.bincount(yt).max() - np.bincount(yt).min() <= 1
    (x3, _), (xt3, _) = shapes.load_data(n_train=200, n_test=50, seed=4)
    assert not np.array_equal(x, x3)
    _, (xt4, yt4) = shapes.load_data(n_train=30, n_test=50, seed=3)  # the test set does not depend on n_train
    assert np.array_equal(xt, xt4) and np.array_equal(yt, yt4)
    assert x.max() > 200 and x.min() < 60  # bright strokes on a darker background
    (x5, _), _ = shapes.load_data(n_train=10, n_test=0, image_size=40)
    assert x5.shape == (10, 40, 40) and len(shapes.CLASS_NAMES) == 10


def test_shapes_draws_the_lecture_corner_where_the_class_says():
    (x, y), _ = shapes.load_data(n_train=100, n_test=0, seed=0, noise=0.0)
    for image, label in zip(x, y):
        ink = image > (int(image.min()) + int(image.max())) / 2
        rows, cols = np.nonzero(ink)
        top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
        name = shapes.CLASS_NAMES[label]
        if name == "lower-left corner":   # └: ink down the left side and along the bottom only
            assert ink[top:bottom + 1, left].mean() > 0.8 and ink[bottom, left:right + 1].mean() > 0.8
            assert ink[top, right] == 0 and ink[top:bottom - 2, right].sum() == 0
        if name == "box":
            for edge in (ink[top, left:right + 1], ink[bottom, left:right + 1], ink[top:bottom + 1, left],
                         ink[top:bottom + 1, right]):
                assert edge.mean() > 0.8
            assert ink[(top + bottom) // 2, (left + right) // 2] == 0
        if name == "vertical line":
            assert right - left <= 3 and bottom - top > 8


def test_shapes_is_fast_and_checks_arguments():
    start = time.perf_counter()
    shapes.load_data(n_train=3000, n_test=0)
    assert time.perf_counter() - start < 2.0
    for bad in (dict(n_train=-1), dict(image_size=5), dict(seed=-2), dict(noise=3)):
        with pytest.raises(ValueError):
            shapes.load_data(**bad)


def test_shapes_is_learnable_by_a_small_cnn(torch):
    (x, y), (xt, yt) = shapes.load_data(n_train=1500, n_test=500, seed=0)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(16, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(32 * 5 * 5, 10))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    xs = torch.from_numpy(x[:, None].astype(np.float32) / 255)
    ys = torch.from_numpy(y.astype(np.int64))
    for epoch in range(6):
        for i in torch.randperm(len(xs)).split(32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xs[i]), ys[i]).backward()
            opt.step()
    with torch.no_grad():
        accuracy = (net(torch.from_numpy(xt[:, None].astype(np.float32) / 255)).argmax(1).numpy() == yt).mean()
    assert accuracy > 0.9


# ----- the package -----

def test_load_and_class_names_by_name(tmp_path):
    write_set(tmp_path, label=4)
    for name in ("mnist", "MNIST"):
        (_, y), _ = datasets.load(name, path=tmp_path, download=False)
        assert set(y) == {4}
    (x, _), _ = datasets.load("shapes", n_train=20, n_test=10)
    assert x.shape == (20, 28, 28)
    assert datasets.class_names("fashion_mnist") == datasets.class_names("fashion-mnist") == [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert datasets.class_names("mnist") == [str(d) for d in range(10)]
    assert datasets.class_names("cifar10")[0] == "airplane"
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        datasets.load("imagenet")
    with pytest.raises(ValueError, match="no files"):
        datasets.load("shapes", path=tmp_path)


def test_importing_datasets_imports_nothing_heavy():
    code = ("import sys, faltung.datasets; "
            "print([m for m in ('PIL', 'urllib.request', 'tarfile', 'http.client') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.skipif(not REAL_FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_the_debian_package(monkeypatch):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_FOLDERS", (str(REAL_FASHION),))
    (x, y), (xt, yt) = fashion_mnist.load_data(download=False)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert y.shape == (60000,) and yt.shape == (10000,)
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    assert fashion_mnist.CLASS_NAMES[y[0]] == "Ankle boot"
    # Debian's .gz files inflate to exactly Zalando's IDX bytes
    for name, digest in fashion_mnist.CONTENT_SHA256.items():
        with gzip.open(REAL_FASHION / f"{name}.gz") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest
