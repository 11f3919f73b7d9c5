"""Logging helpers: user input must never be able to forge a log line."""

import logging


class SingleLineFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(ch in message for ch in "\r\n\x00"):
            record.msg = message.replace("\r", "\\r").replace("\n", "\\n").replace("\x00", "\\x00")
            record.args = None
        return True
