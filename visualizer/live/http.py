"""HTTP pieces of the live server: the Host check, responses, and the track in byte ranges.

Every request must name this machine by a loopback Host (127.0.0.1, localhost, [::1]), the
``--host`` name, or a name the user allowed with ``--allow-host`` (a tablet on the LAN reaching
the show by the machine's address). Anything else is refused: a web page that reaches the port
through DNS rebinding sends its own name, which is never on that list.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import re
import socket
import stat
from pathlib import Path
from typing import BinaryIO

from websockets.datastructures import Headers
from websockets.http11 import Response

from visualizer.errors import LiveIOError

RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")  # 18 digits: any file; int() stays cheap
TRACK_CHUNK = 1 << 20  # bytes of the track per /track response (bounded memory per client)
WILDCARDS = ("", "0.0.0.0", "::")  # addresses that name no host


def mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def response(status: int, body: bytes, mime: str, extra: dict[str, str] | None = None) -> Response:
    reasons = {200: "OK", 206: "Partial Content", 404: "Not Found", 416: "Range Not Satisfiable"}
    reason = reasons.get(status, "OK")
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
    and the player asks for the rest. Memory stays bounded however many pages stall. The file is
    opened without waiting and read only while it is a regular file: a track removed or replaced
    by a FIFO or a device while the show runs is a 404, never a stalled server.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return response(404, b"the track is gone\n", "text/plain")
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return response(404, b"the track is not a regular file\n", "text/plain")
        return _read_range(file, status.st_size, mime(path.name), header)


def _read_range(file: BinaryIO, size: int, kind: str, header: str | None) -> Response:
    match = RANGE.match(header.strip()) if header else None
    if not match or not (match.group(1) or match.group(2)):
        if size <= TRACK_CHUNK:
            return response(200, file.read(size), kind, {"Accept-Ranges": "bytes"})
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
    file.seek(start)
    data = file.read(end - start + 1)
    extra = {"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{size}"}
    return response(206, data, kind, extra)


def check_bindable(host: str, port: int, kind: socket.SocketKind, what: str) -> None:
    """LiveIOError "cannot WHAT HOST:PORT: why" unless ``port`` (TCP or UDP, ``kind``) can be
    bound on every address ``host`` names, as the server binds them: a busy port or a host that
    does not resolve fails before the model loads, not after. The sockets are closed again."""
    try:
        addresses = socket.getaddrinfo(host, port, type=kind, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as error:
        raise LiveIOError(f"cannot {what} {host}:{port}: {_reason(error)}") from None
    for family, type_, proto, _, address in addresses:
        with socket.socket(family, type_, proto) as probe:
            if kind == socket.SOCK_STREAM:  # as asyncio's server does (not python-osc's UDP)
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRNOTAVAIL:  # an address family that is off here
                    continue
                raise LiveIOError(f"cannot {what} {host}:{port}: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)
