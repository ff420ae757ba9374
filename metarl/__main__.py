"""``python -m metarl``: the ``metarl`` command line, also as ``torchrun --nproc-per-node N -m metarl train ...``."""

import sys

from metarl.cli import main

if __name__ == "__main__":
    sys.exit(main())
