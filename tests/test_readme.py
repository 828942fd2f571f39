"""Every ```python snippet in the README runs."""

import pathlib
import re

import pytest

_README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
_SNIPPETS = re.findall(r"```python\n(.*?)```", _README.read_text(), re.S)


def test_readme_has_snippets():
    assert len(_SNIPPETS) >= 3


@pytest.mark.parametrize("index", range(len(_SNIPPETS)))
def test_readme_snippet_runs(index):
    exec(compile(_SNIPPETS[index], f"README.md snippet {index}", "exec"), {})
