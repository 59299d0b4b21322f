"""README.md stays true: its commands exist, every setting is listed, CI runs its test command."""

import re
from pathlib import Path

from bot.cli import _parser
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_run_and_test_commands():
    run, test = _code_blocks("sh")[:2]
    assert "python -m bot" in run and "pip install" in run
    assert "pytest" in test and "pip install" in test
    assert README.index(run) < README.index("## ")  # before the first section


def test_ci_runs_the_readme_test_command():
    test_command = _code_blocks("sh")[1].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci


def test_ci_runs_the_readme_checks():
    (checks,) = [block for block in _code_blocks("sh") if "ruff check" in block]
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in checks.strip().split(" && "):
        assert command in ci_lines, f".ci/run does not run {command!r} as a step of its own"


def test_every_setting_is_listed_with_its_meaning():
    for name in Settings.model_fields:
        assert f"`BOT_{name.upper()}`" in README, f"README does not list BOT_{name.upper()}"


def test_every_bot_command_in_readme_exists():
    subcommands = set(_parser()._subparsers._group_actions[0].choices)
    used = set(re.findall(r"python -m bot ([a-z]+)", README))
    assert used, "README shows no command"
    assert used <= subcommands, used - subcommands


def test_the_layout_section_names_every_folder_and_top_level_module():
    """README's Layout table lists each subpackage of bot/ and each top-level module, and nothing
    that is not there."""
    table = README.split("<!-- LAYOUT -->")[1].split("<!-- /LAYOUT -->")[0]
    listed = set(re.findall(r"`(bot/[\w/.]*)`", table))
    package = ROOT / "bot"
    present = {f"bot/{p.name}/" for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    present |= {f"bot/{p.name}" for p in package.glob("*.py") if p.name != "__init__.py"}
    assert listed == present, f"missing from README: {present - listed}; not in the tree: {listed - present}"
