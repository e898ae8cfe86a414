"""Credentials removed from URLs in any text a twin shows or keeps (log, status screen, history):
``mqtt://alice:secret@host`` becomes ``mqtt://alice:***@host``."""

from __future__ import annotations

import logging
import re
from typing import Any

# scheme://user:password@  (the password is anything up to the last @ before the host)
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*):[^\s/]*@")


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\g<head>:***@", text)


def redact_details(value: Any) -> Any:
    """Strings anywhere in a (nested) dict, list or tuple redacted; other values as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_details(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_details(v) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """A handler filter that redacts the formatted message of every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_log_redaction() -> None:
    """Redact every record of every handler of the root logger (call after basicConfig)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
