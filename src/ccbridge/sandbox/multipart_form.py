"""multipart/form-data bodies, parsed for the one CC endpoint that takes them.

``POST /activities/contacts_file_import`` is CC's only multipart operation. CC answers 415
when the media type is wrong — most often because a client set ``Content-Type`` by hand and
so sent no ``boundary`` (CC-V3-FACTS §2, §5). The parsing itself is python-multipart's
streaming parser; this module only collects the parts and turns its failures into CC's
status codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ccbridge.sandbox.errors import CCError
from ccbridge.sandbox.http import SandboxRequest


@dataclass
class FormPart:
    name: str
    filename: str | None
    content_type: str | None
    chunks: list[bytes] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)

    def text(self) -> str | None:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            return None


class _Collector:
    """Callbacks for MultipartParser that gather each part's headers and bytes."""

    def __init__(self) -> None:
        self.parts: list[FormPart] = []
        self.headers: dict[str, str] = {}
        self.current: FormPart | None = None
        self._field = b""
        self._value = b""
        self.ended = False

    def on_part_begin(self) -> None:
        self.headers = {}
        self.current = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        name = self._field.decode("latin-1").strip().lower()
        self.headers[name] = self._value.decode("utf-8", "replace").strip()
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get("content-disposition", ""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self.current = FormPart(
            name=name,
            filename=filename.decode("utf-8", "replace") if filename is not None else None,
            content_type=self.headers.get("content-type"),
        )

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.current is not None:
            self.current.chunks.append(data[start:end])

    def on_part_end(self) -> None:
        if self.current is not None:
            self.parts.append(self.current)
        self.current = None

    def on_end(self) -> None:
        self.ended = True


def parse_form_data(request: SandboxRequest, area: str) -> dict[str, FormPart]:
    """The parts of a multipart/form-data body by name: 415 for another media type, 400 if
    the body is malformed or names a part twice."""
    if request.media_type != "multipart/form-data":
        shown = request.media_type or "none"
        raise CCError.unsupported_media_type(
            area,
            f"Content-Type '{shown}' is not supported here; send multipart/form-data and let "
            "the HTTP client set the header (with its boundary) rather than setting it by hand.",
        )
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise CCError.unsupported_media_type(
            area,
            "Content-Type multipart/form-data has no boundary; this happens when the header is "
            "set by hand. Let the HTTP client set it.",
        )
    collector = _Collector()
    callbacks = {
        "on_part_begin": collector.on_part_begin,
        "on_part_data": collector.on_part_data,
        "on_part_end": collector.on_part_end,
        "on_header_field": collector.on_header_field,
        "on_header_value": collector.on_header_value,
        "on_header_end": collector.on_header_end,
        "on_headers_finished": collector.on_headers_finished,
        "on_end": collector.on_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        parser.write(request.body)
        parser.finalize()
    except MultipartParseError as exc:
        raise CCError.bad_request(area, f"The multipart body is malformed: {exc}.") from None
    if not collector.ended:
        raise CCError.bad_request(area, "The multipart body ends before its closing boundary.")
    parts: dict[str, FormPart] = {}
    for part in collector.parts:
        if not part.name:
            raise CCError.bad_request(area, "A multipart part has no name.")
        if part.name in parts:
            raise CCError.bad_request(area, f"The form names '{part.name}' more than once.")
        parts[part.name] = part
    return parts
