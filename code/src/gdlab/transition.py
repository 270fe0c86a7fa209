"""Old name of :mod:`gdlab.phase_transition` (issue 10 named modules for what they hold), kept importable for code not
yet updated by ``tools/rename_api.py``: ``gdlab.transition`` *is* that module (same object, no warning); undocumented."""
import sys

from . import phase_transition

sys.modules[__name__] = phase_transition
__all__: list[str] = []
