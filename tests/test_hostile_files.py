"""Hostile files: zip bombs that lie about their size, malformed .npy headers, configs asking for absurd
sizes, unreadable files, and fuzzed model and IDX files.

The promise: every such file is refused with a ValueError naming the file (or, when it cannot be
opened at all, the OSError that says why), in well under a second and a few hundred MB. Time and
memory are measured in a child process that runs under an address-space limit, so a regression
fails the test instead of swapping the machine.
"""
import contextlib
import io
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import faltung as ft
from faltung import backend, layers, models, zoo
from faltung.cli import main
from faltung.datasets.idx import read_idx, write_idx

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="measures memory through /proc")

SECONDS = 3.0          # "well under a second", with slack for a loaded CI machine
PEAK_RSS_MB = 300


# ----- crafting files -----

def small_model():
    model = models.Sequential([layers.Input((6, 6, 1)), layers.Conv2D(2, 3), layers.Flatten(),
                               layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def members_of(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def deflate_bomb(prefix: bytes, mib: int) -> bytes:
    """A raw deflate stream of ``prefix`` and then ``mib`` MiB of spaces, about 1 KB per MiB: one
    flushed block repeated (a full flush makes each copy independent of the ones before)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(b" " * 2**20) + c.flush(zlib.Z_FULL_FLUSH)
    return head + block * mib + c.flush()


def deflated(name: str, data: bytes) -> tuple:
    """An honest zip entry: (name, raw deflate payload, method, crc, declared size)."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return name, c.compress(data) + c.flush(), zipfile.ZIP_DEFLATED, zlib.crc32(data), len(data)


def zip_bytes(entries) -> bytes:
    """A zip archive whose headers say exactly what ``entries`` say, lies included."""
    out, central = bytearray(), bytearray()
    for name, payload, method, crc, size in entries:
        encoded, offset = name.encode(), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(payload), size,
                           len(encoded), 0) + encoded + payload
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(payload),
                               size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + end)


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def replace_npy(npz: bytes, index: int, new: bytes) -> bytes:
    """The .npz ``npz`` with its ``index``-th member's bytes replaced by ``new``."""
    with zipfile.ZipFile(io.BytesIO(npz)) as zin:
        names = zin.namelist()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zout:
            for i, name in enumerate(names):
                zout.writestr(name, new if i == index else zin.read(name))
    return buffer.getvalue()


def write_members(path, members: dict) -> None:
    path.write_bytes(zip_bytes([deflated(name, data) for name, data in members.items()]))


def edit_config(good, path, edit) -> None:
    members = members_of(good)
    document = json.loads(members["config.json"])
    edit(document["config"])
    write_members(path, {**members, "config.json": json.dumps(document).encode()})


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.faltung"
    small_model().save(path)
    return path


# ----- measuring in a child process -----

CHILD = r"""
import json, resource, sys, time
import faltung.models, faltung.zoo

def status_bytes(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))

# a ceiling 1 GiB above what is mapped now: a regression dies of MemoryError, not the machine
resource.setrlimit(resource.RLIMIT_AS, (status_bytes("VmSize") + 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))
if sys.argv[1] == "zoo":
    load = lambda path: faltung.zoo.build(path, None, None)
else:
    load = faltung.models.load_model
for path in sys.argv[2:]:
    began = time.perf_counter()
    try:
        load(path)
        outcome = "loaded"
    except Exception as err:
        outcome = f"{type(err).__name__}: {err}"
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
    print(json.dumps({"path": path, "outcome": outcome, "seconds": time.perf_counter() - began,
                      "peak_rss_mb": status_bytes("VmHWM") / 2**20}))
"""


def load_in_child(paths, loader="load_model") -> list[dict]:
    """Load each file in one fresh interpreter; per file: outcome, seconds, peak RSS so far (MB)."""
    result = subprocess.run([sys.executable, "-c", CHILD, loader, *map(str, paths)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def assert_refused_fast_and_small(reports, *fragments):
    for report in reports:
        assert report["outcome"].startswith("ValueError: "), report
        assert report["path"] in report["outcome"], report
        for fragment in fragments:
            assert fragment in report["outcome"], report
        assert report["seconds"] < SECONDS, report
        assert report["peak_rss_mb"] < PEAK_RSS_MB, report


def cli(args, capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def assert_one_line_error(code, err, path):
    assert code == 1 and err.startswith("faltung: error:") and str(path) in err, err
    assert err.count("\n") == 1 and "Traceback" not in err, err


# ----- 1. zip bombs whose headers lie about the size -----

@pytest.mark.parametrize("member", ["config.json", "weights.npz", "optimizer.npz"])
def test_a_member_inflating_past_its_declared_size_is_refused_at_once(member, good, tmp_path, capsys):
    entries = [deflated(name, data) for name, data in members_of(good).items()]
    bombs, declared = [], b" " * 2000
    # a CRC that fails once the declared 2,000 bytes are in, and the CRC of exactly those bytes
    for i, crc in enumerate([0x12345678, zlib.crc32(declared)]):
        bomb = (member, deflate_bomb(b"", 1024), zipfile.ZIP_DEFLATED, crc, len(declared))
        path = tmp_path / f"bomb-{i}.faltung"
        path.write_bytes(zip_bytes([bomb if e[0] == member else e for e in entries]))
        assert path.stat().st_size < 1.2e6  # a 1 MB file that inflates to 1 GiB
        bombs.append(path)
    assert_refused_fast_and_small(load_in_child(bombs), member)
    assert_one_line_error(*cli(["summary", str(bombs[0])], capsys), bombs[0])


def inner_entries(npz: bytes) -> list[tuple]:
    """The members of an .npz as honest stored ``zip_bytes`` entries, to edit before packing again."""
    with zipfile.ZipFile(io.BytesIO(npz)) as z:
        return [(i.filename, z.read(i), zipfile.ZIP_STORED, zlib.crc32(z.read(i)), i.file_size) for i in z.infolist()]


def test_an_npy_member_inflating_past_its_declared_size_is_refused_at_once(good, tmp_path):
    members = members_of(good)
    entries = inner_entries(members["weights.npz"])
    name, npy = entries[0][:2]
    # the kernel's true .npy bytes and size in the header, but the stream goes on for 512 MiB
    entries[0] = (name, deflate_bomb(npy, 512), zipfile.ZIP_DEFLATED, 0, len(npy))
    path = tmp_path / "inner-bomb.faltung"
    write_members(path, {**members, "weights.npz": zip_bytes(entries)})
    assert_refused_fast_and_small(load_in_child([path]), "weights.npz", name)


def test_members_compressed_with_unbounded_methods_are_refused(good, tmp_path):
    # zipfile inflates bzip2 and lzma members without any limit: a few KB can become gigabytes
    path = tmp_path / "bzip2.faltung"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as z:
        for name, data in members_of(good).items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match="compression method 12; faltung reads only stored and deflated"):
        models.load_model(path)


def test_a_declared_size_beyond_what_deflate_can_hold_is_refused_without_inflating(good, tmp_path):
    entries = [deflated(name, data) for name, data in members_of(good).items()]
    i = [e[0] for e in entries].index("config.json")
    name, payload, method, crc, _ = entries[i]
    entries[i] = (name, payload, method, crc, 2000 * len(payload))  # within the 16 MB a config may have
    path = tmp_path / "ratio.faltung"
    path.write_bytes(zip_bytes(entries))
    with pytest.raises(ValueError, match="more than deflate can hold") as info:
        models.load_model(path)
    assert str(path) in str(info.value)


# ----- 2. malformed .npy headers -----

MALFORMED_NPY = {
    "unterminated literal": b"\x93NUMPY\x01\x00\x04\x00{  \n",  # tokenize.TokenError in numpy's parser
    "not a literal": b"\x93NUMPY\x01\x00\x10\x00{'descr': <f4}\n",
    "negative shape": b"\x93NUMPY\x01\x00\x40\x00"
                      + b"{'descr': '<f4', 'fortran_order': False, 'shape': (-9, 2), }".ljust(63) + b"\n",
    "unknown version": b"\x93NUMPY\x07\x00\x04\x00{}  \n",
    "header longer than the member": b"\x93NUMPY\x02\x00\xff\xff\xff\x7f{",
    "no magic": b"PK\x03\x04 not an npy file",
}


@pytest.mark.parametrize("case", MALFORMED_NPY)
@pytest.mark.parametrize("member", ["weights.npz", "optimizer.npz"])
def test_a_malformed_npy_member_is_a_value_error_naming_file_and_member(case, member, good, tmp_path, capsys):
    members = members_of(good)
    with zipfile.ZipFile(io.BytesIO(members[member])) as z:
        first = z.namelist()[0]
    path = tmp_path / "bad.faltung"
    write_members(path, {**members, member: replace_npy(members[member], 0, MALFORMED_NPY[case])})
    with pytest.raises(ValueError) as info:
        models.load_model(path)
    assert str(path) in str(info.value) and member in str(info.value) and first in str(info.value)
    assert_one_line_error(*cli(["summary", str(path)], capsys), path)


# ----- 3. configs asking for absurd sizes -----

def _set(layer_index, **values):
    return lambda config: config["layers"][layer_index]["config"].update(values)


ABSURD = {  # small_model's config: batch_shape, then layers Conv2D, Flatten, Dense
    "Conv2D filters=10**9": _set(0, filters=10**9),
    "Conv2D kernel 10**5": _set(0, kernel_size=[10**5, 10**5]),
    "Dense units=10**12": _set(2, units=10**12),
    "a 10**6 x 10**6 input": lambda config: config.update(batch_shape=[None, 10**6, 10**6, 1]),
    "a shape beyond int64": lambda config: config.update(batch_shape=[None, 2**62, 4, 1]),
    "Reshape to infinity": lambda config: config["layers"].insert(1, {"class_name": "Reshape", "config": {
        "target_shape": [float("inf")]}}),  # OverflowError inside the layer
}


def test_absurd_configs_are_refused_before_allocating(good, tmp_path):
    paths = []
    for i, edit in enumerate(ABSURD.values()):
        paths.append(tmp_path / f"absurd-{i}.faltung")
        edit_config(good, paths[-1], edit)
    # Dense(2000 -> 5*10**5) in a 25 KB file: 4.0 GB, under the cap, so the file's shapes refuse it
    models.Sequential([layers.Input((2000,)), layers.Dense(3)]).save(tmp_path / "wide.faltung")
    paths.append(tmp_path / "wide-500k.faltung")
    edit_config(tmp_path / "wide.faltung", paths[-1], _set(0, units=5 * 10**5))
    reports = load_in_child(paths)
    assert_refused_fast_and_small(reports)
    for case, report in zip(ABSURD, reports):
        assert "model config is invalid" in report["outcome"], (case, report)
    assert "more than the limit of 4,294,967,296 bytes" in reports[2]["outcome"]
    assert "OverflowError" in reports[len(ABSURD) - 1]["outcome"]
    assert "has shape (2000, 3); the model needs (2000, 500000)" in reports[-1]["outcome"]


def config_file(tmp_path, edit=None, name="net.json"):
    config = small_model().get_config()
    if edit:
        edit(config)
    path = tmp_path / name
    path.write_text(json.dumps({"class_name": "Sequential", "config": config}))
    return path


def test_train_refuses_an_absurd_config_in_one_line_before_loading_data(tmp_path, capsys, monkeypatch):
    import faltung.cli.train as train
    monkeypatch.setattr(train, "load", lambda *a, **k: pytest.fail("the data was loaded before the config was checked"))
    paths = [config_file(tmp_path, edit, f"absurd-{i}.json") for i, edit in enumerate(ABSURD.values())]
    for path in paths:
        code, err = cli(["train", "--model", str(path), "--verbose", "0", "--out", str(tmp_path / "x.faltung")], capsys)
        assert_one_line_error(code, err, path)
    reports = load_in_child(paths, loader="zoo")
    assert_refused_fast_and_small(reports, "model config is invalid")


def test_layer_counts_and_config_sizes_are_bounded(tmp_path):
    from faltung.io import MAX_CONFIG_BYTES
    from faltung.models.from_config import MAX_LAYERS

    def relus(n):
        path = tmp_path / f"relu-{n}.json"
        path.write_text(json.dumps({"class_name": "Sequential", "config": {
            "name": "deep", "batch_shape": [None, 4], "layers": [{"class_name": "ReLU", "config": {}}] * n}}))
        return str(path)

    began = time.perf_counter()
    assert len(zoo.build(relus(MAX_LAYERS), None, None).layers) == MAX_LAYERS
    assert time.perf_counter() - began < SECONDS  # linear: checking names layer by layer took 9 s
    with pytest.raises(ValueError, match=f"lists {MAX_LAYERS + 1:,} layers; at most {MAX_LAYERS:,}"):
        zoo.build(relus(MAX_LAYERS + 1), None, None)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * MAX_CONFIG_BYTES + b"{}")
    with pytest.raises(ValueError, match=f"big.json: more than {MAX_CONFIG_BYTES:,} bytes"):
        zoo.build(str(big), None, None)


def test_a_config_file_builds_exactly_the_weights_code_builds(tmp_path):
    path = config_file(tmp_path)
    config = json.loads(path.read_text())["config"]
    ft.set_seed(7)
    expected = models.Sequential.from_config(config)
    expected_next = backend.rng().random()
    ft.set_seed(7)
    built = zoo.build(str(path), None, None)
    assert backend.rng().random() == expected_next  # as many draws as an ordinary build: training shuffles alike
    assert len(built.weights) == 4
    for a, b in zip(expected.weights, built.weights):
        np.testing.assert_array_equal(a.data, b.data)
        assert b.data.flags.writeable and 0 not in b.data.strides  # real arrays, not placeholders


def test_loading_draws_nothing_from_the_random_stream_and_gives_writable_weights(good):
    ft.set_seed(3)
    before = backend.rng().bit_generator.state
    model = models.load_model(good)
    assert backend.rng().bit_generator.state == before
    for w in model.weights:
        w.data += 1  # a placeholder (read-only, zero strides) would refuse this
    with np.load(io.BytesIO(members_of(good)["weights.npz"])) as npz:
        saved = [npz[k] for k in sorted(npz.files)]
    for a, b in zip(model.get_weights(), saved):
        np.testing.assert_array_equal(a, b + 1)


def test_a_weights_file_failing_at_its_last_array_changes_nothing(good, tmp_path):
    model = small_model()
    before = model.get_weights()
    members = members_of(good)
    entries = inner_entries(members["weights.npz"])
    name, npy, method, crc, size = entries[-1]
    entries[-1] = (name, npy, method, crc ^ 1, size)  # headers fine; the CRC fails once the data is read
    path = tmp_path / "last-bad.faltung"
    write_members(path, {**members, "weights.npz": zip_bytes(entries)})
    with pytest.raises(ValueError, match=f"{name}.*CRC"):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ----- 4. a file that cannot be read -----

UNREADABLE_CHILD = r"""
import contextlib, importlib, io, json, os, sys
import faltung.cli, faltung.io
faltung.cli.build_parser()  # every module the load may need is imported before the privileges go
for name in ("faltung.models.from_config", "faltung.untrusted_zip"):
    with contextlib.suppress(ImportError):
        importlib.import_module(name)
if os.getuid() == 0:
    os.setgroups([]); os.setgid(65534); os.setuid(65534)  # nobody: mode 000 means unreadable
try:
    faltung.models.load_model(sys.argv[1])
    outcome = "loaded"
except Exception as err:
    outcome = f"{type(err).__name__}: {err}"
stderr = io.StringIO()
with contextlib.redirect_stderr(stderr):
    code = faltung.cli.main(["summary", sys.argv[1]])
print(json.dumps({"outcome": outcome, "code": code, "stderr": stderr.getvalue()}))
"""


def test_an_unreadable_file_is_reported_as_a_permission_error(good):
    folder = tempfile.mkdtemp()  # not under pytest's owner-only folder: nobody must reach the file
    try:
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "secret.faltung")
        shutil.copy(good, path)
        os.chmod(path, 0)
        result = subprocess.run([sys.executable, "-c", UNREADABLE_CHILD, path], capture_output=True, text=True,
                                timeout=60)
    finally:
        shutil.rmtree(folder)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["outcome"].startswith("PermissionError: ") and path in report["outcome"], report
    assert "not a zip" not in report["outcome"]
    assert report["code"] == 1 and report["stderr"].count("\n") == 1 and "Permission denied" in report["stderr"]


def test_a_folder_is_reported_as_such(tmp_path):
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path))):
        models.load_model(tmp_path)


# ----- fuzzing: the model-file reader and the IDX reader -----

@contextlib.contextmanager
def address_space_ceiling(extra: int):
    """Lower this process's address-space limit to ``extra`` bytes above what is mapped now."""
    with open("/proc/self/status") as f:
        mapped = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (mapped + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def size_field_offsets(data: bytes) -> list[int]:
    """Where the compressed and uncompressed sizes sit in each local and central zip header."""
    offsets = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            offsets += [info.header_offset + 18, info.header_offset + 22]
    end = data.rfind(b"PK\x05\x06")
    pos = struct.unpack_from("<I", data, end + 16)[0]
    while data[pos:pos + 4] == b"PK\x01\x02":
        offsets += [pos + 20, pos + 24]
        pos += 46 + sum(struct.unpack_from("<HHH", data, pos + 28))
    return offsets


SIZES = st.sampled_from([0, 1, 2**16, 2**31 - 1, 2**32 - 1]) | st.integers(0, 2**32 - 1)


def mutate(draw, data: bytes, size_offsets: list[int], byteorder: str = "little") -> bytes:
    """``data`` truncated, with bytes flipped, or with one of its 4-byte size fields rewritten."""
    data = bytearray(data)
    how = draw(st.sampled_from(["truncate", "flip", "size"] if size_offsets else ["truncate", "flip"]))
    if how == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        return bytes(data)
    offset = draw(st.sampled_from(size_offsets))
    data[offset:offset + 4] = draw(SIZES).to_bytes(4, byteorder)
    return bytes(data)


def status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))


def assert_loads_or_names_the_file(load, path):
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, so it is this load's peak
    before = status_mb("VmRSS")
    began = time.perf_counter()
    try:
        with address_space_ceiling(2**30):
            load(path)
        event("loaded")
    except (ValueError, OSError) as err:
        assert str(path) in str(err), err
        assert "MemoryError" not in str(err), err  # a bound failed and the ceiling caught it
        event(" ".join(str(err).replace(str(path), "").split()[:3]))  # --hypothesis-show-statistics
    assert time.perf_counter() - began < SECONDS
    assert status_mb("VmHWM") - before < PEAK_RSS_MB


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def model_file(fuzz_dir):
    path = fuzz_dir / "seed.faltung"
    model = small_model()
    model.fit(np.zeros((4, 6, 6, 1), np.float32), np.zeros(4, int), verbose=0)
    model.save(path)
    return path.read_bytes()


FUZZ = settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(st.data())
def test_fuzzed_model_files_load_or_are_refused_naming_the_file(fuzz_dir, model_file, data):
    target = data.draw(st.sampled_from(["file", "config.json", "weights.npz", "optimizer.npz"]))
    if target == "file":
        fuzzed = mutate(data.draw, model_file, size_field_offsets(model_file))
    else:  # mutate one member (for the .npz ones: their inner zip headers too), then pack it honestly
        members = members_of(io.BytesIO(model_file))
        inner = members[target]
        members[target] = mutate(data.draw, inner, size_field_offsets(inner) if target.endswith(".npz") else [])
        fuzzed = zip_bytes([deflated(name, value) for name, value in members.items()])
    path = fuzz_dir / "fuzzed.faltung"
    path.write_bytes(fuzzed)
    assert_loads_or_names_the_file(models.load_model, path)


@pytest.fixture(scope="module")
def idx_files(fuzz_dir):
    images = np.arange(6 * 5 * 4, dtype=np.uint8).reshape(6, 5, 4)
    files = {}
    for gz in (False, True):
        path = fuzz_dir / f"seed-{gz}.idx"
        write_idx(path, images, gzip=gz)
        files[gz] = path.read_bytes()
    files["header"] = files[False][:16]
    return files


@FUZZ
@given(st.data())
def test_fuzzed_idx_files_load_or_are_refused_naming_the_file(fuzz_dir, idx_files, data):
    gz = data.draw(st.booleans())
    dims = [4, 8, 12]  # the three big-endian uint32 dimensions after the 4-byte magic
    if not gz:
        fuzzed = mutate_idx(data.draw, idx_files[False], dims)
    elif data.draw(st.booleans()):  # the compressed bytes, or the trailer's size (the last 4 bytes)
        raw = idx_files[True]
        fuzzed = mutate(data.draw, raw, [len(raw) - 4])
    else:  # an edited header, honestly compressed
        import gzip
        fuzzed = gzip.compress(mutate_idx(data.draw, idx_files[False], dims), mtime=0)
    path = fuzz_dir / "fuzzed.idx"
    path.write_bytes(fuzzed)
    assert_loads_or_names_the_file(read_idx, path)


def mutate_idx(draw, data: bytes, dims: list[int]) -> bytes:
    """An IDX file truncated, flipped, or with a dimension, its type code or its dimension count edited."""
    if draw(st.booleans()):
        return mutate(draw, data, dims, "big")
    data = bytearray(data)
    offset = draw(st.sampled_from(dims + [2, 3]))  # a dimension, the type code or the number of dimensions
    if offset in (2, 3):
        data[offset] = draw(st.integers(0, 255))
    else:
        data[offset:offset + 4] = draw(SIZES).to_bytes(4, "big")
    return bytes(data)
