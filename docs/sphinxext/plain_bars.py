"""Sphinx extension: read a ``|`` in a docstring as the character itself.

fastnn's docstrings quote the lecture's formulas as plain text, where ``|x|`` is an absolute
value or a norm. reStructuredText reads ``|name|`` as a substitution, which fails the build.
This extension escapes each such bar before autodoc parses the docstring, leaving untouched
inline literals (````...````), literal blocks (after ``::``), doctest lines and table rows.
"""
import re

_LITERAL = re.compile(r"(``.+?``)")


def _escape(text):
    parts = _LITERAL.split(text)
    # odd indices are the literal spans captured by the split
    return "".join(p if i % 2 else re.sub(r"(?<!\\)\|", r"\\|", p) for i, p in enumerate(parts))


def _indent(line):
    return len(line) - len(line.lstrip())


def escape_bars(lines):
    """Escape the bars of docstring ``lines`` in place (see the module docstring)."""
    literal_indent = None   # indentation of the paragraph that opened a literal block
    for i, line in enumerate(lines):
        stripped = line.strip()
        if literal_indent is not None:
            if not stripped or _indent(line) > literal_indent:
                continue
            literal_indent = None
        if stripped.startswith((">>>", "...", "+-", "+=")) or (
                stripped.startswith("|") and stripped.endswith("|") and stripped.count("|") > 2):
            continue
        lines[i] = _escape(line)
        if stripped.endswith("::"):
            literal_indent = _indent(line)


def _on_docstring(app, what, name, obj, options, lines):
    escape_bars(lines)


def setup(app):
    app.connect("autodoc-process-docstring", _on_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
