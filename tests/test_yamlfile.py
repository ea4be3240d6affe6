"""salesnb.io.yamlfile: a user's YAML file is read with caps (size, alias
expansion, nesting), located errors, and lines kept for later checks."""

from __future__ import annotations

import time

import pytest

import salesnb
from salesnb.errors import DataError
from salesnb.io import yamlfile
from salesnb.io.mapping import read_mapping
from salesnb.io.yamlfile import MAX_BYTES, MAX_DEPTH, read_yaml


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: level 1 holds 9 strings, each further level 9
    aliases of the one before, so the last expands to 9**levels strings."""
    lines = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    names = "abcdefghijklmnop"
    for previous, name in zip(names, names[1:levels]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def read(tmp_path, text: str, name: str = "expectations.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_yaml(path, table="expectations", flag="bad_expectations")


def only_problem(caught):
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


def test_alias_bomb_is_refused_at_once_with_the_line_where_it_grows_too_big(tmp_path):
    started = time.monotonic()
    with pytest.raises(DataError) as caught:
        read(tmp_path, billion_laughs())
    assert time.monotonic() - started < 2
    problem = only_problem(caught)
    # expanded sizes, counting each list as a value: a 10, b 1+9*10=91, c 820, d 7,381, e 66,430,
    # f 597,871: f (line 6) is the first over 200,000
    assert (problem.line, problem.flag, problem.table) == (6, "bad_expectations", "expectations")
    assert "alias bomb" in problem.message and "200,000" in problem.message


def test_aliases_that_expand_modestly_are_fine(tmp_path):
    # the same shape three levels deep: c expands to 820 values
    document = read(tmp_path, billion_laughs(levels=3))
    assert len(document.data["c"]) == 9 and document.data["c"][0][0] == ["lol"] * 9


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    with pytest.raises(DataError) as caught:
        read(tmp_path, "default:\n  win_rate: 0.5\nloop: &loop\n  - 1\n  - *loop\n")
    problem = only_problem(caught)
    assert problem.line == 3 and "contain itself" in problem.message  # the anchored list begins at &loop, line 3


def test_deep_nesting_is_refused(tmp_path):
    depth = MAX_DEPTH + 5
    with pytest.raises(DataError) as caught:
        read(tmp_path, "default:\n  x: " + "[" * depth + "]" * depth + "\n")
    assert "more than 64 levels deep" in only_problem(caught).message


def test_nesting_reached_through_an_alias_counts_too(tmp_path):
    # 40 levels under an anchor, used 40 levels deep: 80 once expanded
    inner = "[" * 40 + "]" * 40
    with pytest.raises(DataError) as caught:
        read(tmp_path, f"a: &deep {inner}\nb: " + "[" * 40 + "*deep" + "]" * 40 + "\n")
    assert "levels deep" in only_problem(caught).message


def test_a_file_over_the_size_cap_is_refused_without_reading_it_all(tmp_path, monkeypatch):
    monkeypatch.setattr(yamlfile, "MAX_BYTES", 1000)
    with pytest.raises(DataError) as caught:
        read(tmp_path, "# padding\n" * 101)  # 1,010 bytes
    problem = only_problem(caught)
    assert problem.line is None and "larger than" in problem.message
    assert MAX_BYTES == 2 * 1024 * 1024  # the real cap: 2 MiB


def test_a_key_written_twice_is_an_error_naming_both_lines(tmp_path):
    with pytest.raises(DataError) as caught:
        read(tmp_path, "reps:\n  R07: {revenue_quota: 900000}\n  R08: {win_rate: 0.5}\n  R07: {win_rate: 0.4}\n")
    problem = only_problem(caught)
    assert problem.line == 4 and "'R07' is written twice" in problem.message and "lines 2 and 4" in problem.message


@pytest.mark.parametrize(
    "text, line, phrase",
    [
        ("default:\n  revenue_quota: 5\n  start: 2025-13-45\n", 3, "cannot read '2025-13-45' as a timestamp"),
        ("default:\n  revenue_quota: " + "1" * 5000 + "\n", 2, "too many digits"),
        ("default: !!python/object:os.system x\n", 1, "could not determine a constructor"),
        ("a: 1\n---\nb: 2\n", 2, "another document"),
    ],
)
def test_values_yaml_cannot_build_are_located_errors_not_tracebacks(tmp_path, text, line, phrase):
    with pytest.raises(DataError) as caught:
        read(tmp_path, text)
    problem = only_problem(caught)
    assert problem.line == line and phrase in problem.message and "not valid YAML" in problem.message


def test_lines_and_text_as_written_are_kept(tmp_path):
    document = read(tmp_path, "default:\n  revenue_quota: 1.0e+400\nreps:\n  007: {win_rate: 0.5}\n  R1:\n    - a\n    - b\n")
    assert document.line("default", "revenue_quota") == 2
    assert document.text("default", "revenue_quota") == "1.0e+400"
    assert document.line("reps", 7) == 4 and document.key_text("reps", 7) == "007"  # YAML reads 007 as 7
    assert document.line("reps", "R1", 1) == 7
    assert document.line("reps", "R9") is None and document.text("reps") is None


def test_mapping_yml_goes_through_the_same_caps(tmp_path):
    (tmp_path / "mapping.yml").write_text(billion_laughs().replace("a: &a", "tables: {}\na: &a", 1), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_mapping(tmp_path / "mapping.yml")
    problem = only_problem(caught)
    assert (problem.line, problem.flag, problem.table) == (7, "bad_mapping", "mapping") and "alias bomb" in problem.message


def test_load_refuses_an_expectations_alias_bomb_in_seconds(tmp_path):
    (tmp_path / "reps.csv").write_text("rep_id,name,territory\nR1,Ann,North\n", encoding="utf-8")
    (tmp_path / "opportunities.csv").write_text(
        "opportunity_id,rep_id,created_date,status,amount\nO1,R1,2025-01-02,open,10\n", encoding="utf-8"
    )
    (tmp_path / "expectations.yml").write_text(billion_laughs(), encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(DataError) as caught:
        salesnb.load(tmp_path)
    assert time.monotonic() - started < 10
    assert only_problem(caught).file == str(tmp_path / "expectations.yml")
