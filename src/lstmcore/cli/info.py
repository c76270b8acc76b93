"""``lstmcore info``: the version, backend, threads and kernels in force."""

from __future__ import annotations


def _info_command(args) -> int:
    import lstmcore

    print(f"lstmcore {lstmcore.__version__}, backend {lstmcore.backend}")
    for key, value in lstmcore.threadpool_info().items():
        print(f"  {key}: {value}")
    return 0
