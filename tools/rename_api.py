"""Update chapters, tests, benchmarks, tools and docs to the layout of issue 10 (idempotent: run it as often as you like).

Usage::

    .venv/bin/python tools/rename_api.py            # rewrite files in place, list what changed
    .venv/bin/python tools/rename_api.py --check    # change nothing; exit 1 if a file still needs updating
    .venv/bin/python tools/rename_api.py FILE ...   # only these files

Renames (the old names still resolve at run time, undocumented, so a file that was not updated keeps working):

* modules named for the chapter that used them -> named for what they hold (``RENAMED``): ``pl`` ->
  ``pl_criterion``, ``maps`` -> ``interval_maps``, ``transition`` -> ``phase_transition``, ``regimes`` ->
  ``tubular_runs``. In a ``from gdlab import ...`` line, ``pl`` becomes ``pl_criterion as pl`` and
  ``regimes as R`` becomes ``tubular_runs as R``, so the code below the import is unchanged (a line longer
  than 88 characters is split into two imports, the renamed modules on the second); ``gdlab.pl`` anywhere
  (``import gdlab.pl``, ``from gdlab.pl import``, prose, ``{func}`` roles, ``automodule``, strings) becomes
  ``gdlab.pl_criterion``; a backquoted module name in
  Markdown (`` `pl` ``) and the module list of the README's layout become the new name; the paths
  ``gdlab/pl.py`` and ``test_pl.py`` become ``gdlab/pl_criterion.py`` and ``test_pl_criterion.py``;
* ``pl.positive_init``, ``pl.glorot_init``, ``pl.he_init``, ``pl.first_layer_bound``, ``pl.positive_init_bound``
  (and their result classes) -> ``initialisation.<name>``;
* ``pl.output_jacobian``, ``pl.tangent_kernel`` -> ``tangent_kernel.<name>``;
* ``pl.event_probability``, ``pl.ProbabilityEstimate`` -> ``statistics.<name>``;
* ``<alias of gdlab.manifold>.sharpness`` -> ``<alias>.minimiser_sharpness`` (``curvature.sharpness`` is the
  Hessian's top eigenvalue; the manifold's closed form is the sharpness at the minimisers).

The ``from gdlab import ...`` line of a file gains the modules its rewritten calls need. ``chapters/api.md``
gains an ``automodule`` entry for each new module. ``from gdlab.objectives import X`` needs no change
(``objectives`` is now a subpackage that re-exports every model). Files: ``chapters/*.md``, ``tests/*.py``,
``benchmarks/*.py``, ``tools/*.py`` (not this script), ``README.md``, ``CONTRIBUTING.md``.
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
API_AFTER = ".. automodule:: gdlab.pl_criterion\n   :members:\n"

#: old module name -> new module name (``gdlab/__init__.py`` keeps the same table as ``_OLD_NAMES``)
RENAMED = {"pl": "pl_criterion", "maps": "interval_maps", "transition": "phase_transition", "regimes": "tubular_runs"}
MAX_LINE = 88


def _aliases(text: str, module: str) -> list[str]:
    """Names under which a file refers to ``gdlab.<module>`` (under its name, its new name, or an ``as`` alias)."""
    names = {module, RENAMED.get(module, module)}
    aliases = set()
    for m in re.finditer(r"^from gdlab import ([^\n#]+)", text, flags=re.M):
        for part in m.group(1).replace("(", "").replace(")", "").split(","):
            words = part.split()
            if words and words[0] in names:
                aliases.add(words[2] if len(words) == 3 and words[1] == "as" else words[0])
    for name in names:
        for m in re.finditer(rf"^import gdlab\.{name} as (\w+)", text, flags=re.M):
            aliases.add(m.group(1))
    return sorted(aliases)


def _rename_imports(text: str) -> str:
    """``from gdlab import pl, regimes as R`` -> ``from gdlab import pl_criterion as pl, tubular_runs as R``."""

    def fix(m: re.Match) -> str:
        parts = [p.strip() for p in m.group(2).split(",")]
        new_parts, renamed = [], []
        for part in parts:
            words = part.split()
            if words and words[0] in RENAMED and (len(words) == 1 or (len(words) == 3 and words[1] == "as")):
                renamed.append(f"{RENAMED[words[0]]} as {words[-1]}")
                new_parts.append(renamed[-1])
            else:
                new_parts.append(part)
        if not renamed:
            return m.group(0)
        line = m.group(1) + ", ".join(new_parts) + m.group(3)
        kept = [p for p in new_parts if p not in renamed]
        if len(line) <= MAX_LINE or not kept:
            return line
        return m.group(1) + ", ".join(kept) + "\n" + m.group(1) + ", ".join(renamed) + m.group(3)

    return re.sub(r"^(from gdlab import )([^\n#()]+?)([ \t]*(?:#[^\n]*)?)$", fix, text, flags=re.M)


def _rename_modules(text: str, is_markdown: bool, is_readme: bool) -> str:
    for old, new in RENAMED.items():
        text = re.sub(rf"\bgdlab\.{old}\b(?!\.py)", f"gdlab.{new}", text)
        text = re.sub(rf"\bgdlab/{old}\.py\b", f"gdlab/{new}.py", text)
        text = re.sub(rf"\btest_{old}\.py\b", f"test_{new}.py", text)
        if is_markdown:
            text = text.replace(f"`{old}`", f"`{new}`")
    if is_readme:  # the module list of the Layout section: "curvature, dynamics, manifold, regimes, ..."
        def fix(m: re.Match) -> str:
            return re.sub(r"(?<![\w/])(" + "|".join(RENAMED) + r")(?=,)", lambda k: RENAMED[k.group(1)], m.group(0))

        text = re.sub(r"^code/src/gdlab/.*?symbolic/[^\n]*$", fix, text, count=1, flags=re.M | re.S)
    return _rename_imports(text)


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


def rewrite(text: str, is_api_page: bool = False, is_markdown: bool = False, is_readme: bool = False) -> str:
    needed = []
    for module, names in MOVED.items():
        alt = "|".join(names)
        # fully qualified references (prose, {func} roles, docstrings)
        text, n_full = re.subn(rf"\bgdlab\.pl(?:_criterion)?\.({alt})\b", rf"gdlab.{module}.\1", text)
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
    text = _rename_modules(text, is_markdown, is_readme)
    if is_api_page and API_AFTER in text:
        block = "".join(f".. automodule:: gdlab.{mod}\n   :members:\n" for mod in NEW_MODULES if f"automodule:: gdlab.{mod}\n" not in text)
        text = text.replace(API_AFTER, API_AFTER + block, 1)
    return text


def targets(argv: list[str]) -> list[Path]:
    files = [Path(a).resolve() for a in argv if not a.startswith("--")]
    if files:
        return files
    tools = [p for p in sorted((ROOT / "tools").glob("*.py")) if p.name != Path(__file__).name]
    docs = [p for p in (ROOT / "README.md", ROOT / "CONTRIBUTING.md") if p.is_file()]
    return (sorted((ROOT / "chapters").glob("*.md")) + sorted((ROOT / "tests").glob("*.py"))
            + sorted((ROOT / "benchmarks").glob("*.py")) + tools + docs)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = []
    for path in targets(argv):
        old = path.read_text()
        new = rewrite(old, is_api_page=path.name == "api.md", is_markdown=path.suffix == ".md",
                      is_readme=path.name == "README.md")
        if new != old:
            changed.append(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
            if not check:
                path.write_text(new)
    verb = "need updating" if check else "updated"
    print(f"{len(changed)} file(s) {verb}" + "".join(f"\n  {p}" for p in changed))
    return 1 if (check and changed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
