"""Keep secrets out of what rdg prints and logs: URL credentials and secret-looking settings.

Every error the CLI prints and every log line of rdg's processes passes through :func:`redact`;
``rdg config show`` masks settings with :func:`is_secret_key`.

>>> redact("cannot connect to ws://alice:s3cret@db:8182/gremlin")
'cannot connect to ws://alice:***@db:8182/gremlin'
>>> redact("nats://tok3n@127.0.0.1:4222 and sasl.password=hunter2, ok=1")
'nats://***@127.0.0.1:4222 and sasl.password=***, ok=1'
>>> [k for k in ("ssl.key.pem", "sasl.oauthbearer.config", "nats_token", "kafka_port") if is_secret_key(k)]
['ssl.key.pem', 'sasl.oauthbearer.config', 'nats_token']
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactingFilter", "install_log_redaction", "is_secret_key", "redact"]

_SECRET_KEY = re.compile(r"password|secret|token|seed|\.pem$|^sasl\..*config$|jaas|credential", re.I)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"]+)@", re.I)
_KEY_VALUE = re.compile(r"(?P<key>\b[\w.]*(?:password|secret|token|seed|jaas\.config|\.pem)[\w.]*)"
                        r"(?P<sep>\s*[=:]\s*)(?P<value>[^\s,;'\"}]+)", re.I)


def is_secret_key(key: str) -> bool:
    """True for a setting or option whose value must never be shown."""
    return bool(_SECRET_KEY.search(key))


def redact(text: str) -> str:
    """``text`` with URL credentials and ``secret-key=value`` pairs replaced by ``***``."""

    def userinfo(m: re.Match[str]) -> str:
        user, colon, _ = m.group("userinfo").partition(":")
        return f"{m.group('scheme')}{user}:***@" if colon else f"{m.group('scheme')}***@"

    text = _URL_USERINFO.sub(userinfo, text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('key')}{m.group('sep')}***", text)


class RedactingFilter(logging.Filter):
    """A log filter that redacts each record's formatted message (and drops its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


def install_log_redaction() -> None:
    """Redact every record that reaches the root logger's handlers, or the last-resort handler
    used when there is none (call again after ``basicConfig`` adds one)."""
    for handler in [*logging.getLogger().handlers, logging.lastResort]:
        if handler is None:
            continue
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
