"""Where salesnb may write: the checks every writer makes before it writes.

Three promises (issue #13):

- **An input is never an output.** :func:`check_output_file` refuses a
  path that is one of the source's input files (a table file, the source
  itself, ``mapping.yml``, ``expectations.yml``), however it is spelled (a
  symlink or hard link to it included), and a file in a folder that does
  not exist (a clear message, not ``[Errno 2]`` naming a temporary file).
- **An output folder is salesnb's.** :func:`check_output_folder` refuses
  ``/``, the home folder, the source folder (or one holding it) and a
  folder holding anything but salesnb's own output: it must be missing,
  empty, or hold a ``manifest.json`` salesnb wrote (or the lock file a
  batch leaves, so a batch killed before its first manifest can rerun).
- **Nothing leaves the output folder.** :func:`check_no_symlinks` refuses
  a symlink anywhere between the output folder and a file written there
  (``DIR/reps -> /elsewhere``), so every write stays inside it.

Each refusal is an :class:`~salesnb.errors.OutputError` naming the path
and what to do: the CLI prints it and exits 1.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from salesnb.errors import OutputError

__all__ = ["source_inputs", "check_output_file", "check_output_folder", "check_no_symlinks", "fill_placeholders"]

# Files a folder source reads besides its table files (see salesnb.io.loading).
SIDECARS = ("mapping.yml", "mapping.yaml", "expectations.yml", "expectations.yaml")
# What marks a folder as salesnb's before its first manifest:
_OWN_MARKERS = (".salesnb.lock", ".salesnb")  # the lock; the data cache and plan of a batch (Airflow takes no lock)


def source_inputs(source, *, mapping=None, expectations=None, files: Iterable[str] = ()) -> list[Path]:
    """Every local file (or folder) the source is read from, absolute:
    the source itself, its table files (``<table>.csv`` ... in a folder
    source, plus ``files``: what the loader read, ``Dataset.files``), the
    mapping and the expectations (given, or the ones beside the data).
    A database URL without a local file gives nothing."""
    from salesnb.errors import DataError
    from salesnb.io.schema import TABLES
    from salesnb.io.sources import DUCKDB_SUFFIXES, FILE_SUFFIXES, SQLITE_SUFFIXES, database_file

    found: list[Path] = []
    text = str(source) if source is not None else ""
    path: Path | None = None
    if "://" in text:
        try:
            path = database_file(text)
        except DataError:  # an invalid URL names no file; opening it says why
            path = None
    elif text:
        path = Path(text).expanduser()
    if path is not None:
        found.append(path)
        if path.is_dir():
            tables = {name.casefold() for name in TABLES}
            suffixes = {s.lower() for s in (*FILE_SUFFIXES, *SQLITE_SUFFIXES, *DUCKDB_SUFFIXES)}
            sidecars = {name.casefold() for name in SIDECARS}
            try:
                entries = list(path.iterdir())
            except OSError:
                entries = []
            for entry in entries:
                name = entry.name.casefold()
                if name in sidecars or (entry.suffix.lower() in suffixes and entry.stem.casefold() in tables):
                    found.append(entry)
        else:  # a database file: its sidecars sit beside it
            found += [path.parent / name for name in SIDECARS if (path.parent / name).exists()]
    for extra in (mapping, expectations, *files):
        if extra and "://" not in str(extra) and " table " not in str(extra):
            found.append(Path(str(extra)).expanduser())
    return [_absolute(p) for p in dict.fromkeys(found)]


def check_output_file(path, *, inputs: Iterable[Path] = (), option: str = "the output file") -> Path:
    """``path`` made absolute, once it is safe to write: not an input, not a
    folder, in a folder that exists. Raises :class:`OutputError` otherwise."""
    target = _absolute(Path(str(path)).expanduser())
    inputs = list(inputs)
    for source in inputs:
        if _same(target, source):
            suggestion = target.with_name("quarantine.csv")
            if target.is_dir() or any(_same(suggestion, other) for other in inputs):
                suggestion = Path.cwd() / "quarantine.csv"
            raise OutputError(
                f"{option} {path} is {_what(source)}; salesnb never overwrites its input. Choose another file, e.g. {suggestion}"
            )
    if target.is_dir():
        raise OutputError(f"{option} {path} is a folder; give a file name, e.g. {target / 'quarantine.csv'}")
    folder = target.parent
    if not folder.is_dir():
        where = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OutputError(
            f"cannot write {option} {path}: the folder {folder} {where}. "
            f"Create the folder first, or choose a file in an existing folder"
        )
    return target


def check_output_folder(out_dir, *, inputs: Iterable[Path] = (), manifest: str = "manifest.json") -> Path:
    """``out_dir`` (absolute) once salesnb may write reports into it:

    - not ``/``, not the home folder, not an input (the source folder or a
      folder holding it or one of its files);
    - missing, empty, or salesnb's: holding a ``manifest`` salesnb wrote,
      or the lock file or state folder a salesnb batch leaves (a batch
      killed before its first manifest, an Airflow plan);
    - no symlink among the names salesnb writes there.

    A path that exists but is not a folder is left to the writer (its error
    names the file in the way).
    """
    out_dir = _absolute(Path(str(out_dir)).expanduser())
    home = _home()
    if out_dir == Path(out_dir.anchor) or (home is not None and out_dir == home):
        raise OutputError(
            f"--out {out_dir} is {'the root folder' if out_dir == Path(out_dir.anchor) else 'your home folder'}; "
            f"salesnb writes reports only into a folder of their own. Choose a new or empty folder, "
            f"e.g. {out_dir / 'reports'}"
        )
    for source in inputs:
        if _same(out_dir, source) or _is_within(source, out_dir):
            raise OutputError(
                f"--out {out_dir} {'is' if _same(out_dir, source) else 'holds'} {_what(source)}; "
                f"salesnb never writes reports among its input. Choose a new or empty folder outside it"
            )
    if out_dir.is_dir():
        try:
            entries = sorted(entry.name for entry in os.scandir(out_dir))
        except OSError:
            entries = []  # unreadable: the writer says why
        if entries and not (set(entries) & set(_OWN_MARKERS)) and not _salesnb_manifest(out_dir / manifest):
            shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
            raise OutputError(
                f"--out {out_dir} already holds files salesnb did not write ({shown}); salesnb writes only into "
                f"a new or empty folder, or one holding its own {manifest}. Choose another --out folder, "
                f"or empty that one"
            )
    return out_dir


def check_no_symlinks(out_dir, relative: str) -> Path:
    """``out_dir / relative`` once no part of it below ``out_dir`` is a
    symlink (a symlink planted there could carry the write elsewhere).
    ``relative`` is a POSIX path that must stay inside ``out_dir``."""
    out_dir = Path(out_dir)
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if ".." in parts or Path(relative).is_absolute():
        raise OutputError(f"{relative!r} would leave the output folder {out_dir}")
    current = out_dir
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise OutputError(
                f"{current} is a symbolic link; salesnb never follows a link inside its output folder "
                f"{out_dir}, so no report can be written outside it. Remove the link, or choose "
                f"another --out folder"
            )
    return current


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def fill_placeholders(template: str, values: dict[str, str], *, option: str = "--out") -> str:
    """``template`` with ``{name}`` replaced for the names in ``values`` only
    (``{{``/``}}`` are literal braces). Anything else in braces, such as
    attribute or index access (``{period.__class__}``), is refused: no
    Python formatting is ever applied to a user's text."""
    from salesnb.errors import InputError

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if name is not None and name in values:
            return values[name]
        allowed = " and ".join("{" + key + "}" for key in values)
        raise InputError(
            f"{option} {template!r}: {token!r} is not a placeholder; only {allowed} are filled in "
            f"(write {{{{ and }}}} for a literal brace)"
        )

    return _PLACEHOLDER.sub(replace, template)


# -- helpers ---------------------------------------------------------------------


def _absolute(path: Path) -> Path:
    """Absolute, with symlinks resolved where the path exists."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return Path(os.path.abspath(path))


def _same(a: Path, b: Path) -> bool:
    if _absolute(a) == _absolute(b):
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)  # a hard link
    except OSError:
        return False


def _is_within(inner: Path, outer: Path) -> bool:
    inner, outer = _absolute(inner), _absolute(outer)
    return outer in inner.parents


def _what(source: Path) -> str:
    return f"the data source's folder {source}" if source.is_dir() else f"an input of the data source ({source})"


def _home() -> Path | None:
    try:
        return _absolute(Path.home())
    except (KeyError, RuntimeError):
        return None


def _salesnb_manifest(path: Path) -> bool:
    """Whether ``path`` is a manifest a salesnb batch wrote."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 256 << 20:
            return False
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "salesnb_version" in manifest and isinstance(manifest.get("reports"), list)
