"""MkDocs hook: render the reStructuredText markup used in docstrings as Markdown would.

The package's docstrings cross-reference with Sphinx roles (``:class:`~fmitwin.X```) and end a
paragraph before a literal block with ``::``; mkdocstrings renders Markdown, where the role would
show as literal ``:class:`` text before the name and the ``::`` as two colons.
"""

import re

# a role before inline code; "~" (show the last component only) inside it
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj):<code>(~)?([^<]*)</code>")
_LITERAL_MARKER = re.compile(r"::</p>")


def _code(match: re.Match[str]) -> str:
    target = match[2]
    return f"<code>{target.rsplit('.', 1)[-1] if match[1] else target}</code>"


def on_page_content(html: str, **kwargs: object) -> str:
    return _LITERAL_MARKER.sub(":</p>", _ROLE.sub(_code, html))
