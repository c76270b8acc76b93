"""What the machine reports that the engine's plans depend on: cache sizes, read at run time.

The packed products (csrc/gemm) cut K so that a panel slice fits half of the L1 data cache; the
size comes from the machine, not from a constant fitted to one CPU. Linux reports it in sysfs
(``/sys/devices/system/cpu/cpu0/cache/index*/``) and glibc's ``sysconf``; elsewhere, or when a
value is missing, the common sizes (L1d 32 KiB, L2 1 MiB, L3 8 MiB) stand in. The L3 is the size
one core's cache reports, shared with the others. Each can be overridden, so that tests run the
plans a machine with other caches would pick:

    LSTMCORE_L1D=48K  LSTMCORE_L2=2M  LSTMCORE_L3=32M      (bytes, or with a K / M suffix)
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

DEFAULTS = {"l1d": 32 * 1024, "l2": 1024 * 1024, "l3": 8 * 1024 * 1024}
_ENV = {"l1d": "LSTMCORE_L1D", "l2": "LSTMCORE_L2", "l3": "LSTMCORE_L3"}
_SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")


def parse_size(text: str) -> int:
    """'48K', '2M', '49152' -> bytes; ValueError for anything else."""
    s = str(text).strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(s[-1:], 1)
    number = s[:-1] if scale != 1 else s
    try:
        value = int(number) * scale
    except ValueError:
        raise ValueError(f"expected a size in bytes such as 49152, 48K or 2M, got {text!r}") from None
    if value <= 0:
        raise ValueError(f"expected a positive size, got {text!r}")
    return value


def _from_sysfs() -> dict[str, int]:
    found: dict[str, int] = {}
    try:
        entries = sorted(_SYSFS.glob("index*"))
    except OSError:
        return found
    for entry in entries:
        try:
            level = (entry / "level").read_text().strip()
            kind = (entry / "type").read_text().strip()
            size = parse_size((entry / "size").read_text())
        except (OSError, ValueError):
            continue
        if level == "1" and kind in ("Data", "Unified"):
            found.setdefault("l1d", size)
        elif level == "2" and kind in ("Data", "Unified"):
            found.setdefault("l2", size)
        elif level == "3" and kind in ("Data", "Unified"):
            found.setdefault("l3", size)
    return found


def _from_sysconf() -> dict[str, int]:
    found: dict[str, int] = {}
    names = (("l1d", "SC_LEVEL1_DCACHE_SIZE"), ("l2", "SC_LEVEL2_CACHE_SIZE"), ("l3", "SC_LEVEL3_CACHE_SIZE"))
    for key, name in names:
        try:
            value = os.sysconf(name)
        except (ValueError, OSError, AttributeError):
            continue
        if value and value > 0:
            found[key] = int(value)
    return found


@functools.cache
def _detected() -> tuple[tuple[str, int, str], ...]:
    sysfs, sysconf = _from_sysfs(), _from_sysconf()
    out = []
    for key, default in DEFAULTS.items():
        if key in sysfs:
            out.append((key, sysfs[key], "sysfs"))
        elif key in sysconf:
            out.append((key, sysconf[key], "sysconf"))
        else:
            out.append((key, default, "default"))
    return tuple(out)


def caches() -> dict[str, tuple[int, str]]:
    """{'l1d': (bytes, source), 'l2': ..., 'l3': ...}; source: the environment variable's name,
    'sysfs', 'sysconf' or 'default'. The environment is read at every call (tests set it)."""
    out = {}
    for key, value, source in _detected():
        env = os.environ.get(_ENV[key], "").strip()
        if env:
            try:
                out[key] = (parse_size(env), _ENV[key])
                continue
            except ValueError as exc:
                raise ValueError(f"{_ENV[key]}: {exc}") from None
        out[key] = (value, source)
    return out


def l1d() -> int:
    """Bytes of L1 data cache per core (see caches())."""
    return caches()["l1d"][0]


def cpu_model() -> str:
    """The CPU's model name ('model name' in /proc/cpuinfo, else what the platform module says)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


# The memory a thread keeps between calls (lstmcore.set_workspace_limit): a share of the memory the
# process may use, so that a machine with room for it keeps a bidirectional S3 training step's
# caches and outputs (about 300 MiB: with 256 MiB, 537 page faults and 2-5% more time a step,
# varying from step to step), and a small one does not hold a large share of its memory.
_WORKSPACE_ENV = "LSTMCORE_WORKSPACE_LIMIT"
_WORKSPACE_SHARE = 32  # 1/32 of the memory
_WORKSPACE_BOUNDS = (256 << 20, 2 << 30)
_CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def physical_memory() -> tuple[int, str] | None:
    """(bytes, source) of the memory this process may use: the machine's (sysconf), or its cgroup's
    limit where that is smaller (a container); None where neither is known."""
    found = None
    try:
        pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and page > 0:
            found = (int(pages) * int(page), "sysconf")
    except (ValueError, OSError, AttributeError):
        pass
    for path in _CGROUP_LIMITS:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) > 0 and (found is None or int(text) < found[0]):
            found = (int(text), "cgroup")
        break
    return found


def workspace_limit(environment: bool = True) -> tuple[int, str]:
    """(bytes, source) of the default workspace limit per thread: LSTMCORE_WORKSPACE_LIMIT (a size
    such as 512M; 0 keeps none) unless ``environment`` is false, else 1/32 of physical_memory()
    within [256 MiB, 2 GiB] (256 MiB where the memory is unknown)."""
    env = os.environ.get(_WORKSPACE_ENV, "").strip() if environment else ""
    if env:
        if env == "0":
            return 0, _WORKSPACE_ENV
        try:
            return parse_size(env), _WORKSPACE_ENV
        except ValueError as exc:
            raise ValueError(f"{_WORKSPACE_ENV}: {exc}") from None
    low, high = _WORKSPACE_BOUNDS
    memory = physical_memory()
    if memory is None:
        return low, "default"
    share = min(high, max(low, memory[0] // _WORKSPACE_SHARE))
    return share, f"1/{_WORKSPACE_SHARE} of {memory[0] >> 20} MiB ({memory[1]}), within 256 MiB..2 GiB"
