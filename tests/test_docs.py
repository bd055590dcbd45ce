"""The README covers the program as built: every option of every command (walked from the parser,
not a hand-kept list), every exit code, status, reason and warning, every environment name, and
its quick start is what CI runs."""

from __future__ import annotations

import argparse
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from pipeline.cli.app import build_parser
from pipeline.config import ENV_PREFIX, NAMED_ENV
from pipeline.errors import ExitCode
from pipeline.model import Reason, Status, Warn

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
CI = (REPO / ".ci" / "run").read_text(encoding="utf-8")


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return dict(actions[0].choices)


def long_options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings if o.startswith("--")]


def mentions(text: str, option: str) -> bool:
    """`--state` as a whole option: not the start of `--state-file`."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def section(title: str) -> str:
    """The README's `## title` section, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)


def quick_start_commands() -> list[str]:
    blocks = sh_blocks(README)
    assert len(blocks) >= 2
    commands = []
    for block in blocks[:2]:
        lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
        assert len(lines) == 1, f"a quick-start block holds one command: {block!r}"
        commands.append(lines[0].strip())
    return commands


COMMANDS = sorted(subparsers())
PARSER_OPTIONS = sorted(
    {(name, option) for name, p in subparsers().items() for option in long_options(p)}
    | {(None, option) for option in long_options(build_parser())},
    key=lambda pair: (pair[0] or "", pair[1]),
)


def test_parser_walk_finds_the_commands_and_options() -> None:
    # guards the walk itself: if it found nothing, every test below would pass vacuously
    assert COMMANDS == ["config", "run", "sandbox", "status"]
    assert ("run", "--dry-run") in PARSER_OPTIONS
    assert ("sandbox", "--approve-after") in PARSER_OPTIONS
    assert len(PARSER_OPTIONS) > 40


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_commands_table(command: str) -> None:
    assert re.search(rf"^\| `cnam-batch {command}\b", README, re.M), command


def _option_param(command: str | None, option: str) -> object:
    return pytest.param(command, option, id=f"{command or 'cnam-batch'} {option}")


@pytest.mark.parametrize(("command", "option"), [_option_param(c, o) for c, o in PARSER_OPTIONS])
def test_every_option_is_in_the_readme(command: str | None, option: str) -> None:
    assert mentions(README, option), f"{command} {option} is not in README.md"


@pytest.mark.parametrize("option", [o for o in long_options(subparsers()["run"]) if o != "--help"])
def test_every_run_option_is_in_the_run_options_table(option: str) -> None:
    table = README.split("Options of `run`:", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `--")]
    assert any(mentions(line.split("|")[1], option) for line in rows), option


@pytest.mark.parametrize(
    "command",
    [
        "status",
        "sandbox",
    ],
)
def test_commands_table_row_lists_each_option_of_its_command(command: str) -> None:
    row = next(ln for ln in README.splitlines() if ln.startswith(f"| `cnam-batch {command}"))
    usage = row.split("|")[1]
    missing = [
        o for o in long_options(subparsers()[command]) if o != "--help" and not mentions(usage, o)
    ]
    assert missing == []


def test_help_is_described_for_every_command() -> None:
    assert "`--help` on any command lists the same" in README
    assert all("--help" in long_options(p) for p in subparsers().values())


def test_config_row_names_json_and_the_run_options() -> None:
    row = next(ln for ln in README.splitlines() if ln.startswith("| `cnam-batch config"))
    assert mentions(row, "--json") and "[options]" in row
    run_options = set(long_options(subparsers()["run"]))
    assert set(long_options(subparsers()["config"])) == run_options | {"--json"}


def exit_code_rows() -> dict[int, str]:
    """The README's exit-code table: code -> the rest of its row."""
    table = section("Exit codes")
    return {int(code): rest for code, rest in re.findall(r"^\| (\d+) \|(.*)$", table, re.M)}


def test_exit_code_table_has_every_code() -> None:
    codes = set(exit_code_rows())
    assert codes == {int(code) for code in ExitCode}
    assert sorted(codes) == [0, 1, 2, 3, 4, 5, 130]


@pytest.mark.parametrize("name", list(ExitCode.__members__))
def test_every_exit_code_member_is_in_the_table(name: str) -> None:
    """Aliases included: a code that means two things says both (INTERNAL_ERROR shares 1)."""
    code = ExitCode.__members__[name]
    rows = exit_code_rows()
    assert int(code) in rows, name
    if code.name != name:  # an alias: its row names it in words
        assert name.lower().replace("_", " ") in rows[int(code)].lower(), name


@pytest.mark.parametrize("value", [s.value for s in Status])
def test_every_status_is_in_the_readme(value: str) -> None:
    assert f"`{value}`" in README


@pytest.mark.parametrize("value", [r.value for r in Reason])
def test_every_reason_code_is_in_the_reason_table(value: str) -> None:
    assert re.search(rf"^\| `{value}` \|", section("What is checked"), re.M), value


@pytest.mark.parametrize("value", [w.value for w in Warn])
def test_every_warning_is_in_the_readme(value: str) -> None:
    assert f"`{value}`" in README


@pytest.mark.parametrize("name", sorted(NAMED_ENV))
def test_every_named_environment_variable_is_in_the_readme(name: str) -> None:
    assert re.search(rf"(?<![A-Z_]){name}(?![A-Z_])", README), name


def test_environment_prefix_is_documented() -> None:
    assert f"{ENV_PREFIX}<NAME>" in README
    assert f"{ENV_PREFIX}RATE_LIMIT" in README


def test_readme_starts_with_what_it_does_then_the_quick_start() -> None:
    lines = README.splitlines()
    assert lines[0] == "# cnam-batch"
    headings = re.findall(r"^## (.+)$", README, re.M)
    assert headings[0] == "Quick start"
    first_fence = re.search(r"^```(\w*)", README, re.M)
    assert first_fence and first_fence.group(1) == "sh"
    # both quick-start commands sit in the Quick start section
    blocks = sh_blocks(section("Quick start"))
    assert blocks[:2] == sh_blocks(README)[:2]


def test_quick_start_commands_are_the_documented_ones() -> None:
    install_and_run, tests = quick_start_commands()
    assert install_and_run.endswith(
        ".venv/bin/python run_batch.py run input/example.xlsx --sandbox --wait-approval 15"
    )
    assert tests == ".venv/bin/python -m pytest"


def test_ci_runs_the_quick_start_run_and_test_commands_verbatim() -> None:
    install_and_run, tests = quick_start_commands()
    run = install_and_run.split("&&")[-1].strip()
    ci_commands = set(_ci_commands())
    assert run in ci_commands
    assert tests in ci_commands


def _ci_commands() -> list[str]:
    """.ci/run's commands, `"$PY"` read as the README's `python3` (CI picks the interpreter)."""
    commands = []
    for line in CI.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "echo ", "set ", "cd ", "PY=", '"$PY" --version')):
            line = line.replace('"$PY"', "python3")
            commands.extend(part.strip() for part in line.split("&&"))
    return commands


def test_ci_runs_every_part_of_the_quick_start_verbatim() -> None:
    ci = _ci_commands()
    for command in quick_start_commands():
        for part in command.split("&&"):
            part = part.strip()
            assert shlex.split(part)  # a well-formed shell word list
            assert part in ci, f"README command part not run by .ci/run: {part}"


# --------------------------------------------------------------------------- docs/ARCHITECTURE.md

ARCHITECTURE = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")


def architecture_block(title: str) -> str:
    """The first code block of ARCHITECTURE.md's `## title` section."""
    match = re.search(rf"^## {re.escape(title)}\n.*?^```\n(.*?)^```", ARCHITECTURE, re.M | re.S)
    assert match, f"docs/ARCHITECTURE.md has no code block under '## {title}'"
    return match.group(1)


def tree_paths(tree: str) -> set[str]:
    """Module paths drawn in the tree (`pipeline/api/client.py`), read by indentation."""
    paths: set[str] = set()
    stack: list[tuple[int, str]] = []
    for line in tree.splitlines():
        name = line.strip().split(" ", 1)[0]
        if not name.endswith((".py", "/")):
            continue  # a wrapped description
        depth = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= depth:
            stack.pop()
        path = "".join(folder for _, folder in stack) + name
        if name.endswith("/"):
            stack.append((depth, name))
        else:
            paths.add(path)
    return paths


def test_architecture_tree_is_the_package_as_it_is() -> None:
    package = REPO / "pipeline"
    modules = {
        str(p.relative_to(REPO))
        for p in package.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    drawn = tree_paths(architecture_block("The tree"))
    assert sorted(modules - drawn) == [], "modules missing from docs/ARCHITECTURE.md's tree"
    assert sorted(drawn - modules) == [], "docs/ARCHITECTURE.md's tree names modules that are gone"


def test_architecture_layers_are_the_import_contracts_layers() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    drawn = [
        line.split("   ")[0].strip()
        for line in architecture_block("Layers and contracts").splitlines()
        if line.strip()
    ]
    assert drawn == [layer.replace("pipeline.", "") for layer in layers]


def test_reason_table_is_the_workbooks_what_to_do_next() -> None:
    """The Summary sheet's "What to do next" quotes README's reason table: one text, two places."""
    from pipeline.report.guidance import REASONS

    table = section("What is checked")
    for code, (meaning, fix) in REASONS.items():
        assert f"| `{code}` | {meaning} | {fix} |" in table, code
    assert set(REASONS) == {r.value for r in Reason}


@pytest.mark.parametrize(
    "sheet", ["Summary", "Needs attention", "Needs attention 2", "Rows", "Rows 2", "Carried over"]
)
def test_every_workbook_sheet_is_in_the_readme(sheet: str) -> None:
    assert f'"{sheet}"' in section("The report") or f"**{sheet}**" in section("The report")


def test_the_workbook_sheets_the_readme_names_are_the_ones_written() -> None:
    from pipeline.report.summary_sheet import CARRIED_SHEET, ROWS_SHEET
    from pipeline.report.workbook import SUMMARY_SHEET
    from pipeline.summary import NEEDS_ATTENTION_SHEET

    names = (SUMMARY_SHEET, NEEDS_ATTENTION_SHEET, ROWS_SHEET, CARRIED_SHEET)
    assert names == ("Summary", "Needs attention", "Rows", "Carried over")
    text = section("The report")
    assert text.index('"Summary", "Needs attention", "Rows", "Carried over"') >= 0


def test_readme_pictures_exist_and_are_small() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\((docs/[^)]+\.png)\)", README)
    assert {"docs/report-summary.png", "docs/report-needs-attention.png"} <= set(pictures)
    for picture in pictures:
        path = REPO / picture
        assert path.is_file(), picture
        assert path.stat().st_size < 300_000, picture
