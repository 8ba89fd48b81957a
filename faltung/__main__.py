"""``python -m faltung``: the same as the ``faltung`` command."""
import sys

from .cli import main

sys.exit(main())
