"""Rules the Cython sources must keep that no test run can be relied on to show.

Cython makes a variable private to a ``with parallel()`` block, or a ``prange`` loop, only when
the block assigns it; a variable the block writes only through its address (``f(&r0)``) stays
shared between the threads. Two threads of the cell engine's row split once wrote their share's
bounds into the same ``r0`` and ``r1``, and a thread that read the other's ran the other's rows
while its own stayed unwritten: a race seen twice in thousands of sanitizer-build calls, never in
a plain build's test run. Hence a rule on the source: every variable whose address a parallel
block takes is assigned in that block, or is listed here as shared on purpose (read only).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "src" / "lstmcore" / "engine"

# shared with every thread on purpose, read only: the context each thread's kernels read (one),
# the description of a copy whose rows the threads share out (job), the packed weights' layout
# of a units split (unit_w); and its barrier, which every thread writes with atomics only (bar)
SHARED_READ_ONLY = {"one", "job", "unit_w", "bar"}

_START = re.compile(r"^(\s*)(with\s+(nogil\s*,\s*)?parallel\(|for\s+\w+\s+in\s+prange\()")
_ADDRESS = re.compile(r"&\s*([A-Za-z_]\w*)\b(?!\s*[\[.])")


def _parallel_blocks(text: str):
    """(first line number, the block's lines) of each parallel block: the opening line and the
    lines indented deeper than it."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _START.match(line)
        if not m:
            continue
        indent = len(m.group(1))
        body = [line]
        for nxt in lines[i + 1 :]:
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                break
            body.append(nxt)
        yield i + 1, body


def _assigned(name: str, body: list[str]) -> bool:
    target = re.compile(rf"^\s*(?:[\w\s,]*,\s*)?{name}\s*(?:,[\w\s,]*)?=(?!=)|=\s*{name}\s*=(?!=)")
    return any(target.search(line.split("#")[0]) for line in body)


def test_the_rule_sees_a_shared_address():
    """The check itself: a block that writes r0 only through its address is caught, one that
    assigns it first is not."""
    shared = ["    with parallel(num_threads=n):", "        f(&r0, &one)", "        g(r0)"]
    private = ["    with parallel(num_threads=n):", "        r0 = 0", "        f(&r0, &w[0])"]
    for body, caught in ((shared, {"r0"}), (private, set())):
        names = {m.group(1) for line in body for m in _ADDRESS.finditer(line)}
        assert {n for n in names - SHARED_READ_ONLY if not _assigned(n, body)} == caught


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.pyx")), ids=lambda p: p.name)
def test_parallel_blocks_assign_what_they_write_through_an_address(path):
    if not path.exists():
        pytest.skip("the sources are not here (tests run from an installed package)")
    problems = []
    for start, body in _parallel_blocks(path.read_text()):
        names = {m.group(1) for line in body for m in _ADDRESS.finditer(line.split("#")[0])}
        for name in sorted(names - SHARED_READ_ONLY):
            if not _assigned(name, body):
                problems.append(f"{path.name}:{start}: &{name} in a parallel block that never assigns {name}")
    assert not problems, "\n".join(problems)
