"""``python -m faltung``: the same as the ``faltung`` command."""
import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the command was still being imported: nothing to save yet
    print("faltung: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
