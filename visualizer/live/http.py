"""HTTP pieces of the live server: the Host check, responses, and the track in byte ranges.

Every request must name this machine by a loopback Host (127.0.0.1, localhost, [::1]), the
``--host`` name, or a name the user allowed with ``--allow-host`` (a tablet on the LAN reaching
the show by the machine's address). Anything else is refused: a web page that reaches the port
through DNS rebinding sends its own name, which is never on that list.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from websockets.datastructures import Headers
from websockets.http11 import Response

RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")  # 18 digits: any file; int() stays cheap
TRACK_CHUNK = 1 << 20  # bytes of the track per /track response (bounded memory per client)
WILDCARDS = ("", "0.0.0.0", "::")  # addresses that name no host


def mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def response(status: int, body: bytes, mime: str, extra: dict[str, str] | None = None) -> Response:
    reason = {200: "OK", 206: "Partial Content", 416: "Range Not Satisfiable"}.get(status, "OK")
    headers = Headers(
        {
            "Content-Type": mime,
            "Content-Length": str(len(body)),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            **(extra or {}),
        }
    )
    return Response(status, reason, headers, body)


def host_allowed(host: str, bound: str, allowed: tuple[str, ...] = ()) -> bool:
    """True for a Host header naming this machine by a loopback name (127.0.0.1, localhost,
    [::1]), by the name the server was bound to (``--host``) or by one of ``allowed``
    (``--allow-host``), with any port."""
    name = host.strip().lower()
    if name.startswith("["):  # [::1]:8765
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    names = {"127.0.0.1", "localhost", "::1", bound, *allowed}
    return name in {n.strip().strip("[]").lower() for n in names} - set(WILDCARDS)


def ranged(path: Path, header: str | None) -> Response:
    """The track, whole or one byte range (what <audio> asks for when it seeks).

    At most TRACK_CHUNK bytes are read per request, from the file, never the whole file: a
    range reaching further is answered with its first TRACK_CHUNK bytes (206, as HTTP allows),
    and the player asks for the rest. Memory stays bounded however many pages stall.
    """
    kind = mime(path.name)
    size = path.stat().st_size
    match = RANGE.match(header.strip()) if header else None
    if not match or not (match.group(1) or match.group(2)):
        if size <= TRACK_CHUNK:
            return response(200, path.read_bytes(), kind, {"Accept-Ranges": "bytes"})
        match = RANGE.match("bytes=0-")  # a big file comes in ranges, whatever was asked
    assert match is not None
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:  # suffix range: the last N bytes
        start, end = max(0, size - int(last)), size - 1
    if start >= size or start > end:
        return response(416, b"", kind, {"Content-Range": f"bytes */{size}"})
    end = min(end, start + TRACK_CHUNK - 1)
    with path.open("rb") as file:
        file.seek(start)
        data = file.read(end - start + 1)
    extra = {"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{size}"}
    return response(206, data, kind, extra)
