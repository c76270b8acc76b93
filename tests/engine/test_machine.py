"""What the engine reads of the machine (lstmcore.engine._machine): cache sizes from sysfs or
sysconf, and the environment's overrides."""

from __future__ import annotations

import pytest

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
    assert set(caches) == {"l1d", "l2"}
    for size, source in caches.values():
        assert size > 0
        assert source in ("sysfs", "sysconf", "default")
    assert _machine.l1d() == caches["l1d"][0]


def test_the_environment_overrides_the_machine(monkeypatch):
    monkeypatch.setenv("LSTMCORE_L1D", "24K")
    monkeypatch.setenv("LSTMCORE_L2", "512K")
    assert _machine.caches() == {"l1d": (24 * 1024, "LSTMCORE_L1D"), "l2": (512 * 1024, "LSTMCORE_L2")}
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
