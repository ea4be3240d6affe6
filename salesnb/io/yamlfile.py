"""Reading a user's YAML file (``mapping.yml``, ``expectations.yml``) safely.

Every YAML file salesnb reads from a user goes through :func:`read_yaml`,
which refuses, with a :class:`~salesnb.errors.DataError` naming the file
and (where there is one) the line, instead of hanging or crashing:

- a file larger than :data:`MAX_BYTES` (read no further than that, so even
  ``/dev/zero`` ends at once);
- a file that is not UTF-8 (a guessed encoding would silently change names
  that must match the data);
- invalid YAML, and values YAML cannot build (``2025-13-45``, a
  5,000-digit number, an unknown ``!!tag``);
- aliases (``*name``) that would expand the document beyond
  :data:`MAX_VALUES` values (the "billion laughs": nine lines of nested
  anchors that expand to hundreds of millions of strings), an alias inside
  its own anchor (a structure that contains itself), and nesting deeper
  than :data:`MAX_DEPTH`;
- a key written twice in one mapping (YAML would silently keep the last).

The result, :class:`YamlFile`, keeps the composed nodes so later checks
can name the line of any key (:meth:`YamlFile.line`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from salesnb.errors import DataError, Problem

MAX_BYTES = 2 * 1024 * 1024
"""The largest YAML file read (2 MiB): a mapping or expectations file is a few KB."""
MAX_VALUES = 200_000
"""The most values (scalars, lists and mappings) a document may hold once its aliases are expanded."""
MAX_DEPTH = 64
"""The deepest nesting of lists and mappings allowed."""

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed: fast, and it caps nesting itself
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _SafeLoader(_Loader):
    """The safe loader, turning a value YAML cannot build into a located YAML error."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:  # datetime.date(2025, 13, 45), int() of 5,000 digits
            kind = node.tag.rsplit(":", 1)[-1]
            detail = "it has too many digits" if kind == "int" else str(exc)
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {_short(node)} as a {kind}: {detail}", node.start_mark
            ) from None


@dataclass(frozen=True)
class YamlFile:
    """A parsed YAML file: ``data`` as plain Python values, ``root`` the
    composed node tree that says where each value was written."""

    path: str
    data: object
    root: yaml.Node | None
    _keys: dict = field(default_factory=dict, repr=False, compare=False)  # id(mapping node) -> {key text: (key, value)}

    def _entry(self, mapping: yaml.MappingNode, key) -> tuple[yaml.Node, yaml.Node] | None:
        """The (key node, value node) pair of ``key`` in ``mapping``."""
        index = self._keys.get(id(mapping))
        if index is None:
            index = self._keys[id(mapping)] = {}
            for name, value in mapping.value:
                if isinstance(name, yaml.ScalarNode):
                    index.setdefault(name.value, (name, value))
        found = index.get(str(key))
        if found is not None or isinstance(key, str):
            return found
        return next(((name, value) for name, value in mapping.value if _same_key(name, key)), None)

    def node(self, *keys) -> yaml.Node | None:
        """The node at ``keys`` (mapping keys and list positions), or None."""
        node = self.root
        for key in keys:
            if isinstance(node, yaml.MappingNode):
                entry = self._entry(node, key)
                node = entry[1] if entry is not None else None
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
                node = node.value[key]
            else:
                return None
        return node

    def line(self, *keys) -> int | None:
        """The line (1 = the first) where the value at ``keys`` is named: the
        line of its key in a mapping, of the item in a list; None when
        there is no such value. ``line()`` is the document's first line."""
        if not keys:
            return self.root.start_mark.line + 1 if self.root is not None else None
        parent = self.node(*keys[:-1])
        key = keys[-1]
        if isinstance(parent, yaml.MappingNode):
            entry = self._entry(parent, key)
            return entry[0].start_mark.line + 1 if entry is not None else None
        found = self.node(*keys)
        return found.start_mark.line + 1 if found is not None else None

    def text(self, *keys) -> str | None:
        """The value at ``keys`` as written in the file (``1.0e+400``, ``007``)
        when it is a scalar; None for a list, a mapping or nothing."""
        found = self.node(*keys)
        return found.value if isinstance(found, yaml.ScalarNode) else None

    def key_text(self, *keys) -> str | None:
        """The last key of ``keys`` as written in the file (``007`` for the key YAML reads as 7)."""
        parent = self.node(*keys[:-1])
        entry = self._entry(parent, keys[-1]) if isinstance(parent, yaml.MappingNode) else None
        return entry[0].value if entry is not None else None


def read_yaml(path, *, table: str, flag: str, what: str | None = None) -> YamlFile:
    """Read, check and parse the YAML file at ``path`` (see the module doc).

    ``table`` and ``flag`` label the problems raised (``"expectations"``,
    ``"bad_expectations"``); ``what`` names the file in messages (default:
    its name). A missing file raises FileNotFoundError for the caller to
    explain; everything else wrong raises :class:`DataError`.
    """
    path = Path(path)
    what = what or path.name
    data = _read_capped(path, table=table, flag=flag, what=what)
    text = decode_utf8(data, path, table=table, flag=flag)
    loader = _SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_nodes(root, path, table=table, flag=flag, what=what)
        value = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        hint = (
            "quote the value to keep it as text, or correct it"
            if isinstance(exc, yaml.constructor.ConstructorError)
            else "fix the YAML syntax"
        )
        raise DataError(
            _problem(table, path, mark.line + 1 if mark is not None else None, flag, f"{what} is not valid YAML: {problem}", hint)
        ) from None
    except RecursionError:  # the pure-Python parser (no libyaml) on deep nesting
        raise DataError(
            _problem(
                table,
                path,
                None,
                flag,
                f"{what} nests lists or mappings too deeply",
                f"keep the nesting under {MAX_DEPTH} levels",
            )
        ) from None
    finally:
        loader.dispose()
    return YamlFile(str(path), value, root)


def decode_utf8(data: bytes, path, *, table: str, flag: str) -> str:
    """``data`` (the bytes of a YAML file) as text: it must be UTF-8 (a BOM
    is fine). Any other encoding raises :class:`DataError` naming the file,
    the line and the byte, instead of guessing: a guessed encoding would
    silently change names and values that must match the data exactly."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            Problem(
                table=table,
                file=str(path),
                line=line,
                column=None,
                value=None,
                message=f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x}; it was probably saved as Windows-1252 or Latin-1)",
                hint="save the file as UTF-8 (most editors: Save As, Encoding: UTF-8) and run again",
                flag=flag,
            )
        ) from None


def read_utf8(path, *, table: str = "mapping", flag: str = "bad_mapping") -> str:
    """The text of a YAML file, which must be UTF-8 and at most :data:`MAX_BYTES`
    (see :func:`decode_utf8`)."""
    path = Path(path)
    return decode_utf8(_read_capped(path, table=table, flag=flag, what=path.name), path, table=table, flag=flag)


# -- internals ------------------------------------------------------------------


def _read_capped(path: Path, *, table: str, flag: str, what: str) -> bytes:
    """The file's bytes, reading no more than MAX_BYTES + 1 of them."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise DataError(
            _problem(
                table,
                path,
                None,
                flag,
                f"{what} is larger than {MAX_BYTES // 1024 // 1024} MiB, the most salesnb reads from a YAML file",
                f"check that {path} is the right file: {what} holds a few settings, not data",
            )
        )
    return data


def _check_nodes(root: yaml.Node, path: Path, *, table: str, flag: str, what: str) -> None:
    """Refuse a document whose aliases expand beyond MAX_VALUES values, that
    contains itself, nests deeper than MAX_DEPTH or repeats a key.

    Each distinct node is visited once (an alias is the very node its
    anchor names), remembering its expanded size and height, so a bomb is
    measured in time linear in the file, not in its expansion.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values once expanded, levels of nesting)
    open_nodes: set[int] = set()

    def fail(node: yaml.Node, message: str, hint: str):
        raise DataError(_problem(table, path, node.start_mark.line + 1, flag, message, hint))

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        if id(node) in open_nodes:
            fail(
                node,
                f"{what} has an alias (*name) inside the very anchor (&name) it refers to, so the value would contain itself",
                "write the values out instead of the alias",
            )
        if id(node) in measured:
            size, height = measured[id(node)]
        else:
            if depth > MAX_DEPTH:
                fail(node, f"{what} nests lists or mappings more than {MAX_DEPTH} levels deep", "flatten the file")
            open_nodes.add(id(node))
            if isinstance(node, yaml.MappingNode):
                _check_duplicate_keys(node, fail)
                children = [child for pair in node.value for child in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = node.value
            else:
                children = []
            size, height = 1, 0
            for child in children:
                child_size, child_height = visit(child, depth + 1)
                size += child_size
                height = max(height, child_height + 1)
                if size > MAX_VALUES:
                    fail(
                        node,
                        f"{what} uses aliases (*name) that would repeat their anchors' values into more than "
                        f"{MAX_VALUES:,} values (an alias bomb)",
                        "write each value once; an expectations or mapping file needs no aliases",
                    )
            open_nodes.discard(id(node))
            measured[id(node)] = (size, height)
        if depth + height > MAX_DEPTH:
            fail(node, f"{what} nests lists or mappings more than {MAX_DEPTH} levels deep", "flatten the file")
        return size, height

    visit(root, 0)


def _check_duplicate_keys(node: yaml.MappingNode, fail) -> None:
    seen: dict[tuple[str, str], int] = {}
    for name, _ in node.value:
        if not isinstance(name, yaml.ScalarNode) or name.tag == _MERGE_TAG:
            continue
        key = (name.tag, name.value)
        line = name.start_mark.line + 1
        if key in seen:
            fail(
                name,
                f"the key {name.value!r} is written twice in one mapping (lines {seen[key]} and {line}); YAML would keep only the last",
                "keep one of them (merge their settings)",
            )
        seen[key] = line


def _same_key(name: yaml.Node, key) -> bool:
    if not isinstance(name, yaml.ScalarNode):
        return False
    try:  # a key YAML read as a number (7 for "007", True for "yes")
        return not isinstance(key, str) and yaml.safe_load(name.value) == key
    except (yaml.YAMLError, ValueError):
        return False


def _short(node: yaml.Node) -> str:
    text = node.value if isinstance(node, yaml.ScalarNode) else node.tag
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _problem(table: str, path: Path, line: int | None, flag: str, message: str, hint: str) -> Problem:
    return Problem(table=table, file=str(path), line=line, column=None, value=None, message=message, hint=hint, flag=flag)
