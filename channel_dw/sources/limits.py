"""Size and shape limits on delivered files: what keeps a malformed or hostile export from taking
the loader's memory or time.

Each limit is a named default that real exports never approach, and each can be changed through
an environment variable (read when a file is opened, so a test or an operator can set it for one
run). A file over a limit is rejected whole, with the rule below and a message that says what was
found and what the limit is; a single record over a shape limit (JSON nested too deep) is
quarantined and the file goes on.

Each limit, its environment variable, its default and the rule it raises:

- ``DW_MAX_LINE_BYTES``, 16 MiB: one physical line of a text export (web, sms, hotline, halls,
  crm; for a CSV, one quoted record). ``line_too_long`` (file). A real record is under 1 KB.
  The app export's event lines, when one is longer, go to the streaming parser instead.
- ``DW_MAX_JSON_DEPTH``, 128: the nesting of one web line or app event (the contract's nest 2).
  ``too_deep`` (row, quarantined).
- ``DW_MAX_XLSX_INFLATED_BYTES``, 256 MiB: the uncompressed size of a store workbook's parts, as
  the zip directory declares it. ``too_large`` (file). A day's orders are about 1 MB; the
  columnar path holds the sheet XML whole and needs about 2.5 times its size, so this keeps the
  loader under 1 GiB.
- ``DW_MAX_XLSX_RATIO``, 200: how many times a workbook part bigger than 16 MiB may inflate
  (real sheets: about 10). ``too_large`` (file; a zip bomb).
- ``DW_MAX_GZIP_INFLATED_BYTES``, 32 GiB: the inflated size of a ``.jsonl.gz`` web file.
  ``too_large`` (file). A day's events are under 100 MB; reading stays in flat memory anyway, so
  this bounds the time.
"""

from __future__ import annotations

import functools
import os

MAX_LINE_BYTES = 16 << 20
MAX_JSON_DEPTH = 128
MAX_XLSX_INFLATED_BYTES = 256 << 20
MAX_XLSX_RATIO = 200
XLSX_RATIO_FROM_BYTES = 16 << 20  # smaller parts are not held to the ratio (styles compress well)
MAX_GZIP_INFLATED_BYTES = 32 << 30


def _setting(name: str, default: int) -> int:
    return _parsed(name, os.environ.get(f"DW_{name}", ""), default)


@functools.lru_cache(maxsize=64)
def _parsed(name: str, text: str, default: int) -> int:
    text = text.strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"DW_{name}={text!r} is not a whole number (default {default})") from None
    if value <= 0:
        raise ValueError(f"DW_{name} must be positive (default {default})")
    return value


# The file rules a limit raises. Such a verdict holds under the limit in force when it was
# given: the loading core skips identical bytes only while the message's stated limit still holds.
LIMIT_RULES = frozenset({"line_too_long", "too_large"})
_BYTE_LIMITS = {
    "MAX_LINE_BYTES": MAX_LINE_BYTES,
    "MAX_XLSX_INFLATED_BYTES": MAX_XLSX_INFLATED_BYTES,
    "MAX_GZIP_INFLATED_BYTES": MAX_GZIP_INFLATED_BYTES,
}
_COUNT_LIMITS = {"MAX_XLSX_RATIO": MAX_XLSX_RATIO}


def stated(name: str) -> str:
    """A limit as a rejection states it: ``DW_MAX_LINE_BYTES = 16 MiB``."""
    if name in _BYTE_LIMITS:
        return f"DW_{name} = {size_text(_setting(name, _BYTE_LIMITS[name]))}"
    return f"DW_{name} = {_setting(name, _COUNT_LIMITS[name])}"


def still_holds(reason: str | None) -> bool:
    """True when a limit rejection's reason states a limit that is still in force (it was not
    raised or lowered since): the same bytes would be rejected again."""
    return reason is not None and any(
        stated(name) in reason for name in (*_BYTE_LIMITS, *_COUNT_LIMITS)
    )


def max_line_bytes() -> int:
    return _setting("MAX_LINE_BYTES", MAX_LINE_BYTES)


def max_json_depth() -> int:
    return _setting("MAX_JSON_DEPTH", MAX_JSON_DEPTH)


def max_xlsx_inflated_bytes() -> int:
    return _setting("MAX_XLSX_INFLATED_BYTES", MAX_XLSX_INFLATED_BYTES)


def max_xlsx_ratio() -> int:
    return _setting("MAX_XLSX_RATIO", MAX_XLSX_RATIO)


def max_gzip_inflated_bytes() -> int:
    return _setting("MAX_GZIP_INFLATED_BYTES", MAX_GZIP_INFLATED_BYTES)


def size_text(n: int) -> str:
    """A byte count for a message: ``1.0 GiB``, ``64 MiB``, ``512 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{n:,} bytes"


def nests_deeper(value: object, depth: int) -> bool:
    """True when a parsed JSON value nests objects or arrays more than ``depth`` levels deep
    (an object holding an object is 2). Iterative: no recursion limit, stops at the first find."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if level > depth:
            return True
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return False


def too_deep_message(what: str) -> str:
    limit = max_json_depth()
    return (
        f"{what} nests JSON objects or arrays more than {limit} levels deep (DW_MAX_JSON_DEPTH); "
        "the contract's records nest 2 levels, so it is not an event: quarantined, the rest of "
        "the file is loaded"
    )
