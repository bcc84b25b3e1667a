"""The old name of fonts.py, until checks.py and report.py import it by its own name."""

import sys

from . import fonts

sys.modules[__name__] = fonts
