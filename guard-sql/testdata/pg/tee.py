#!/usr/bin/env python3
"""A TCP tee: accepts clients on 127.0.0.1:LISTEN, connects each to 127.0.0.1:UPSTREAM,
relays both directions unchanged and writes each direction's bytes to
PREFIX.cN.frontend.bin (client to server) and PREFIX.cN.backend.bin (server to client), N
counting connections from 0 in accept order.

Standard library only. Usage: tee.py LISTEN_PORT UPSTREAM_PORT PREFIX
Prints "listening" once the port is bound; runs until killed.
"""
import socket
import sys
import threading


def pump(src, dst, out):
    with open(out, "wb") as f:
        while True:
            data = src.recv(65536)
            if not data:
                break
            f.write(data)
            dst.sendall(data)
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def relay(client, n, upstream_port, prefix):
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    name = f"{prefix}.c{n}"
    threads = [
        threading.Thread(target=pump, args=(client, upstream, name + ".frontend.bin")),
        threading.Thread(target=pump, args=(upstream, client, name + ".backend.bin")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    upstream.close()


def main():
    listen_port, upstream_port, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(8)
    print("listening", flush=True)
    n = 0
    while True:
        client, _ = srv.accept()
        threading.Thread(target=relay, args=(client, n, upstream_port, prefix)).start()
        n += 1


if __name__ == "__main__":
    main()
