"""A minimal X11 client in Python (the core protocol over the server's Unix
socket, no library): enough for the tests to take a screenshot (GetImage) and
to make a window redraw (ClearArea with exposures), without xwd, ImageMagick
or xdotool. Byte layouts: the X Window System Protocol, chapter 8 (connection
setup) and 9 (requests); all little-endian ('l')."""

import socket
import struct

OP_CLEAR_AREA = 61
OP_GET_IMAGE = 73
Z_PIXMAP = 2


class XError(Exception):
    pass


class Display:
    def __init__(self, number, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(f"/tmp/.X11-unix/X{number}")
        # byte order, unused, major 11, minor 0, no authorization
        self.sock.sendall(struct.pack("<BxHHHHxx", ord("l"), 11, 0, 0, 0))
        status, _, _, _, length = struct.unpack("<BBHHH", self._read(8))
        body = self._read(length * 4)
        if status != 1:
            raise XError(f"X server :{number} refused the connection: "
                         f"{body[:body.find(0) if 0 in body else None]!r}")
        vendor_len, _, nscreens, nformats = struct.unpack_from("<HHBB", body, 16)
        screen = 32 + (vendor_len + 3) // 4 * 4 + 8 * nformats
        self.root, = struct.unpack_from("<I", body, screen)
        self.width, self.height = struct.unpack_from("<HH", body, screen + 20)
        self.depth = body[screen + 38]

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise XError("the X server closed the connection")
            buf += chunk
        return buf

    def _reply(self):
        """The next reply (events before it are skipped); an error raises."""
        while True:
            head = self._read(32)
            if head[0] == 0:
                raise XError(f"X error {head[1]} (request {head[10]}, value "
                             f"{struct.unpack_from('<I', head, 4)[0]:#x})")
            if head[0] == 1:
                extra, = struct.unpack_from("<I", head, 4)
                return head + self._read(extra * 4)

    def screenshot(self):
        """The whole root window's pixels (ZPixmap bytes)."""
        req = struct.pack("<BBHIhhHHI", OP_GET_IMAGE, Z_PIXMAP, 5, self.root, 0, 0,
                          self.width, self.height, 0xFFFFFFFF)
        self.sock.sendall(req)
        return self._reply()[32:]

    def clear(self, window, exposures):
        """Paint window with its background; with exposures, the client that
        owns it gets an Expose event and draws it again."""
        req = struct.pack("<BBHIhhHH", OP_CLEAR_AREA, int(exposures), 4, window, 0, 0, 0, 0)
        self.sock.sendall(req)

    def close(self):
        self.sock.close()
