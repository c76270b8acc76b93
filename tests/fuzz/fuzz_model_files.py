"""Fuzz the model-file reader: mutate valid saved model files and load each one in a sandbox.

    python tests/fuzz/fuzz_model_files.py --cases 10000 --seed 0 --timeout 10

Each case is a valid file written by ``Sequential.save`` (or ``save_weights``) with one mutation:
bit flips, truncation, inserted or deleted bytes, zip member edits, ``.npy`` header edits, JSON
config edits with the checksum recomputed (so that the mutation reaches the config parser), huge
declared shapes, deflate bombs, wrong dtypes, NaN weights, optimizer state and header field edits.

Cases are loaded (``load_model``, sometimes ``load_weights``) by a worker subprocess under a memory
limit (RLIMIT_AS) and a time limit, a batch of cases per worker; the dangerous ones (bombs, huge
shapes) each get a fresh worker. Outcomes: loaded OK, clear error (ValueError, FileNotFoundError),
wrong exception type, crash (killed by a signal), hang (past the time limit), memory blowup
(MemoryError, or killed for memory). The summary line gives the counts; the exit status is 1 when
any case crashed, hung, blew up the memory or raised the wrong type.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

OUTCOMES = ("ok", "clear", "wrong", "crash", "hang", "memory")
LABELS = {
    "ok": "loaded OK",
    "clear": "clear errors",
    "wrong": "wrong types",
    "crash": "crashes",
    "hang": "hangs",
    "memory": "memory blowups",
}
HEADERS = ("format", "format_version", "kind", "config", "checksum")


# Seed files ----------------------------------------------------------------------------------------


def seed_files(folder: Path) -> list[Path]:
    """A few valid files: stacked LSTMs, Dropout, float64, SGD with momentum, weights only."""
    from lstmcore import Sequential, set_random_seed
    from lstmcore.layers import LSTM, Dense, Dropout, Input

    set_random_seed(0)
    models = [
        (Sequential([LSTM(4, input_shape=(3, 2)), Dense(1)]), "adam", "save"),
        (
            Sequential(
                [Input((5, 3)), LSTM(6, return_sequences=True), Dropout(0.2), LSTM(3), Dense(2, "tanh")],
                dtype="float64",
            ),
            {"class_name": "SGD", "learning_rate": 0.1, "momentum": 0.9},
            "save",
        ),
        (Sequential([LSTM(2, input_shape=(4, 1), use_bias=False), Dense(3, "softmax")]), None, "save"),
        (Sequential([LSTM(5, input_shape=(2, 2)), Dense(1)]), "rmsprop", "save_weights"),
    ]
    paths = []
    for k, (model, optimizer, method) in enumerate(models):
        if optimizer is not None:
            model.compile(optimizer=optimizer, loss="mse")
        path = folder / f"seed{k}.lstmcore"
        getattr(model, method)(path)
        paths.append(path)
    return paths


# Building files --------------------------------------------------------------------------------------


def parse(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays of a valid file, header fields included."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def resign(arrays: dict) -> dict:
    """The arrays with the checksum recomputed, so that a mutation reaches the parser behind it."""
    from lstmcore.io.modelfile import checksum

    body = {k: v for k, v in arrays.items() if k not in HEADERS}
    with contextlib.suppress(Exception):  # a mutated config or array may not even hash
        arrays = {**arrays, "checksum": np.array(checksum(str(arrays["config"]), body))}
    return arrays


def stored(name: str, data: bytes) -> tuple:
    return (name, 0, data, zlib.crc32(data), len(data))


def deflated(name: str, data: bytes) -> tuple:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (name, 8, c.compress(data) + c.flush(), zlib.crc32(data), len(data))


def raw_zip(entries, flags: int = 0, version: int = 20, zip64: tuple = ()) -> bytes:
    """A zip archive from (name, method, data, crc, declared size) entries; the sizes, CRCs, flags
    and version needed are written as given, so that they can lie. ``zip64``: (file size, offset)
    for the first entry's central record, in a zip64 extra field."""
    out, central = bytearray(), bytearray()
    for k, (name, method, data, crc, size) in enumerate(entries):
        n = name.encode("utf-8", "surrogateescape")
        head = (version, flags, method, 0, 0x21, crc & 0xFFFFFFFF, len(data), size & 0xFFFFFFFF, len(n))
        offset, extra = len(out), b""
        if zip64 and k == 0:
            head = (*head[:7], 0xFFFFFFFF, len(n))
            offset, extra = 0xFFFFFFFF, struct.pack("<HHQQ", 1, 16, *zip64)
        central += struct.pack("<IH", 0x02014B50, 20) + struct.pack("<HHHHHIIIH", *head)
        central += struct.pack("<HHHHII", len(extra), 0, 0, 0, 0, offset) + n + extra
        out += struct.pack("<I", 0x04034B50) + struct.pack("<HHHHHIIIH", *head) + struct.pack("<H", 0) + n
        out += data
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + eocd)


def build(arrays: dict, compress: bool = False) -> bytes:
    """A file with these arrays as members (as np.savez writes it, or deflated)."""
    member = deflated if compress else stored
    return raw_zip([member(f"{key}.npy", npy(a)) for key, a in arrays.items()])


# Mutations ---------------------------------------------------------------------------------------------
# Each takes (rng, blob, arrays) and returns the mutated file's bytes.


def bit_flips(rng, blob, arrays):
    b = bytearray(blob)
    for _ in range(rng.integers(1, 17)):
        b[rng.integers(len(b))] ^= 1 << rng.integers(8)
    return bytes(b)


def truncation(rng, blob, arrays):
    return blob[: rng.integers(0, len(blob))]


def insertion(rng, blob, arrays):
    at = rng.integers(0, len(blob) + 1)
    return blob[:at] + rng.bytes(int(rng.integers(1, 65))) + blob[at:]


def deletion(rng, blob, arrays):
    at = rng.integers(0, len(blob))
    return blob[:at] + blob[at + rng.integers(1, 65) :]


def overwrite(rng, blob, arrays):
    at, fill = rng.integers(0, len(blob)), [b"\x00", b"\xff", b"\x7f", b"\x80"][rng.integers(4)]
    n = int(rng.integers(1, 17))
    return blob[:at] + (fill * n if rng.random() < 0.5 else rng.bytes(n)) + blob[at + n :]


def member_edits(rng, blob, arrays):
    """Drop, repeat, rename, add, reorder or garble members; flag them encrypted; odd compression."""
    entries = [stored(f"{k}.npy", npy(a)) for k, a in arrays.items()]
    k = int(rng.integers(len(entries)))
    what = rng.integers(9)
    if what == 0:
        del entries[k]
    elif what == 1:
        entries.append(entries[k])
    elif what == 2:
        names = ["../evil.npy", "weight_9999.npy", "optimizer_x.npy", "/abs.npy", "weight_0000", "é.npy"]
        entries[k] = (names[rng.integers(len(names))], *entries[k][1:])
    elif what == 3:
        entries.append(stored(f"optimizer_extra{k}.npy", npy(np.zeros(3))))
    elif what == 4:
        entries = [entries[i] for i in rng.permutation(len(entries))]
        return raw_zip(entries)  # a reordered archive loads fine
    elif what == 5:
        entries[k] = stored(entries[k][0], rng.bytes(int(rng.integers(0, 200))))
    elif what == 6:  # encrypted, data descriptor, patched, strong encryption, UTF-8; a later zip version
        if rng.random() < 0.5:
            return raw_zip(entries, version=int(rng.choice([45, 63, 99, 0xFFFF])))
        return raw_zip(entries, flags=int(rng.choice([0x1, 0x8, 0x20, 0x40, 0x800, 0xFFFF])))
    elif what == 7:
        name, _, data, crc, size = entries[k]
        entries[k] = (name, int(rng.choice([1, 12, 14, 93, 99])), data, crc, size)
    else:
        return build(arrays, compress=True)  # legitimately deflated: loads fine
    return raw_zip(entries)


def size_lies(rng, blob, arrays):
    """Declared sizes or CRCs that do not match the data."""
    entries = [stored(f"{k}.npy", npy(a)) for k, a in arrays.items()]
    k = int(rng.integers(len(entries)))
    name, method, data, crc, size = entries[k]
    what = rng.integers(4)
    if what == 0:
        size = int(rng.choice([0, 1, size - 1, size + 1, 2**31, 2**32 - 1]))
    elif what == 1:  # zip64 sizes and offsets: huge, or past the end of the file
        big = [0, size, 2**32, 2**40, 2**63 - 1, 2**63, 2**64 - 1]
        return raw_zip(
            [entries[k], *entries[:k], *entries[k + 1 :]],
            zip64=tuple(big[i] for i in rng.integers(len(big), size=2)),
        )
    elif what == 2:
        crc ^= 1 << int(rng.integers(32))
    else:  # a deflated stream longer than its declared size
        entry = deflated(name, data + bytes(int(rng.integers(1, 1 << 20))))
        name, method, data = entry[:3]
    entries[k] = (name, method, data, crc, size)
    return raw_zip(entries)


NPY_HEADERS = [
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
    "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
    "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
    "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
    "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
    "{'descr': ('<f4', (100000, 100000)), 'fortran_order': False, 'shape': (1,), }",
    "{'descr': '<U0', 'fortran_order': False, 'shape': (), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 300 + ")" * 300 + ", }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
    "{'descr': '<f4'" + " " * 70000,
    "[" * 5000,
    "not a dict",
    "",
]


def npy_header_edits(rng, blob, arrays):
    """A member's .npy header replaced (shape, dtype, Fortran order, junk, nesting, versions)."""
    key = list(arrays)[rng.integers(len(arrays))]
    raw = npy(arrays[key])
    hlen = struct.unpack("<H", raw[8:10])[0]
    data = raw[10 + hlen :]
    header = NPY_HEADERS[rng.integers(len(NPY_HEADERS))].encode("latin-1") + b"\n"
    version = [b"\x01\x00", b"\x02\x00", b"\x03\x00", b"\x09\x09"][rng.integers(4)]
    length = (
        struct.pack("<H", len(header) % 65536) if version == b"\x01\x00" else struct.pack("<I", len(header))
    )
    member = b"\x93NUMPY" + version + length + header + data
    entries = [stored(f"{k}.npy", member if k == key else npy(a)) for k, a in arrays.items()]
    return raw_zip(entries)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def _random_json(rng):
    choices = [
        None,
        True,
        False,
        0,
        -1,
        1,
        2**31,
        2**63,
        10**30,
        -(10**30),
        1e308,
        -0.0,
        0.5,
        "",
        "x",
        "float16",
        "orthogonal",
        "Dense",
        "LSTM",
        [],
        [1, 2],
        [0],
        [-3, 4],
        {},
        {"units": 3},
        "a" * 1000,
    ]
    return choices[rng.integers(len(choices))]


def config_edits(rng, blob, arrays):
    """A value of the JSON config replaced, deleted or added to; the checksum recomputed."""
    config = json.loads(str(arrays["config"]))
    paths = list(_paths(config))[1:]
    path = paths[rng.integers(len(paths))]
    parent = config
    for p in path[:-1]:
        parent = parent[p]
    what = rng.integers(3)
    if what == 0:
        parent[path[-1]] = _random_json(rng)
    elif what == 1:
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[f"unknown_{rng.integers(100)}"] = _random_json(rng)
    else:
        parent.append(_random_json(rng))
    return build(resign({**arrays, "config": np.array(json.dumps(config))}))


def config_text_edits(rng, blob, arrays):
    """Broken or hostile JSON (deep nesting, huge numbers, not an object); the checksum recomputed."""
    text = str(arrays["config"])
    choices = [
        "[" * 100000 + "]" * 100000,
        '{"model": ' * 50000 + "1" + "}" * 50000,
        "9" * 100000,
        "[]",
        "null",
        '"text"',
        text[: rng.integers(len(text))],
        text.replace('"units": ', '"units": 1' + "0" * int(rng.integers(1, 40)), 1),
        text.replace("{", "{" + '"dup": 1, "dup": 2, ', 1),
        text + "garbage",
        "NaN",
        text.replace("LSTM", "Lambda", 1),
    ]
    config = choices[rng.integers(len(choices))]
    return build(resign({**arrays, "config": np.array(config)}))


def huge_shapes(rng, blob, arrays):
    """A config that declares absurd sizes (units, input shape), its weights left as they were."""
    config = json.loads(str(arrays["config"]))
    n = int(rng.choice([10**4, 10**6, 2**31, 2**40, 10**18]))
    spec = config["model"]
    if rng.random() < 0.5:
        layer = spec["layers"][rng.integers(len(spec["layers"]))]["config"]
        if "units" in layer:
            layer["units"] = n
    else:
        spec["input_shape"] = [n, n] if rng.random() < 0.5 else [3, n]
    return build(resign({**arrays, "config": np.array(json.dumps(config))}))


_BOMBS: dict[int, tuple] = {}


def zeros_member(name: str, mib: int, declared: int | None = None) -> tuple:
    """A deflated .npy member of ``mib`` MiB of float32 zeros in about 1 KiB per MiB; it declares
    its true size, or ``declared``."""
    if mib not in _BOMBS:
        head, zeros = io.BytesIO(), bytes(1 << 20)
        np.lib.format.write_array_header_1_0(
            head, {"descr": "<f4", "fortran_order": False, "shape": (mib << 18,)}
        )
        head = head.getvalue()
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
        block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)  # after a full flush: repeatable
        crc = zlib.crc32(head)
        for _ in range(mib):
            crc = zlib.crc32(zeros, crc)
        _BOMBS[mib] = (first + block * mib + c.flush(), crc, len(head) + (mib << 20))
    data, crc, size = _BOMBS[mib]
    return (name, 8, data, crc, size if declared is None else declared)


def deflate_bomb(rng, blob, arrays):
    """A weight member replaced by a deflated stream of zeros: up to 2 GiB from about 2 MB. Half
    of them declare the true size, half a small one that the stream exceeds."""
    declared = 128 if rng.random() < 0.5 else None
    entries = [stored(f"{k}.npy", npy(a)) for k, a in arrays.items() if k != "weight_0000"]
    return raw_zip([*entries, zeros_member("weight_0000.npy", int(rng.choice([256, 1024, 2047])), declared)])


def dtype_edits(rng, blob, arrays):
    """A weight or state array cast to another dtype (float16, ints, complex, bool, str, object)."""
    keys = [k for k in arrays if k not in HEADERS]
    key = keys[rng.integers(len(keys))]
    a = arrays[key]
    dtype = [np.float16, np.int32, np.int64, np.complex64, np.bool_, "<U3", object, ">f4", np.float64][
        rng.integers(9)
    ]
    return build(resign({**arrays, key: a.astype(dtype)}))


def value_edits(rng, blob, arrays):
    """NaN or infinite weights, and weights or state of the wrong shape or number; checksum recomputed."""
    keys = [k for k in arrays if k not in HEADERS]
    key = keys[rng.integers(len(keys))]
    a = arrays[key].copy()
    what = rng.integers(5)
    if what == 0 and a.size and a.dtype.kind == "f":
        a.reshape(-1)[rng.integers(a.size)] = [np.nan, np.inf, -np.inf][rng.integers(3)]
    elif what == 1:
        a = a.reshape(-1)
    elif what == 2:
        a = np.concatenate([a.reshape(-1), a.reshape(-1)])
    elif what == 3:
        arrays = {k: v for k, v in arrays.items() if k != key}
        return build(resign(arrays))
    else:
        n = sum(k.startswith("weight_") for k in arrays)
        return build(resign({**arrays, f"weight_{n:04d}": np.zeros(3, np.float32)}))
    return build(resign({**arrays, key: a}))


def header_field_edits(rng, blob, arrays):
    """The format, format_version, kind or checksum fields changed, or of the wrong type."""
    key = HEADERS[rng.integers(len(HEADERS))]
    values = [
        np.array(2),
        np.array(0),
        np.array(-1),
        np.array("x"),
        np.array(b"lstmcore.model"),
        np.array([1, 2]),
        np.array(1.0),
        np.array("weights"),
        np.array("lstmcore.model"),
    ]
    arrays = {**arrays, key: values[rng.integers(len(values))]}
    return build(resign(arrays) if key != "checksum" else arrays)


MUTATIONS = {  # name: (function, weight, dangerous)
    "bit_flips": (bit_flips, 10, False),
    "truncation": (truncation, 6, False),
    "insertion": (insertion, 5, False),
    "deletion": (deletion, 5, False),
    "overwrite": (overwrite, 5, False),
    "member_edits": (member_edits, 10, False),
    "size_lies": (size_lies, 6, False),
    "npy_header_edits": (npy_header_edits, 10, False),
    "config_edits": (config_edits, 18, False),
    "config_text_edits": (config_text_edits, 6, False),
    "dtype_edits": (dtype_edits, 6, False),
    "value_edits": (value_edits, 8, False),
    "header_field_edits": (header_field_edits, 5, False),
    "huge_shapes": (huge_shapes, 1, True),
    "deflate_bomb": (deflate_bomb, 0.3, True),
}


def cases(seeds: list[Path], n: int, seed: int):
    """(index, mutation name, file bytes, dangerous, load mode, seed path) for n cases."""
    rng = np.random.default_rng(seed)
    blobs = [(p, p.read_bytes()) for p in seeds]
    parsed = [parse(b) for _, b in blobs]
    names = list(MUTATIONS)
    weights = np.array([MUTATIONS[m][1] for m in names], dtype=float)
    for i in range(n):
        k = int(rng.integers(len(blobs)))
        name = names[rng.choice(len(names), p=weights / weights.sum())]
        fn, _, dangerous = MUTATIONS[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # np.save of object arrays and the like
            data = fn(rng, blobs[k][1], dict(parsed[k]))
        mode = "weights" if rng.random() < 0.15 else "model"
        yield i, name, data, dangerous, mode, blobs[k][0]


# The worker: loads the cases it is sent, one per line ------------------------------------------------


def worker(memory_mib: int) -> None:
    import resource

    # the address space it has now (under AddressSanitizer, terabytes of shadow) plus memory_mib
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) << 10 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(
        resource.RLIMIT_AS, (vm + (memory_mib << 20), resource.getrlimit(resource.RLIMIT_AS)[1])
    )
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    from lstmcore import load_model

    for line in sys.stdin:
        path, mode, seed_path = json.loads(line)
        t = time.perf_counter()
        try:
            if mode == "weights":
                load_model(seed_path, compile=False).load_weights(path)
            else:
                load_model(path)
            result = {"outcome": "ok"}
        except (ValueError, FileNotFoundError) as exc:
            result = {"outcome": "clear", "type": type(exc).__name__, "message": str(exc)[:300]}
        except MemoryError:
            result = {"outcome": "memory", "type": "MemoryError", "message": ""}
        except BaseException as exc:  # noqa: BLE001 - classifying every exception is the point
            where = traceback.extract_tb(exc.__traceback__)[-1]
            result = {
                "outcome": "wrong",
                "type": type(exc).__name__,
                "message": f"{str(exc)[:300]} (at {Path(where.filename).name}:{where.lineno})",
            }
        result["seconds"] = time.perf_counter() - t
        print(json.dumps(result), flush=True)


class Worker:
    """A worker subprocess; ``load`` sends one case and classifies what comes back."""

    def __init__(self, memory_mib: int):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--memory-mib", str(memory_mib)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )

    def load(self, path: Path, mode: str, seed_path: Path, timeout: float) -> dict:
        try:
            self.proc.stdin.write(json.dumps([str(path), mode, str(seed_path)]) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout + 5)  # 5 s: a cold start
        line = self.proc.stdout.readline() if ready else ""
        if line:
            result = json.loads(line)
            if result["seconds"] > timeout:
                return {"outcome": "hang", "type": "", "message": f"took {result['seconds']:.1f} s"}
            return result
        if not ready:
            self.close()
            return {"outcome": "hang", "type": "", "message": f"no answer in {timeout} s"}
        code = self.proc.wait()
        outcome = "memory" if code == -signal.SIGKILL else "crash"  # SIGKILL here: the OOM killer
        return {"outcome": outcome, "type": "", "message": f"worker died with status {code}"}

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.alive:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()


def run(n: int, seed: int, timeout: float, memory_mib: int = 2048, batch: int = 2000, log=print) -> dict:
    """Fuzz n cases; returns the counts per outcome, per mutation, and the bad cases."""
    start = time.perf_counter()
    counts, by_mutation, bad = Counter(), Counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        seeds = seed_files(tmp)
        path = tmp / "case.lstmcore"
        worker, done = None, 0
        try:
            for i, name, data, dangerous, mode, seed_path in cases(seeds, n, seed):
                if worker is None or not worker.alive or done == batch:
                    if worker is not None:
                        worker.close()
                    worker, done = Worker(memory_mib), 0
                path.write_bytes(data)
                if dangerous:  # a fresh worker of its own
                    with Worker(memory_mib) as lone:
                        result = lone.load(path, mode, seed_path, timeout)
                else:
                    result = worker.load(path, mode, seed_path, timeout)
                    done += 1
                counts[result["outcome"]] += 1
                by_mutation[name, result["outcome"]] += 1
                if result["outcome"] not in ("ok", "clear"):
                    bad.append({"case": i, "mutation": name, "mode": mode, **result})
                    log(
                        f"case {i} ({name}, {mode}): {result['outcome']} {result['type']} {result['message']}"
                    )
        finally:
            if worker is not None:
                worker.close()
    return {"counts": counts, "by_mutation": by_mutation, "bad": bad, "seconds": time.perf_counter() - start}


def summary(n: int, report: dict) -> str:
    counts = report["counts"]
    parts = ", ".join(f"{LABELS[o]} {counts[o]}" for o in OUTCOMES)
    return f"cases {n}: {parts} in {report['seconds']:.1f} s"


def failed(report: dict) -> int:
    return sum(report["counts"][o] for o in ("wrong", "crash", "hang", "memory"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10000, help="number of mutated files (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations (default 0)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per case (default 10)")
    parser.add_argument(
        "--memory-mib",
        type=int,
        default=2048,
        help="address space a worker may add to its start-up size, MiB (default 2048)",
    )
    parser.add_argument("--batch", type=int, default=2000, help="cases per worker process (default 2000)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.memory_mib)
        return 0
    report = run(args.cases, args.seed, args.timeout, args.memory_mib, args.batch)
    for name in MUTATIONS:
        row = ", ".join(
            f"{o} {report['by_mutation'][name, o]}" for o in OUTCOMES if report["by_mutation"][name, o]
        )
        print(f"  {name:20s} {row}")
    print(summary(args.cases, report))
    return 1 if failed(report) else 0


if __name__ == "__main__":
    sys.exit(main())
