"""Update chapters, tests and benchmarks to the layout of issue 10 (idempotent: run it as often as you like).

Usage::

    .venv/bin/python tools/rename_api.py            # rewrite files in place, list what changed
    .venv/bin/python tools/rename_api.py --check    # change nothing; exit 1 if a file still needs updating
    .venv/bin/python tools/rename_api.py FILE ...   # only these files

Renames (the old names still resolve at run time, undocumented, so a file that was not updated keeps working):

* ``pl.positive_init``, ``pl.glorot_init``, ``pl.he_init``, ``pl.first_layer_bound``, ``pl.positive_init_bound``
  (and their result classes) -> ``initialisation.<name>``;
* ``pl.output_jacobian``, ``pl.tangent_kernel`` -> ``tangent_kernel.<name>``;
* ``pl.event_probability``, ``pl.ProbabilityEstimate`` -> ``statistics.<name>``;
* ``<alias of gdlab.manifold>.sharpness`` -> ``<alias>.minimiser_sharpness`` (``curvature.sharpness`` is the
  Hessian's top eigenvalue; the manifold's closed form is the sharpness at the minimisers).

The ``from gdlab import ...`` line of a file gains the modules its rewritten calls need. ``chapters/api.md``
gains an ``automodule`` entry for each new module. ``from gdlab.objectives import X`` needs no change
(``objectives`` is now a subpackage that re-exports every model).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MOVED = {
    "initialisation": ["positive_init_bound", "positive_init", "glorot_init", "he_init", "first_layer_bound",
                       "FirstLayerBound", "PositiveInitBound"],
    "tangent_kernel": ["output_jacobian", "tangent_kernel"],
    "statistics": ["event_probability", "ProbabilityEstimate"],
}
NEW_MODULES = list(MOVED)
API_AFTER = ".. automodule:: gdlab.pl\n   :members:\n"


def _aliases(text: str, module: str) -> list[str]:
    """Names under which a file refers to ``gdlab.<module>`` (the module's name or an ``as`` alias)."""
    aliases = set()
    for m in re.finditer(r"^from gdlab import ([^\n#]+)", text, flags=re.M):
        for part in m.group(1).replace("(", "").replace(")", "").split(","):
            words = part.split()
            if words and words[0] == module:
                aliases.add(words[2] if len(words) == 3 and words[1] == "as" else module)
    for m in re.finditer(rf"^import gdlab\.{module} as (\w+)", text, flags=re.M):
        aliases.add(m.group(1))
    return sorted(aliases)


def _ensure_imported(text: str, modules: list[str]) -> str:
    """Add ``modules`` to the first ``from gdlab import ...`` line (or a new line after the first gdlab import)."""
    if not modules:
        return text
    m = re.search(r"^from gdlab import ([^\n#(]+)$", text, flags=re.M)
    if m:
        have = [p.strip() for p in m.group(1).split(",")]
        names = {p.split()[-1] for p in have}
        add = [mod for mod in modules if mod not in names]
        if not add:
            return text
        return text[: m.start(1)] + ", ".join(have + add) + text[m.end(1) :]
    m = re.search(r"^(from gdlab|import gdlab)[^\n]*$", text, flags=re.M)
    if not m:
        return text
    return text[: m.end()] + "\nfrom gdlab import " + ", ".join(modules) + text[m.end() :]


def rewrite(text: str, is_api_page: bool = False) -> str:
    needed = []
    for module, names in MOVED.items():
        alt = "|".join(names)
        # fully qualified references (prose, {func} roles, docstrings)
        text, n_full = re.subn(rf"\bgdlab\.pl\.({alt})\b", rf"gdlab.{module}.\1", text)
        n_alias = 0
        for alias in _aliases(text, "pl"):
            text, k = re.subn(rf"(?<![\w.]){re.escape(alias)}\.({alt})\b", rf"{module}.\1", text)
            n_alias += k
        if n_alias:
            needed.append(module)
    for alias in _aliases(text, "manifold"):
        text = re.sub(rf"(?<![\w.]){re.escape(alias)}\.sharpness\b", f"{alias}.minimiser_sharpness", text)
    text = re.sub(r"\bgdlab\.manifold\.sharpness\b", "gdlab.manifold.minimiser_sharpness", text)
    text = _ensure_imported(text, needed)
    if is_api_page and API_AFTER in text:
        block = "".join(f".. automodule:: gdlab.{mod}\n   :members:\n" for mod in NEW_MODULES if f"automodule:: gdlab.{mod}\n" not in text)
        text = text.replace(API_AFTER, API_AFTER + block, 1)
    return text


def targets(argv: list[str]) -> list[Path]:
    files = [Path(a).resolve() for a in argv if not a.startswith("--")]
    if files:
        return files
    return sorted((ROOT / "chapters").glob("*.md")) + sorted((ROOT / "tests").glob("test_*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = []
    for path in targets(argv):
        old = path.read_text()
        new = rewrite(old, is_api_page=path.name == "api.md")
        if new != old:
            changed.append(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
            if not check:
                path.write_text(new)
    verb = "need updating" if check else "updated"
    print(f"{len(changed)} file(s) {verb}" + "".join(f"\n  {p}" for p in changed))
    return 1 if (check and changed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
