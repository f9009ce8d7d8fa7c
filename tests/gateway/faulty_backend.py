"""A deliberately broken HTTP backend for the fault tests: each path misbehaves in one way at the
TCP/HTTP level, which a well-behaved framework cannot do.

  /ok         a valid JSON response
  /reset      reads the request, then resets the connection (RST)
  /close      reads the request, then closes without answering
  /garbage    answers with bytes that are not HTTP
  /truncated  promises 1000 body bytes, sends 10, closes
  /badjson    200 with content-type application/json and a body that is not JSON
  /hang       reads the request and never answers (until the client gives up)
  /drip       sends the headers, then one body byte per second

Usage: python faulty_backend.py --port N
"""

from __future__ import annotations

import argparse
import socket
import socketserver
import struct
import time


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(30)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        path = data.split(b" ", 2)[1].split(b"?")[0].decode(errors="replace")
        try:
            self.respond(sock, path)
        except OSError:
            pass

    def respond(self, sock: socket.socket, path: str) -> None:
        if path == "/ok":
            body = b'{"ok": true}'
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
        elif path == "/reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        elif path == "/close":
            sock.shutdown(socket.SHUT_RDWR)
        elif path == "/garbage":
            sock.sendall(b"\x00\x01\x02 this is not HTTP at all \xff\xfe\r\n\r\n")
        elif path == "/truncated":
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"partial\":")
            sock.shutdown(socket.SHUT_RDWR)
        elif path == "/badjson":
            body = b"{this is not json"
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
        elif path == "/hang":
            time.sleep(25)
        elif path == "/drip":
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\n")
            for _ in range(25):
                sock.sendall(b"x")
                time.sleep(1)
        else:
            sock.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with Server(("127.0.0.1", args.port), Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
