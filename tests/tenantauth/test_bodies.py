"""tenantauth.bodies: the request-body hardening shared by /delegation, oauth/token and
dbconnections/signup (charset, size cap, strict UTF-8, duplicates, JSON depth, NaN, forms)."""

import io

import pytest
from django.test import RequestFactory

from tenantauth import bodies
from tenantauth.bodies import BodyError


def _request(raw: bytes = b"", content_type: str = "application/json", **meta):
    return RequestFactory().post("/t/x/oauth/token", data=raw, content_type=content_type, **meta)


def _refused(kind: str, call, *args, **kwargs) -> BodyError:
    with pytest.raises(BodyError) as caught:
        call(*args, **kwargs)
    assert caught.value.kind == kind
    assert caught.value.description and caught.value.reason
    return caught.value


class CountingStream(io.BytesIO):
    """A stream that remembers how many bytes were asked for."""

    requested = 0

    def read(self, size=-1):
        self.requested = size
        return super().read(size)


def test_unknown_kind_is_a_programming_error():
    """BodyError only takes the three kinds its callers map to 415, 413 and 400."""
    with pytest.raises(ValueError):
        BodyError("teapot", "x", reason="x")


@pytest.mark.parametrize(
    "content_type, expected",
    [
        ("application/json", "application/json"),
        ("Application/JSON; charset=UTF-8", "application/json"),
        ("application/x-www-form-urlencoded; charset=utf8", "application/x-www-form-urlencoded"),
        ("", ""),
    ],
)
def test_media_type_is_bare_and_lower_case(content_type, expected):
    """The media type comes back without parameters, in lower case; absent is ''."""
    assert bodies.media_type_of(_request(CONTENT_TYPE=content_type)) == expected


@pytest.mark.parametrize("charset", ["iso-8859-1", "utf-16", "latin1"])
def test_a_charset_other_than_utf8_is_unsupported(charset):
    """Bodies are always decoded as UTF-8, so announcing another charset is refused (415)."""
    request = _request(b"{}", content_type=f"application/json; charset={charset}")
    assert _refused("unsupported_media_type", bodies.media_type_of, request).reason == (
        "unsupported charset"
    )


def test_content_length_over_the_cap_is_too_large(settings):
    """A declared length over the cap (the setting by default, or the one given) is refused
    before anything is read; exactly the cap is accepted."""
    settings.DELEGATION_MAX_BODY_BYTES = 100
    assert bodies.check_content_length(_request(b"a" * 100)) == 100
    _refused("too_large", bodies.check_content_length, _request(b"a" * 101))
    assert bodies.check_content_length(_request(b"a" * 101), cap=200) == 101
    _refused("too_large", bodies.check_content_length, _request(b"a" * 11), cap=10)


@pytest.mark.parametrize("declared", ["abc", "-1", "1.5"])
def test_content_length_that_is_no_length_is_malformed(declared):
    """A Content-Length that is not a non-negative integer is malformed."""
    request = _request(b"{}")
    request.META["CONTENT_LENGTH"] = declared
    _refused("malformed", bodies.check_content_length, request)


def test_empty_body_is_refused_unless_allowed():
    """An empty body is malformed by default; a caller may accept it (length 0)."""
    assert _refused("malformed", bodies.check_content_length, _request()).reason == "empty body"
    assert bodies.check_content_length(_request(), allow_empty=True) == 0


def test_read_capped_reads_at_most_one_byte_over_the_cap():
    """Exactly the cap is read whole; more is refused after reading cap + 1 bytes only."""
    assert bodies.read_capped(io.BytesIO(b"a" * 10), cap=10) == b"a" * 10
    stream = CountingStream(b"a" * 10_000)
    _refused("too_large", bodies.read_capped, stream, cap=10)
    assert stream.requested == 11


def test_read_body_never_reaches_djangos_own_limit(settings):
    """A 3 MB body, over Django's 2.5 MB DATA_UPLOAD_MAX_MEMORY_SIZE, is refused as too large
    by us (never RequestDataTooBig); with the cap raised above it, it is read whole."""
    raw = b"a" * (3 * 1024 * 1024)
    _refused("too_large", bodies.read_body, _request(raw))
    settings.DELEGATION_MAX_BODY_BYTES = len(raw)
    assert bodies.read_body(_request(raw)) == raw


def test_json_depth_ignores_brackets_in_strings():
    """Depth counts arrays and objects, not bracket characters inside strings."""
    assert bodies.json_depth(b'{"a": "[[[{{{", "b": [1, {"c": "\\"]]"}]}') == 3
    assert bodies.json_depth(b"1") == 0


def test_parse_json_accepts_a_plain_object():
    """A well-formed object comes back as a dict, numbers and nesting included."""
    raw = '{"a": "é", "b": 1.5, "c": [1, {"d": null}]}'.encode()
    assert bodies.parse_json(raw, max_depth=3) == {"a": "é", "b": 1.5, "c": [1, {"d": None}]}


def test_parse_json_depth_limit_is_inclusive():
    """Nesting up to max_depth is admitted; one level more is refused before decoding."""
    at_limit = b'{"a":' * 8 + b"1" + b"}" * 8
    assert bodies.parse_json(at_limit, max_depth=8)
    error = _refused("malformed", bodies.parse_json, b"[" + at_limit + b"]", max_depth=8)
    assert error.reason == "nesting too deep"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_parse_json_depth_bomb_is_malformed_not_recursion_error(depth):
    """A document nested far beyond any limit is malformed, never a RecursionError."""
    raw = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    _refused("malformed", bodies.parse_json, raw, max_depth=8)


@pytest.mark.parametrize(
    "raw",
    [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e400}', b'{"a": [NaN]}'],
)
def test_parse_json_refuses_non_finite_numbers(raw):
    """NaN, Infinity and floats that overflow to infinity are refused."""
    assert _refused("malformed", bodies.parse_json, raw, max_depth=8).reason == (
        "non-finite number"
    )


@pytest.mark.parametrize("raw", [b'{"a": 1, "a": 2}', b'{"o": {"secret-key": 1, "secret-key": 2}}'])
def test_parse_json_refuses_duplicate_keys_without_echoing_them(raw):
    """A key given twice, at the top or nested, is refused; the answer does not name it."""
    error = _refused("malformed", bodies.parse_json, raw, max_depth=8)
    assert error.reason == "duplicate parameter"
    assert "secret-key" not in error.description


@pytest.mark.parametrize(
    "raw",
    [b"", b'{"a": 1', b"[]", b'"x"', b"1", b"null", b'{"a": "\xff"}', b'\xef\xbb\xbf{"a": 1}'],
    ids=["empty", "truncated", "array", "string", "number", "null", "bad-utf8", "bom"],
)
def test_parse_json_refuses_anything_but_a_utf8_object(raw):
    """Empty, truncated, non-object, invalid UTF-8 or BOM-prefixed bodies are malformed."""
    _refused("malformed", bodies.parse_json, raw, max_depth=8)


def test_parse_form_reads_fields_strictly():
    """Fields are percent-decoded as UTF-8, blank values are kept and an empty body is {}."""
    assert bodies.parse_form(b"a=%C3%A9&b=&c=x+y") == {"a": "é", "b": "", "c": "x y"}
    assert bodies.parse_form(b"") == {}


@pytest.mark.parametrize(
    "raw",
    [b"a=1&a=2", b"a=\xff", b"a=%FF%FE", b"a=1&&b=2", b"a", b"a=1&"],
    ids=["duplicate", "raw-bad-utf8", "percent-bad-utf8", "empty-field", "no-equals", "trail"],
)
def test_parse_form_refuses_malformed_forms(raw):
    """Duplicates, invalid UTF-8 (raw or percent-encoded) and fields without '=' are
    malformed."""
    _refused("malformed", bodies.parse_form, raw)


def test_parse_form_caps_the_number_of_fields():
    """More than max_fields fields is malformed; exactly max_fields is accepted."""
    raw = "&".join(f"f{i}=v" for i in range(5)).encode()
    assert len(bodies.parse_form(raw, max_fields=5)) == 5
    _refused("malformed", bodies.parse_form, raw, max_fields=4)


def test_top_level_null_means_absent():
    """D34: a top-level null reads exactly like the member left out (the official SDKs send
    null for every optional argument); nested nulls stay for the parameter's own checks."""
    raw = b'{"scope": null, "audience": null, "a": "b", "o": {"x": null}, "l": [null]}'
    assert bodies.parse_json(raw, max_depth=3) == {"a": "b", "o": {"x": None}, "l": [None]}
    assert bodies.parse_json(b'{"scope": null}', max_depth=2) == {}


def test_null_is_kept_when_asked():
    """A JSON object that is itself a parameter value (user_metadata in a form) keeps its
    nulls: there null is a value, not an absent parameter."""
    assert bodies.parse_json(b'{"a": null}', max_depth=2, null_is_absent=False) == {"a": None}


@pytest.mark.parametrize("raw", [b'{"a": 1}', b'{"a": true}', b'{"a": []}', b'{"a": {}}'])
def test_other_non_string_values_are_kept_for_the_endpoint_to_refuse(raw):
    """Only null is special: numbers, booleans, arrays and objects come back as they are, so
    each endpoint's type check still refuses them."""
    assert bodies.parse_json(raw, max_depth=3)["a"] is not None
