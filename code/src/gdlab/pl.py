"""Old name of :mod:`gdlab.pl_criterion` (issue 10 named modules for what they hold), kept importable for code not
yet updated by ``tools/rename_api.py``: ``gdlab.pl`` *is* that module (same object, no warning); undocumented."""
import sys

from . import pl_criterion

sys.modules[__name__] = pl_criterion
__all__: list[str] = []
