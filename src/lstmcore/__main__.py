"""``python -m lstmcore``: the same as the ``lstmcore`` command."""

import sys

from .cli import main

sys.exit(main())
