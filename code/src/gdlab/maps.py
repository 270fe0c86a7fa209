"""Old name of :mod:`gdlab.interval_maps` (issue 10 named modules for what they hold), kept importable for code not
yet updated by ``tools/rename_api.py``: ``gdlab.maps`` *is* that module (same object, no warning); undocumented."""
import sys

from . import interval_maps

sys.modules[__name__] = interval_maps
__all__: list[str] = []
