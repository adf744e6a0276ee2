"""``python -m ddbench.cli``: the same command line as ``ddbench``."""

import sys

from .app import app

sys.exit(app())
