"""The API's JSON parser: nesting depth checked before parsing (docs/security.md, finding 11).

Python's ``json`` module recurses once per nested array or object: a body of a few thousand
``[`` raised ``RecursionError`` inside the parser, a 500 with a traceback thousands of lines long.
Folio's JSON bodies are a few levels deep (an outline's sections are the deepest, at four), so a
body nested deeper than ``MAX_JSON_DEPTH`` is refused with 400 ``json_too_deep`` before ``json``
sees it. The check strips string literals and everything but brackets with regular expressions
(C speed), then removes innermost ``[]``/``{}`` pairs level by level: at most ``MAX_JSON_DEPTH``
passes over the bracket skeleton, whatever the body.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 32

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_INNERMOST = re.compile(rb"\[\]|\{\}")
_OPENERS = re.compile(rb"[\[{]*")


class JSONTooDeep(ParseError):
    default_code = "json_too_deep"


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON text nests arrays/objects more than ``limit`` levels deep.

    Malformed text is judged by its brackets alone (an upper bound of what a parser would
    recurse into); the parser then reports any other error.
    """
    skeleton = _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw))
    for peeled in range(limit + 1):
        if not skeleton:
            return False
        reduced = _INNERMOST.sub(b"", skeleton)
        if reduced == skeleton:
            # Only mismatched brackets are left. A parser stops at the first closing one; until
            # then it is as deep as the openers before it plus the levels peeled so far.
            opened = _OPENERS.match(skeleton)
            return (len(opened.group(0)) if opened else 0) + peeled > limit
        skeleton = reduced
    return True  # still brackets after limit + 1 levels were peeled


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing bodies nested deeper than ``MAX_JSON_DEPTH`` (400)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        if json_depth_exceeds(raw):
            raise JSONTooDeep(
                f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.",
                code="json_too_deep",
            )
        import io

        return super().parse(io.BytesIO(raw), media_type, parser_context)
