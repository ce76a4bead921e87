#!/usr/bin/python3
"""Speak to pharos-dataplane's management socket as a second peer (doc/ipc.md), for the
anycast test and bench: make a PoP's answers wrong behind pharos-control's back.

  ipc.py unload SOCKET ORIGIN
  ipc.py load SOCKET ORIGIN IMAGE
Prints the dataplane's reply text; exit 0 when its result is 0.
"""
import socket
import struct
import sys

IPC_VERSION = 1
HDR = struct.Struct("=IIII")


def request(sock_path, kind, body):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(sock_path)
    msg = HDR.pack(kind, HDR.size + len(body), 1, IPC_VERSION) + body
    s.send(msg)
    while True:
        r = s.recv(4096)
        kind_r, _, _, _ = HDR.unpack_from(r)
        if kind_r == 4:     # IPC_REPLY
            result, _ = struct.unpack_from("=iI", r, HDR.size)
            text = r[HDR.size + 8:].split(b"\0", 1)[0].decode()
            print(text)
            return result


def field(text, size):
    b = text.encode()
    return b + b"\0" * (size - len(b))


def main():
    op, path, origin = sys.argv[1:4]
    if op == "unload":
        rc = request(path, 2, field(origin, 256))
    else:
        rc = request(path, 1, field(origin, 256) + field(sys.argv[4], 1024))
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
