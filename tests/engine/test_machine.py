"""What the engine reads of the machine (lstmcore.engine._machine): cache sizes from sysfs or
sysconf, and the environment's overrides."""

from __future__ import annotations

import os

import numpy as np
import pytest

import lstmcore
from lstmcore.engine import _machine


@pytest.mark.parametrize(
    "text, expected",
    [
        ("49152", 49152),
        ("48K", 48 * 1024),
        ("48KiB", 48 * 1024),
        ("2M", 2 << 20),
        (" 1g ", 1 << 30),
        ("32KB", 32768),
    ],
)
def test_sizes_parse(text, expected):
    assert _machine.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "K", "-4K", "0", "big", "1.5M"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(ValueError, match="expected a"):
        _machine.parse_size(text)


def test_caches_are_positive_and_say_where_they_come_from():
    caches = _machine.caches()
    assert set(caches) == {"l1d", "l2", "l3"}
    for size, source in caches.values():
        assert size > 0
        assert source in ("sysfs", "sysconf", "default")
    assert _machine.l1d() == caches["l1d"][0]


def test_the_environment_overrides_the_machine(monkeypatch):
    monkeypatch.setenv("LSTMCORE_L1D", "24K")
    monkeypatch.setenv("LSTMCORE_L2", "512K")
    monkeypatch.setenv("LSTMCORE_L3", "32M")
    assert _machine.caches() == {
        "l1d": (24 * 1024, "LSTMCORE_L1D"),
        "l2": (512 * 1024, "LSTMCORE_L2"),
        "l3": (32 * 1024 * 1024, "LSTMCORE_L3"),
    }
    monkeypatch.setenv("LSTMCORE_L1D", "lots")
    with pytest.raises(ValueError, match="LSTMCORE_L1D"):
        _machine.l1d()


def test_sysfs_entries_are_read(tmp_path, monkeypatch):
    for index, (level, kind, size) in enumerate(
        [("1", "Data", "48K"), ("1", "Instruction", "32K"), ("2", "Unified", "2048K")]
    ):
        entry = tmp_path / f"index{index}"
        entry.mkdir()
        (entry / "level").write_text(level + "\n")
        (entry / "type").write_text(kind + "\n")
        (entry / "size").write_text(size + "\n")
    monkeypatch.setattr(_machine, "_SYSFS", tmp_path)
    assert _machine._from_sysfs() == {"l1d": 48 * 1024, "l2": 2048 * 1024}


def test_the_workspace_limit_is_a_share_of_the_memory_within_bounds(tmp_path, monkeypatch):
    monkeypatch.delenv("LSTMCORE_WORKSPACE_LIMIT", raising=False)
    monkeypatch.setattr(_machine, "_CGROUP_LIMITS", (tmp_path / "memory.max",))
    for memory, expected in [(4 << 30, 256 << 20), (24 << 30, 768 << 20), (1 << 40, 2 << 30)]:
        monkeypatch.setattr(_machine, "physical_memory", lambda memory=memory: (memory, "sysconf"))
        limit, source = _machine.workspace_limit()
        assert limit == expected
        assert "1/32" in source and "sysconf" in source
    monkeypatch.setattr(_machine, "physical_memory", lambda: None)
    assert _machine.workspace_limit() == (256 << 20, "default")
    monkeypatch.setenv("LSTMCORE_WORKSPACE_LIMIT", "512M")
    assert _machine.workspace_limit() == (512 << 20, "LSTMCORE_WORKSPACE_LIMIT")
    assert _machine.workspace_limit(environment=False)[1] == "default"
    monkeypatch.setenv("LSTMCORE_WORKSPACE_LIMIT", "0")
    assert _machine.workspace_limit() == (0, "LSTMCORE_WORKSPACE_LIMIT")
    monkeypatch.setenv("LSTMCORE_WORKSPACE_LIMIT", "lots")
    with pytest.raises(ValueError, match="LSTMCORE_WORKSPACE_LIMIT"):
        _machine.workspace_limit()


def test_a_containers_memory_limit_bounds_the_memory(tmp_path, monkeypatch):
    limit = tmp_path / "memory.max"
    monkeypatch.setattr(_machine, "_CGROUP_LIMITS", (limit,))
    machine = _machine.physical_memory()
    assert machine is not None and machine[0] > 0
    limit.write_text("max\n")  # cgroup v2 without a limit
    assert _machine.physical_memory() == machine
    limit.write_text(f"{machine[0] * 2}\n")  # larger than the machine: the machine's
    assert _machine.physical_memory() == machine
    limit.write_text(f"{1 << 30}\n")
    assert _machine.physical_memory() == (1 << 30, "cgroup")


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's kept memory")
def test_the_workspace_limit_comes_from_the_environment_at_import_and_none_restores_it():
    import subprocess
    import sys

    code = (
        "import lstmcore; print(lstmcore.set_workspace_limit(1 << 20));"
        " print(lstmcore.set_workspace_limit(None)); print(lstmcore.set_workspace_limit(0))"
    )
    for env, expected in [("64M", 64 << 20), ("0", 0)]:
        out = subprocess.run(
            [sys.executable, "-W", "error", "-c", code],
            env={**os.environ, "LSTMCORE_WORKSPACE_LIMIT": env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert [int(v) for v in out] == [expected, 1 << 20, expected]
    bad = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "LSTMCORE_WORKSPACE_LIMIT": "lots"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "LSTMCORE_WORKSPACE_LIMIT" in bad.stderr and "RuntimeWarning" in bad.stderr
    assert int(bad.stdout.split()[0]) == _machine.workspace_limit(environment=False)[0]


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's plans")
def test_packed_rule_follows_the_caches_and_the_kernels():
    """The plain LSTM's default choice between its packed kernels and BLAS: every call with the
    AVX-512 kernels; with AVX2 on one thread, or while the packed weights ((I + H) x 4H values)
    fit in the L3 the machine reports (two sequences or more in training); the generic kernels
    for 2-8 sequences."""
    from lstmcore.engine import _lstm

    isa, l3, threads = _lstm._kernel_isa(), _lstm._set_l3(32 << 20), lstmcore.get_num_threads()
    try:
        for name in _lstm._available_isas():
            _lstm._set_kernel_isa(name)
            for n in (1, 2):
                lstmcore.set_num_threads(n)
                for B, T, I, H, size in [
                    (64, 100, 32, 128, 4),
                    (64, 100, 32, 128, 8),
                    (64, 100, 256, 512, 4),  # 6 MiB
                    (16, 50, 512, 1024, 4),  # 24 MiB
                    (16, 20, 1024, 2048, 4),  # 96 MiB: past the L3
                    (1, 100, 16, 128, 4),
                    (4, 1, 8, 8, 4),
                    (4, 30, 1, 50, 4),
                ]:
                    fits = n == 1 or (I + H) * 4 * H * size <= 32 << 20
                    for training in (False, True):
                        avx2 = T >= 2 and (B >= 2 or not training) and fits
                        want = {"avx512": True, "avx2": avx2, "generic": 2 <= B <= 8 and T >= 2}
                        got = _lstm._packs(B, T, I, H, size, training)
                        assert got == want[name], (name, n, B, T, I, H, size, training)
        if "avx2" in _lstm._available_isas():
            _lstm._set_kernel_isa("avx2")
            lstmcore.set_num_threads(2)
            assert _lstm._packs(64, 100, 256, 512, 4, True)
            _lstm._set_l3(4 << 20)  # 4 MiB: not the 6 MiB of S3's weights
            assert not _lstm._packs(64, 100, 256, 512, 4)
            assert not _lstm._packs(64, 100, 256, 512, 4, True)
            lstmcore.set_num_threads(1)
            assert _lstm._packs(64, 100, 256, 512, 4, True)
        with pytest.raises(ValueError, match="positive number of bytes"):
            _lstm._set_l3(0)
    finally:
        lstmcore.set_num_threads(threads)
        _lstm._set_l3(l3)
        _lstm._set_kernel_isa(isa)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's plans")
def test_panel_prefetch_follows_the_l2_and_can_be_forced():
    """The packed sequence prefetches its next panel into the L2 where the panels a thread streams
    at each step exceed half the L2 (AVX-512 kernels only: the others do not prefetch); 'never'
    and 'always' force either plan, and the results do not change."""
    from lstmcore.engine import _lstm

    isa, l2, mode = _lstm._kernel_isa(), _lstm._set_l2(2 * 1024 * 1024), _lstm._set_panel_prefetch("auto")
    try:
        for name in _lstm._available_isas():
            _lstm._set_kernel_isa(name)
            _lstm._set_packed_limits(1, 1 << 30, 1)
            big = _lstm._seq_plan(64, 100, 256, 512, 4, 1)  # 6 MiB of packed weights
            small = _lstm._seq_plan(64, 100, 32, 128, 4, 1)  # 320 KiB
            assert big["path"] == small["path"] == "packed"
            assert big["weight_bytes"] == (256 + 512) * 4 * 512 * 4
            assert big["prefetch"] == (name == "avx512")
            assert not small["prefetch"]
            assert big["row_block"] == (1 if name == "generic" else 6)
            # AVX2 stores its panels in strips of two vectors, but for a single sequence
            assert big["strip"] == (16 if name == "avx2" else 0)
            assert _lstm._seq_plan(1, 100, 256, 512, 4, 1)["strip"] == 0
            if name == "avx512":
                two = _lstm._seq_plan(256, 50, 64, 256, 4, 2)  # 1.25 MiB: within 3/4 of the L2
                # each thread streams all 1.25 MiB, more than half the L2: prefetched
                assert (two["threads"], two["split"], two["prefetch"]) == (2, "rows", True)
                assert two["row_block"] == 6
                _lstm._set_l2(1024 * 1024)  # not within 3/4 of 1 MiB: each thread its panels
                assert _lstm._seq_plan(256, 50, 64, 256, 4, 2)["split"] == "panels"
                _lstm._set_l2(2 * 1024 * 1024)
                # 6 MiB: even a thread's half of the panels exceeds 3/4 of the L2, so the panel
                # split would buy nothing for its barrier: rows; a quarter of them fits: panels
                assert _lstm._seq_plan(64, 100, 256, 512, 4, 2)["split"] == "rows"
                assert _lstm._seq_plan(64, 100, 256, 512, 4, 4)["split"] == "panels"
                rows = _lstm._seq_plan(64, 100, 32, 128, 4, 2)  # the threads split rows
                assert (rows["split"], rows["row_block"]) == ("rows", 6)  # in each thread's range
                assert _lstm._seq_plan(5, 100, 256, 512, 4, 1)["row_block"] == 4  # fewer than 6 rows
                _lstm._set_row_block(4)
                assert _lstm._seq_plan(64, 100, 256, 512, 4, 1)["row_block"] == 4
                _lstm._set_row_block(0)
                _lstm._set_l2(256 * 1024)
                assert _lstm._seq_plan(64, 100, 32, 128, 4, 1)["prefetch"]
                _lstm._set_l2(2 * 1024 * 1024)
                _lstm._set_panel_prefetch("never")
                assert not _lstm._seq_plan(64, 100, 256, 512, 4, 1)["prefetch"]
                _lstm._set_panel_prefetch("always")
                assert _lstm._seq_plan(64, 100, 32, 128, 4, 1)["prefetch"]
                _lstm._set_panel_prefetch("auto")
            _lstm._set_packed_limits(-1, 0, 0)
        with pytest.raises(ValueError, match="'auto', 'never' or 'always'"):
            _lstm._set_panel_prefetch("sometimes")
        with pytest.raises(ValueError, match="0 .the kernels' choice. or 4"):
            _lstm._set_row_block(8)
        with pytest.raises(ValueError, match="itemsize"):
            _lstm._seq_plan(4, 4, 4, 4, 2)
    finally:
        _lstm._set_kernel_isa(isa)
        _lstm._set_l2(l2)
        _lstm._set_panel_prefetch(mode)
        _lstm._set_packed_limits(-1, 0, 0)
        _lstm._set_row_block(0)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's plans")
def test_rows_split_where_they_keep_as_many_threads_busy_as_the_panels():
    """With more threads than blocks of rows, the rows are still split where that keeps at least
    as many threads busy as the panels would (no barrier per step), else the panels are."""
    from lstmcore.engine import _lstm

    isa = _lstm._kernel_isa()
    _lstm._set_packed_limits(1, 1 << 30, 1)
    try:
        for name in _lstm._available_isas():
            _lstm._set_kernel_isa(name)
            # S1 on 16 threads: 8 blocks of 4 rows, 4 panels of 16 units, 40 KiB of weights
            s1 = _lstm._seq_plan(32, 30, 1, 50, 4, 16)
            if name == "generic":  # one row at a time: the panels are split
                assert (s1["split"], s1["threads"]) == ("panels", 4)
                continue
            assert (s1["split"], s1["threads"]) == ("rows", 8)
            # 8 rows (2 blocks) and 16 panels: the panels keep 16 threads busy, the rows 2
            assert _lstm._seq_plan(8, 30, 0, 256, 4, 16)["split"] == "panels"
            # as many blocks of rows as threads: the rows, as before
            assert _lstm._seq_plan(64, 30, 1, 50, 4, 16)["split"] == "rows"
    finally:
        _lstm._set_kernel_isa(isa)
        _lstm._set_packed_limits(-1, 0, 0)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's plans")
@pytest.mark.parametrize("threads", [1, 2])
def test_panel_prefetch_gives_the_same_numbers(rng, threads):
    """Prefetching only moves weights between caches: forward and backward are bitwise the same
    with and without it, packed on one thread or on two threads' panels, lengths included."""
    from lstmcore.engine import _lstm

    B, T, I, H = 13, 6, 5, 40
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    w_x = rng.standard_normal((I, 4 * H)).astype(np.float32) * 0.3
    w_h = rng.standard_normal((H, 4 * H)).astype(np.float32) * 0.3
    b = rng.standard_normal(4 * H).astype(np.float32)
    dy = rng.standard_normal((B, T, H)).astype(np.float32)
    lengths = rng.integers(1, T + 1, size=B)
    saved = (
        _lstm._set_panel_prefetch("auto"),
        _lstm._seq_par_min(),
        _lstm._row_split_bytes(),
        lstmcore.get_num_threads(),
    )
    _lstm._set_packed_limits(1, 1 << 30, 1)
    lstmcore.set_num_threads(threads)
    _lstm._set_seq_par_min(0)
    _lstm._set_row_split_bytes(0)
    try:
        results = {}
        for mode in ("never", "always"):
            _lstm._set_panel_prefetch(mode)
            got = []
            for kw in ({}, {"lengths": lengths}):
                y, h_n, c_n, cache = lstmcore.lstm_forward(x, w_x, w_h, b, return_cache=True, **kw)
                grads = lstmcore.lstm_backward(dy, cache)
                got += [y, h_n, c_n, *(grads[k] for k in sorted(grads))]
            results[mode] = got
        for a, c in zip(results["never"], results["always"], strict=True):
            np.testing.assert_array_equal(a, c)
    finally:
        _lstm._set_panel_prefetch(saved[0])
        _lstm._set_seq_par_min(saved[1])
        _lstm._set_row_split_bytes(saved[2])
        lstmcore.set_num_threads(saved[3])
        _lstm._set_packed_limits(-1, 0, 0)


@pytest.mark.skipif(lstmcore.backend != "compiled", reason="the compiled engine's plans")
def test_weight_gradients_on_blas_or_packed_give_the_same_gradients(rng):
    """The training step's weight-gradient products run on lstmcore's packed kernels or, where the
    gradient spills out of half the L2 (or forced), on BLAS or, with AVX-512 and within 4 L2s, in
    the cache-blocked kernel: the gradients agree either way."""
    from helpers import assert_close

    from lstmcore.engine import _lstm

    B, T, I, H = 6, 5, 40, 36
    x = rng.standard_normal((B, T, I))
    w_x = rng.standard_normal((I, 4 * H)) * 0.3
    w_h = rng.standard_normal((H, 4 * H)) * 0.3
    b = rng.standard_normal(4 * H)
    dy = rng.standard_normal((B, T, H))
    saved = (_lstm._packed_limits(), _lstm._set_grad_products("auto"), _lstm._set_l2(2 * 1024 * 1024))
    _lstm._set_packed_limits(1, 1 << 30, 1)
    try:
        got = {}
        for mode, l2 in (
            ("packed", 1 << 21),
            ("blas", 1 << 21),
            ("blocked", 1 << 21),
            ("auto", 1 << 21),
            ("auto", 4096),
            ("auto", 1 << 15),
        ):
            _lstm._set_grad_products(mode)
            _lstm._set_l2(l2)
            cache = lstmcore.lstm_forward(x, w_x, w_h, b, return_cache=True)[-1]
            got[mode, l2] = lstmcore.lstm_backward(dy, cache)
        _lstm._set_grad_products("auto")
        _lstm._set_l2(1 << 15)  # dw_x (46 KiB) past half of it, both (87.5 KiB) within 4 of it
        blocked = _lstm._seq_plan(B, T, I, H, 8)["training"]
        want_where = "blocked" if _lstm._kernel_isa() == "avx512" else "blas"
        assert (blocked["dw_x"], blocked["dw_h"]) == (want_where, want_where)
        want = got["packed", 1 << 21]
        for key, grads in got.items():
            for name in ("dx", "dw_x", "dw_h", "db", "dh0", "dc0"):
                assert_close(grads[name], want[name], np.float64, name=f"{name} {key}")
        with pytest.raises(ValueError, match="'auto', 'packed', 'blas' or 'blocked'"):
            _lstm._set_grad_products("gpu")
    finally:
        _lstm._set_packed_limits(*saved[0])
        _lstm._set_grad_products(saved[1])
        _lstm._set_l2(saved[2])
