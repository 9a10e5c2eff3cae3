"""The README's examples run and print what the README says (the fresh-clone check).

Design:
- The README is split into `## ` sections. Each section's ```python blocks run in order in one
  namespace of their own (a section's examples build on each other; sections do not). A block
  is compiled under the file name `<section-slug>.py` (`<slug>_<n>.py` for the n-th block), in
  linecache so traced programs show their source lines.
- A ```python block whose first line is `# file: NAME` is not run: it is written to NAME in the
  section's working directory (before anything in the section runs), for the commands of the
  section's ```bash blocks.
- A block without a language right after a ```python block is that block's expected stdout.
  Before comparing, both sides are normalized: file paths are cut to their base name, line
  numbers after `.py:` and in `line N` become `N`, and memory addresses become `0x?`; nothing
  else is. The outputs show CPython 3.11's bytecode (README_BYTECODE): on 3.12/3.13 the lines
  that show bytecode instructions (error windows, the bytecode log) are left out of the
  comparison and instruction/line counts are masked; everything else must match.
- In ```bash blocks, each line starting with `python -m strict_tracer` is a command to check. Its
  exit status must be the one a trailing `# exit status N` comment states, else 0. The default
  run calls `strict_tracer.__main__.main` in-process; `-m slow` runs them as subprocesses.
- Sections in SLOW_SECTIONS run only under `-m slow`.
"""
from __future__ import annotations

import contextlib
import io
import linecache
import os
import pathlib
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
SLOW_SECTIONS: set[str] = set()
COMMAND = "python -m strict_tracer"


@dataclass
class Block:
    lang: str
    text: str
    line: int                       # README line of the opening fence
    expected: str | None = None     # the output block after a python block
    expected_line: int = 0          # README line of its first output line


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.title.lower()).strip("_")


def parse_readme(text: str) -> list[Section]:
    """The README's `## ` sections with their fenced blocks (output blocks attached)."""
    sections = [Section("preamble")]
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            sections.append(Section(line[3:].strip()))
        elif line.startswith("```"):
            lang, start, body = line[3:].strip(), i + 1, []
            i += 1
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            block = Block(lang, "\n".join(body) + "\n" if body else "", start)
            blocks = sections[-1].blocks
            if lang == "" and blocks and blocks[-1].lang == "python" and blocks[-1].expected is None:
                blocks[-1].expected, blocks[-1].expected_line = block.text, start + 1
            else:
                blocks.append(block)
        i += 1
    return sections


# The Python version whose bytecode the README's outputs show.
README_BYTECODE = (3, 11)
_BYTECODE_LINE = re.compile(r"^\s*(?:-->)?\s*\d+ [A-Z][A-Z0-9_]*(?:\s|$)"
                            r"|^\[strict_tracer\.bytecode\]\s+\S+:\d+ @\d+ ")


def normalize(text: str) -> str:
    if sys.version_info[:2] != README_BYTECODE:
        text = "\n".join(line for line in text.splitlines() if not _BYTECODE_LINE.match(line))
        # instruction and bytecode-log line counts are the running version's too
        text = re.sub(r"\b\d+ (instructions?|lines written)\b", r"N \1", text)
    text = re.sub(r"(?:\.\.\.|[\w.~<>-]*)?(?:/[\w.<>-]+)+\.py\b",
                  lambda m: m.group(0).rsplit("/", 1)[-1], text)
    text = re.sub(r"\.py:\d+", ".py:N", text)
    text = re.sub(r"\bline \d+", "line N", text)
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def run_python(section: Section, block: Block, index: int, namespace: dict) -> str:
    """Run one block in the section's namespace and return what it printed."""
    name = f"{section.slug}.py" if index == 1 else f"{section.slug}_{index}.py"
    linecache.cache[name] = (len(block.text), None, block.text.splitlines(True), name)
    code = compile(block.text, name, "exec")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, namespace)
    return out.getvalue()


def file_block_name(block: Block) -> str | None:
    match = re.match(r"# file: (\S+)\n", block.text)
    return match.group(1) if match else None


def commands(block: Block) -> list[tuple[list[str], int]]:
    """The `python -m strict_tracer ...` lines of a bash block and their expected exit status."""
    found = []
    for line in block.text.splitlines():
        if not line.startswith(COMMAND):
            continue
        status = re.search(r"#\s*exit status (\d+)\s*$", line)
        argv = shlex.split(line[len(COMMAND):], comments=True)
        found.append((argv, int(status.group(1)) if status else 0))
    return found


def run_section(section: Section, workdir: pathlib.Path, subprocesses: bool) -> list[str]:
    """Run a section's blocks; the list of differences from what the README says."""
    namespace = {"__name__": f"readme_{section.slug}"}
    failures = []
    index = 0
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        for block in section.blocks:
            if block.lang == "python" and (name := file_block_name(block)):
                (workdir / name).write_text(block.text)
        for block in section.blocks:
            if block.lang == "python" and not file_block_name(block):
                index += 1
                printed = run_python(section, block, index, namespace)
                if block.expected is not None and normalize(printed) != normalize(block.expected):
                    failures.append(f"README line {block.expected_line}: the block at line "
                                    f"{block.line} printed\n{printed}")
            elif block.lang == "bash":
                for argv, status in commands(block):
                    got, output = run_command(argv, workdir, subprocesses)
                    if got != status:
                        failures.append(f"README line {block.line}: `{COMMAND} {shlex.join(argv)}`"
                                        f" exited {got}, README says {status}:\n{output}")
    finally:
        os.chdir(cwd)
    return failures


def run_command(argv: list[str], workdir: pathlib.Path, subprocesses: bool) -> tuple[int, str]:
    """Exit status and output of `python -m strict_tracer ARGV` run in `workdir`."""
    if subprocesses:
        done = subprocess.run([sys.executable, "-m", "strict_tracer", *argv], cwd=workdir,
                              capture_output=True, text=True, timeout=600)
        return done.returncode, done.stdout + done.stderr
    from strict_tracer.__main__ import main
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            status = main(argv)
        except SystemExit as exit_:      # argparse: --help, usage errors
            status = exit_.code
    return status, output.getvalue()


SECTIONS = [s for s in parse_readme(README.read_text()) if any(
    b.lang == "python" or (b.lang == "bash" and commands(b)) for b in s.blocks)]


def _param(section: Section):
    marks = [pytest.mark.slow] if section.title in SLOW_SECTIONS else []
    return pytest.param(section, marks=marks, id=section.slug)


@pytest.mark.parametrize("section", [_param(s) for s in SECTIONS])
def test_readme_section(section, tmp_path):
    assert run_section(section, tmp_path, subprocesses=False) == []


@pytest.mark.slow
@pytest.mark.parametrize("section", [s for s in SECTIONS if any(
    b.lang == "bash" and commands(b) for b in s.blocks)], ids=lambda s: s.slug)
def test_readme_commands_as_subprocesses(section, tmp_path):
    assert run_section(section, tmp_path, subprocesses=True) == []


def test_readme_examples_are_found():
    """The parser sees the README's examples (a parser bug must not turn the check into a no-op)."""
    by_slug = {s.slug: s for s in SECTIONS}
    assert {"quickstart", "dynamic_shapes", "control_flow", "debugging_a_refusal",
            "property_based_testing"} <= set(by_slug)
    assert all(any(b.expected for b in s.blocks) for s in by_slug.values())
    assert any(commands(b) for b in by_slug["debugging_a_refusal"].blocks)


def test_a_broken_example_fails(tmp_path):
    section = parse_readme(
        "## Broken\n\n```python\nprint('/some/where/model.py:12 at 0x7f00')\n```\n\n"
        "```\nmodel.py:99 at 0xdead\n```\n\n```python\nprint(1 + 1)\n```\n\n```\n3\n```\n\n"
        "```bash\npython -m strict_tracer explain missing.py:M   # exit status 1\n```\n")[1]
    failures = run_section(section, tmp_path, subprocesses=False)
    assert len(failures) == 2
    assert failures[0].startswith("README line 16: the block at line 11 printed\n2")
    assert "exited 2, README says 1" in failures[1]
