"""MkDocs hook: render the Sphinx roles used in docstrings (``:class:`X```) as plain code.

The package's docstrings cross-reference with Sphinx roles; mkdocstrings renders Markdown, where a
role would show as literal ``:class:`` text before the name.
"""

import re

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj):(?=<code>)")


def on_page_content(html: str, **kwargs: object) -> str:
    return _ROLE.sub("", html)
