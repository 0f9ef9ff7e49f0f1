"""`python -m exodus`: the `exodus` command."""

import sys

from exodus.experiments.cli import main

sys.exit(main())
