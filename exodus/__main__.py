"""`python -m exodus`: the `exodus` command."""

import sys

from exodus.experiments.cli.main import main

sys.exit(main())
