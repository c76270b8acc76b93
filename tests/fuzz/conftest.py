"""Hypothesis profiles of the fuzz suite.

Profiles (``settings.load_profile``), chosen by the environment variable ``LSTMCORE_FUZZ``:

- ``ci`` (default): few examples, derandomized (the same examples on every run), a deadline
  generous enough for a loaded 2-core machine; the whole directory runs in well under a minute.
- ``long`` (``LSTMCORE_FUZZ=long``): many more examples, random, no deadline: for a soak run.

Neither profile writes a ``.hypothesis`` example database. The shared helpers are
``tests/helpers.py`` (``from helpers import TOL``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

_TESTS = str(Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:  # `import helpers` finds tests/helpers.py in any import mode
    sys.path.insert(0, _TESTS)

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
