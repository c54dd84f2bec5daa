"""The front door stays true: every link, picture, command and flag the README and the
docs pages show exists.

A page that names `python -m experiments.speed --quick` promises that the module exists
and that its --help lists --quick; a link promises a file (and, after '#', a heading in
it). Moving or renaming a script, a flag or a page without updating the prose fails here.
"""
import glob
import importlib
import os
import re

import pytest

from conftest import ROOT, parser_of

PAGES = ["README.md"] + sorted(os.path.relpath(p, ROOT)
                               for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# `python train.py ...`, `python -m experiments.speed ...`: up to the end of the command
COMMAND = re.compile(r"\bpython3?(?:\.\d+)? +(-m +[\w.]+|[\w./-]+\.py)((?: +[^\s`|;&#]+)*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][\w-]*)")
NOT_OURS = {"pytest", "pip", "venv", "http.server", "cProfile", "pyinstrument", "line_profiler"}


def text_of(page):
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        return f.read()


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path):
    headings = re.findall(r"^#+ (.+)$", text_of(path), flags=re.M)
    return {slug(h) for h in headings}


@pytest.mark.parametrize("page", PAGES)
def test_every_link_and_picture_resolves(page):
    broken = []
    folder = os.path.dirname(os.path.join(ROOT, page))
    for target in LINK.findall(text_of(page)):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(folder, path)) if path else os.path.join(ROOT, page)
        if not os.path.exists(full):
            broken.append(target)
        elif anchor and full.endswith(".md") and anchor not in anchors(os.path.relpath(full, ROOT)):
            broken.append(target)
    assert broken == [], f"{page}: links that lead nowhere"


def commands_in(page):
    """(script or module, [flags]) for every python command the page shows."""
    found = []
    for match in COMMAND.finditer(text_of(page)):
        target, rest = match.group(1), match.group(2)
        name = target.split()[-1] if target.startswith("-m") else target
        found.append((name, FLAG.findall(rest)))
    return found


def module_of(name):
    """The importable module of a script path or a module name, or None if not ours."""
    if name.endswith(".py"):
        if not os.path.isfile(os.path.join(ROOT, name)):
            return "missing"
        name = name[:-3].replace("/", ".")
    elif not os.path.isfile(os.path.join(ROOT, *name.split(".")) + ".py"):
        return None if name.split(".")[0] in NOT_OURS else "missing"
    return name


def flags_of(module_name, monkeypatch):
    """The option strings of a script's ArgumentParser (None: it takes no flags)."""
    module = importlib.import_module(module_name)
    if not hasattr(module, "parse_args"):
        return None
    return set(parser_of(module, monkeypatch)._option_string_actions)


@pytest.mark.parametrize("page", PAGES)
def test_every_command_names_a_script_and_flags_its_help_lists(page, monkeypatch):
    problems = []
    known = {}
    for name, flags in commands_in(page):
        module_name = module_of(name)
        if module_name is None:
            continue
        if module_name == "missing":
            problems.append(f"no script {name}")
            continue
        if module_name not in known:
            known[module_name] = flags_of(module_name, monkeypatch)
        options = known[module_name]
        unknown = [f for f in flags if options is None or f not in options]
        if unknown:
            problems.append(f"{name}: {' '.join(unknown)} not in its --help")
    assert problems == [], page


def test_the_check_finds_what_it_is_for(monkeypatch, tmp_path):
    """The two checks above, on a page made to fail them: a missing script, a flag the
    script does not have, a missing picture and a heading that is not there."""
    page = tmp_path / "page.md"
    page.write_text("`python -m experiments.nothing`, `python train.py --epochs 2 --no-such`\n"
                    "![x](missing.png) [y](../README.md#no-such-heading)\n")
    monkeypatch.setattr(f"{__name__}.ROOT", str(tmp_path))
    assert commands_in("page.md") == [("experiments.nothing", []),
                                      ("train.py", ["--epochs", "--no-such"])]
    monkeypatch.setattr(f"{__name__}.ROOT", ROOT)
    assert module_of("experiments.nothing") == "missing"
    assert "--no-such" not in flags_of("train", monkeypatch)
    assert "--epochs" in flags_of("train", monkeypatch)
    assert "no-such-heading" not in anchors("README.md")
