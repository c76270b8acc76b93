"""The model file: a zip of ``.npy`` members (NumPy's ``.npz`` layout), never pickled.

Members::

    format          'lstmcore.model'
    format_version  1
    kind            'model' or 'weights'
    config          JSON text: the model's layers, the compile settings
    checksum        SHA-256 of the config text and every array's bytes, in key order
    weight_0000...  the weights in get_weights() order
    optimizer_*     the optimizer's state (slots and iterations)

Reading trusts nothing in the file, and refuses anything but what ``write`` writes with
``ValueError``: only a regular file is opened; the zip's directory (names, count, compression,
declared sizes) is checked before any member is decompressed, and together the members may declare
at most ``MAX_EXPANSION`` times the file's size plus ``ALLOWANCE`` bytes; each ``.npy`` header must
be the one ``np.save`` writes (parsed without eval) and match its member's size; then the checksum,
the JSON config and the weights' shapes and dtypes are checked. NaN or infinity in the weights is
kept: it is what a diverged model saved, and the checksum vouches that it was saved so.

Writing is atomic: the file is written in the target's folder, unnamed where Linux allows
(``O_TMPFILE``, so a killed save leaves nothing behind), and renamed over the target. A new file
gets the mode ``0o666`` less the umask, as any new file; a replaced file keeps its mode; saving
through a symlink replaces the link's target.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import secrets
import stat
import struct
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

__all__ = ["FORMAT", "FORMAT_VERSION", "ArraySpec", "ModelFile", "checksum", "read", "write"]

FORMAT = "lstmcore.model"
FORMAT_VERSION = 1
MAX_EXPANSION = 4  # declared uncompressed bytes per byte of file (write stores members uncompressed)
ALLOWANCE = 1 << 20
MAX_MEMBERS = 10_000

_HEADERS = ("format", "format_version", "kind", "config", "checksum")
_MEMBER = re.compile(
    r"(format|format_version|kind|config|checksum|weight_\d{4,5}|optimizer_[a-z_]{1,64})\.npy"
)
# The header np.save writes; descr: a float, int or str dtype; shape: checked against repr(shape).
_NPY_HEADER = re.compile(
    r"\{'descr': '([<>|][fiu][1248]|[<>]U[1-9]\d{0,8})', 'fortran_order': False, "
    r"'shape': (\([\d, ]{0,300}\)), \} *\n"
)
_NPY_VERSIONS = {b"\x93NUMPY\x01\x00": "<H", b"\x93NUMPY\x02\x00": "<I"}
_ZIP_FLAGS = 0x80E  # the flags a member may have: deflate options, data descriptor, UTF-8 name
_SUPPORTED = "lstmcore reads the files written by Sequential.save"
# Where Linux has O_TMPFILE (and /proc to link the file in), saves go through an unnamed file.
_O_TMPFILE = getattr(os, "O_TMPFILE", None) if os.path.isdir("/proc/self/fd") else None


class _Malformed(Exception):
    """Why a file is refused; ``_refusing`` turns it into a ValueError naming the file."""


def checksum(config_text: str, arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256(config_text.encode())
    for key in sorted(arrays):
        _digest(digest, key, arrays[key])
    return digest.hexdigest()


def _digest(digest, key: str, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a)
    digest.update(key.encode())
    digest.update(str(a.dtype).encode() + str(a.shape).encode())
    digest.update(a.data)


# Writing --------------------------------------------------------------------------------------------


def write(filepath, kind: str, config: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write one model file atomically (see the module docstring); ``filepath``: str, bytes or PathLike."""
    config_text = json.dumps(config, sort_keys=True)
    payload = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "kind": np.array(kind),
        "config": np.array(config_text),
        "checksum": np.array(checksum(config_text, arrays)),
        **arrays,
    }
    write_atomic(filepath, lambda f: np.savez(f, **payload))


def write_atomic(filepath, fill) -> None:
    """Write a file atomically: ``fill(f)`` writes into a new file in the target's folder, which
    then replaces the target (see the module docstring)."""
    path = os.path.realpath(os.fsdecode(filepath))  # through a symlink: replace its target
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {path}: the folder {directory} does not exist")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # a replaced file keeps its mode
    except FileNotFoundError:
        mode = None
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    fd, named = _create(directory, tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            if mode is not None:
                os.fchmod(fd, mode)
            os.fsync(fd)
            if not named:
                _link(fd, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _create(directory: str, tmp: str) -> tuple[int, bool]:
    """A descriptor to write the new file through, and whether the file has a name (``tmp``) yet.

    Mode 0o666: the kernel takes the umask (or the folder's default ACL) off, as for any new file.
    """
    flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    if _O_TMPFILE is not None:
        try:
            return os.open(directory, flags | _O_TMPFILE, 0o666), False
        except OSError as exc:  # a file system or kernel without O_TMPFILE
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise
    return os.open(tmp, flags | os.O_CREAT | os.O_EXCL, 0o666), True


def _link(fd: int, tmp: str) -> None:
    """Give the unnamed file ``fd`` the name ``tmp``."""
    dir_fd = os.open(os.path.dirname(tmp), os.O_RDONLY)
    try:
        # With a dir fd CPython calls linkat(AT_SYMLINK_FOLLOW); its plain link() would try to link
        # the /proc symlink itself (EXDEV).
        os.link(f"/proc/self/fd/{fd}", os.path.basename(tmp), dst_dir_fd=dir_fd, follow_symlinks=True)
    finally:
        os.close(dir_fd)


# Reading --------------------------------------------------------------------------------------------


class ArraySpec(NamedTuple):
    shape: tuple[int, ...]
    dtype: np.dtype


class _Member(NamedTuple):
    info: zipfile.ZipInfo
    start: int  # where the array's data begins in the member
    shape: tuple[int, ...]
    dtype: np.dtype


class ModelFile:
    """An open model file: its directory, headers and config are checked; ``read`` reads its arrays.

    >>> with ModelFile(path) as f:
    ...     f.kind, f.config, f.weight_specs   # the shapes and dtypes, before any data is read
    ...     weights, optimizer_state = f.read()
    """

    def __init__(self, filepath):
        self.path = os.fsdecode(filepath)
        self._file = _open_regular(self.path)
        try:
            with _refusing(self.path):
                self._zip = _open_zip(self._file, self.path)
                self._members = {i.filename[:-4]: _member(self._zip, i) for i in self._zip.infolist()}
                fields = {key: _field(self._zip, self._members.pop(key, None), key) for key in _HEADERS}
                self.kind, self.config = _check_fields(fields)
                self._config_text, self._checksum = fields["config"], fields["checksum"]
                n = sum(key.startswith("weight_") for key in self._members)
                self._weights = [self._members.pop(f"weight_{k:04d}", None) for k in range(n)]
                if None in self._weights:
                    raise _Malformed(f"its weights are not numbered weight_0000 to weight_{n - 1:04d}")
                floats = [m for m in self._members.values() if m.dtype.kind not in "iu"]  # all but iterations
                for m in self._weights + floats:
                    if m.dtype not in (np.float32, np.float64):
                        raise _Malformed(f"{m.info.filename} has dtype {m.dtype}, not float32 or float64")
        except BaseException:
            self.close()
            raise
        self.weight_specs = [ArraySpec(m.shape, m.dtype) for m in self._weights]

    def read(self, weights=None) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """(weights, optimizer_state), with the checksum checked. ``weights``: arrays
        of ``weight_specs``' shapes and dtypes to read the weights into (a new model's own views)."""
        if weights is None:
            weights = [np.empty(m.shape, m.dtype) for m in self._weights]
        for m, out in zip(self._weights, weights, strict=True):
            if (out.shape, out.dtype) != (m.shape, m.dtype) or not out.flags.c_contiguous:
                raise ValueError(f"cannot read a {m.shape} {m.dtype} weight into {out.shape} {out.dtype}")
        arrays = {f"weight_{k:04d}": out for k, out in enumerate(weights)}
        arrays.update({key: np.empty(m.shape, m.dtype) for key, m in self._members.items()})
        digest = hashlib.sha256(self._config_text.encode())
        with _refusing(self.path):
            for key in sorted(arrays):  # the checksum's order
                m = self._weights[int(key[7:])] if key.startswith("weight_") else self._members[key]
                _read_into(self._zip, m, arrays[key])
                _digest(digest, key, arrays[key])
            if digest.hexdigest() != self._checksum:
                raise _Malformed("its checksum does not match its contents (the file is corrupted)")
        return weights, {key[len("optimizer_") :]: arrays[key] for key in self._members}

    def close(self) -> None:
        if getattr(self, "_zip", None) is not None:
            self._zip.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read(filepath) -> tuple[str, dict, list[np.ndarray], dict[str, np.ndarray]]:
    """(kind, config, weights, optimizer_state) of a file written by ``write``, all checked."""
    with ModelFile(filepath) as f:
        return (f.kind, f.config, *f.read())


@contextlib.contextmanager
def _refusing(path: str):
    """Every way a file can be malformed becomes one ValueError naming it."""
    bad = f"{path} is not a readable lstmcore model file"
    try:
        yield
    except _Malformed as exc:
        raise ValueError(f"{bad}: {exc}") from None
    except (zipfile.BadZipFile, EOFError, ValueError, struct.error, zlib.error) as exc:
        raise ValueError(f"{bad}: it is truncated or corrupted ({type(exc).__name__}: {exc})") from None


def _open_regular(path: str):
    """The open file at ``path``; a folder, FIFO, device or socket is refused without being opened."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    with _refusing(path):
        _require_regular(st.st_mode)
    # O_NONBLOCK: should the path become a FIFO after the stat, the open does not wait for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    f = os.fdopen(os.open(path, flags), "rb")
    try:
        with _refusing(path):
            _require_regular(os.fstat(f.fileno()).st_mode)
    except BaseException:
        f.close()
        raise
    return f


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path: str) -> bool:
    """Whether ``path`` is an HDF5 file (Keras's ``.weights.h5``), by its signature; a missing
    path, folder, FIFO or device raises as ``read`` does."""
    with _open_regular(path) as f:
        return f.read(8) == HDF5_SIGNATURE


def _require_regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise _Malformed(f"it is a folder; {_SUPPORTED}")
    if not stat.S_ISREG(mode):
        what = "a named pipe" if stat.S_ISFIFO(mode) else "a device or socket"
        raise _Malformed(f"it is {what}, not a regular file; {_SUPPORTED}")


def _open_zip(f, path: str) -> zipfile.ZipFile:
    head = f.read(8)
    if not head.startswith(b"PK"):
        raise _Malformed(f"{_describe(head, path)}; {_SUPPORTED}")
    f.seek(0)
    try:
        zf = zipfile.ZipFile(f)
    except NotImplementedError as exc:  # a member that "needs" a later zip version
        raise _Malformed(f"it is corrupted or uses an unsupported zip feature ({exc})") from None
    try:
        _check_directory(zf.infolist(), os.fstat(f.fileno()).st_size)
    except BaseException:
        zf.close()
        raise
    return zf


def _describe(head: bytes, path: str) -> str:
    """What a file that is not a zip archive looks like."""
    if not head:
        return "it is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single NumPy array (.npy), not a model archive"
    if head[:1] == b"\x80" and 2 <= head[1] <= 5:
        return "it is a Python pickle"
    if head.startswith(HDF5_SIGNATURE):
        return "it is an HDF5 file (a Keras .h5 model?): not supported yet"
    if path.lower().endswith(".onnx"):
        return "it is an ONNX file: lstmcore.load_model reads it (with the onnx package)"
    return "it is not a zip archive"


def _check_directory(infos: list[zipfile.ZipInfo], size: int) -> None:
    """Names, count, compression and declared sizes, before anything is decompressed."""
    names = [info.filename for info in infos]
    if "format.npy" not in names:
        if {"config.json", "metadata.json"} <= set(names):
            raise _Malformed("it is a Keras .keras archive: not supported yet")
        if any(name.endswith("data.pkl") for name in names):
            raise _Malformed("it is a PyTorch file: not supported yet")
        raise _Malformed(f"it is a zip archive with no lstmcore format header; {_SUPPORTED}")
    if len(names) > MAX_MEMBERS:
        raise _Malformed(f"it has {len(names)} members, more than the {MAX_MEMBERS} a model file may have")
    if len(set(names)) != len(names):
        raise _Malformed("a member name is repeated")
    for info in infos:
        if not _MEMBER.fullmatch(info.filename):
            raise _Malformed(f"unexpected member {info.filename!r}")
        if info.flag_bits & ~_ZIP_FLAGS:
            raise _Malformed(f"member {info.filename!r} is encrypted or patched (flags {info.flag_bits:#x})")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Malformed(f"member {info.filename!r} has an unsupported compression {info.compress_type}")
        if not 0 <= info.header_offset <= info.header_offset + info.compress_size <= size:
            raise _Malformed(f"member {info.filename!r} lies outside the file")
    declared, budget = sum(info.file_size for info in infos), MAX_EXPANSION * size + ALLOWANCE
    if declared > budget:
        raise _Malformed(
            f"its members declare {declared} bytes uncompressed, more than the {budget} allowed for a file "
            f"of {size} bytes (a zip bomb?)"
        )


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Member:
    """A member's .npy header, which must be the one ``np.save`` writes and match the member's size."""
    name = info.filename
    with zf.open(info) as f:
        length = _NPY_VERSIONS.get(_take(f, 8, name))  # the struct format of the header's length
        if length is None:
            raise _Malformed(f"member {name!r} is not a .npy array")
        (n,) = struct.unpack(length, _take(f, struct.calcsize(length), name))
        if n > 4096:
            raise _Malformed(f"member {name!r} has a {n}-byte .npy header")
        header = _take(f, n, name).decode("latin-1")
    match = _NPY_HEADER.fullmatch(header)
    shape = tuple(int(s) for s in re.findall(r"\d+", match.group(2))) if match else None
    if shape is None or repr(shape) != match.group(2) or len(shape) > 32:
        raise _Malformed(f"member {name!r} has a malformed or unsupported .npy header {header.rstrip()!r}")
    dtype = np.dtype(match.group(1))
    start = 8 + struct.calcsize(length) + n
    if start + math.prod(shape) * dtype.itemsize != info.file_size:
        raise _Malformed(f"member {name!r}: its .npy header does not match its size ({info.file_size} bytes)")
    return _Member(info, start, shape, dtype)


def _field(zf: zipfile.ZipFile, m: _Member | None, key: str):
    """A header field: a 0-d string (or, for format_version, integer) array, as a Python value."""
    if m is None or m.shape != () or m.dtype.kind != ("i" if key == "format_version" else "U"):
        raise _Malformed(f"its {key!r} field is missing or malformed")
    a = np.empty((), m.dtype)
    _read_into(zf, m, a)
    return a.item()


def _check_fields(fields: dict) -> tuple[str, dict]:
    """The kind and the parsed config, once the header fields are checked."""
    if fields["format"] != FORMAT:
        raise _Malformed(f"its format header is {fields['format']!r}, not {FORMAT!r}")
    version = fields["format_version"]
    if version > FORMAT_VERSION:
        raise _Malformed(
            f"it has format version {version}; this lstmcore reads up to {FORMAT_VERSION}: upgrade lstmcore"
        )
    if version < 1 or fields["kind"] not in ("model", "weights"):
        raise _Malformed(f"its header is malformed (format_version {version}, kind {fields['kind']!r})")
    try:
        config = json.loads(fields["config"])
    except (ValueError, RecursionError) as exc:
        raise _Malformed(f"its config is not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(config, dict):
        raise _Malformed(f"its config must be a JSON object, got {type(config).__name__}")
    return fields["kind"], config


def _read_into(zf: zipfile.ZipFile, m: _Member, out: np.ndarray) -> None:
    """Read a member's data into the C-contiguous ``out``, in chunks (no second copy of a big array)."""
    buf = out.reshape(-1).view(np.uint8)
    with zf.open(m.info) as f:
        _take(f, m.start, m.info.filename)
        pos = 0
        while pos < buf.size:
            chunk = f.read(min(buf.size - pos, 1 << 22))
            if not chunk:
                raise _Malformed(f"member {m.info.filename!r} is truncated")
            buf[pos : pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
            pos += len(chunk)


def _take(f, n: int, name: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _Malformed(f"member {name!r} is truncated")
    return data
