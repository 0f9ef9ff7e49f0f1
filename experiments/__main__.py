"""`python -m experiments`: the `exodus` command without installing the package."""

import sys

from experiments.cli import main

sys.exit(main())
