"""``python -m asyncbdd`` is the ``asyncbdd`` command."""

import sys

from asyncbdd.cli import main

sys.exit(main())
