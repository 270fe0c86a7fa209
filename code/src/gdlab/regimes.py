"""Old name of :mod:`gdlab.tubular_runs` (issue 10 named modules for what they hold), kept importable for code not
yet updated by ``tools/rename_api.py``: ``gdlab.regimes`` *is* that module (same object, no warning); undocumented."""
import sys

from . import tubular_runs

sys.modules[__name__] = tubular_runs
__all__: list[str] = []
