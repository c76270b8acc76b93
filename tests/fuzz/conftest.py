"""Hypothesis profiles of the fuzz suite, and the shared helpers of ``tests/conftest.py``.

Profiles (``settings.load_profile``), chosen by the environment variable ``LSTMCORE_FUZZ``:

- ``ci`` (default): few examples, derandomized (the same examples on every run), a deadline
  generous enough for a loaded 2-core machine; the whole directory runs in well under a minute.
- ``long`` (``LSTMCORE_FUZZ=long``): many more examples, random, no deadline: for a soak run.

Neither profile writes a ``.hypothesis`` example database.

pytest imports every ``conftest.py`` that sits outside a package under the one module name
``conftest``; the one loaded last replaces the other in ``sys.modules``, so ``from conftest import
TOL`` in any test module (here or in ``tests/``) may find this file. It therefore also carries
every public name of ``tests/conftest.py`` (loaded from its path, under another module name).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

_TESTS = Path(__file__).resolve().parent.parent
if str(_TESTS) not in sys.path:  # `import conftest` finds tests/conftest.py in any import mode
    sys.path.insert(0, str(_TESTS))

_spec = importlib.util.spec_from_file_location("_lstmcore_tests_conftest", _TESTS / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
globals().update({k: v for k, v in vars(_shared).items() if not k.startswith("_")})

_COMMON = {
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=200, derandomize=True, deadline=5000, **_COMMON)
settings.register_profile("long", max_examples=5000, deadline=None, **_COMMON)

PROFILE = os.environ.get("LSTMCORE_FUZZ", "ci").strip().lower() or "ci"
if PROFILE not in ("ci", "long"):
    raise ValueError(f"LSTMCORE_FUZZ must be 'ci' or 'long', got {PROFILE!r}")
settings.load_profile(PROFILE)
