"""`python -m pipeline` is the same program as `cnam-batch`."""

import sys

from pipeline.cli.app import main

sys.exit(main())
