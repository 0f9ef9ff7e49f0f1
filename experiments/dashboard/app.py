"""The dashboard page as a module, for `solara run exodus.experiments.dashboard.app`.

`exodus dashboard` serves the repository's `app.py` when there is one (a clone) and this module when
the package is installed without it; both hold the same page.
"""

from exodus.experiments.dashboard import page as _page

page = _page()
