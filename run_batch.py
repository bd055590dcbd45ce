#!/usr/bin/env python3
"""cnam-batch entry point: `python run_batch.py run INPUT...` (same as the `cnam-batch` command)."""

import sys

from pipeline.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
