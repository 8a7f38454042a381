"""A loopback TCP relay in front of a real broker that loses chosen MQTT packets on the
way to it: the fault a flaky network or a broker bug causes, between real parts."""

from __future__ import annotations

import socket
import threading

SUBSCRIBE = 8  # MQTT control packet type (high nibble of the first byte)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def read_packet(sock: socket.socket) -> bytes:
    """One whole MQTT packet: fixed header, variable-length remaining length, body."""
    header = _recv_exact(sock, 1)
    length, shift, encoded = 0, 0, b""
    while True:
        byte = _recv_exact(sock, 1)
        encoded += byte
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    return header + encoded + _recv_exact(sock, length)


class LossyRelay:
    """Relays every connection to ``(host, port)``; drops the first ``drop`` packets of
    type ``packet_type`` sent by clients (counted in :attr:`dropped`)."""

    def __init__(self, host: str, port: int, *, packet_type: int, drop: int) -> None:
        self.upstream = (host, port)
        self.packet_type = packet_type
        self.to_drop = drop
        self.dropped = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = [self._server]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            broker = socket.create_connection(self.upstream)
            self._sockets += [client, broker]
            threading.Thread(target=self._to_broker, args=(client, broker), daemon=True).start()
            threading.Thread(target=self._to_client, args=(broker, client), daemon=True).start()

    def _lose(self, packet: bytes) -> bool:
        with self._lock:
            if packet[0] >> 4 == self.packet_type and self.dropped < self.to_drop:
                self.dropped += 1
                return True
        return False

    def _to_broker(self, client: socket.socket, broker: socket.socket) -> None:
        try:
            while True:
                packet = read_packet(client)
                if not self._lose(packet):
                    broker.sendall(packet)
        except OSError:
            broker.close()

    @staticmethod
    def _to_client(broker: socket.socket, client: socket.socket) -> None:
        try:
            while data := broker.recv(65536):
                client.sendall(data)
        except OSError:
            pass
        client.close()

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()
