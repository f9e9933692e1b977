"""A TCP proxy the tests own, in front of a real server (PostgreSQL on 127.0.0.1:5432), that can
fail the way a database does without anyone stopping the shared server:

- `pass`: every byte forwarded both ways;
- `refuse`: connections made are closed (reset) and new ones are reset at once;
- `hang`: new connections are accepted and never forwarded, and those made stop forwarding
  (the bytes are taken, nothing answers): a server that hung, or a network that dropped.

Leaving `hang` or `refuse` closes the connections held through it, as a restarted server would.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field

PASS, REFUSE, HANG = "pass", "refuse", "hang"


@dataclass(eq=False)
class Pair:
    """One client connection and, when forwarding, its upstream connection."""

    client: socket.socket
    upstream: socket.socket | None = None
    closed: bool = field(default=False)

    def close(self, refused: bool = False) -> None:
        """Close both ends (`refused`: the client's with a reset, as a killed server's); a
        thread blocked reading either wakes up, and the server sees its client go (shutdown
        first: a close alone does neither while a thread is in recv — PostgreSQL kept a
        session idle in its transaction, and its locks, until killed)."""
        self.closed = True
        if refused:
            reset(self.client)
        for sock in (self.upstream,) if refused else (self.client, self.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset (as a refused or killed server looks to the client)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Proxy:
    """Listen on a free port of 127.0.0.1 and forward to `upstream` in the current mode."""

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self.mode = PASS
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._pairs: set[Pair] = set()
        self._changed = threading.Condition()
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def set(self, mode: str) -> None:
        """Switch mode: `pass`, `refuse` or `hang` (see the module's docstring)."""
        assert mode in (PASS, REFUSE, HANG), mode
        with self._changed:
            before, self.mode = self.mode, mode
            dropped = list(self._pairs) if mode == REFUSE or before != PASS else []
            self._pairs.difference_update(dropped)
            for pair in dropped:
                pair.closed = True  # before its pumps wake: they forward nothing more
            self._changed.notify_all()
        for pair in dropped:
            pair.close(refused=mode == REFUSE)

    def connections(self) -> int:
        """How many client connections the proxy holds."""
        with self._changed:
            return len(self._pairs)

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._closed = True
        self._listener.close()
        self.set(REFUSE)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._changed:
                mode = self.mode
                if mode == HANG:  # accepted, never read, never answered
                    self._pairs.add(Pair(client))
                    continue
            if mode == REFUSE:
                reset(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                reset(client)
                continue
            upstream.settimeout(None)
            pair = Pair(client, upstream)
            with self._changed:
                self._pairs.add(pair)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(pair, source, target),
                                 name="proxy-pump", daemon=True).start()

    def _pump(self, pair: Pair, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                with self._changed:  # hung: hold the bytes until the mode changes
                    while self.mode == HANG and not pair.closed:
                        self._changed.wait()
                if pair.closed:
                    break
                target.sendall(data)
        except OSError:
            pass
        with self._changed:
            self._pairs.discard(pair)
        if not pair.closed:
            pair.close()
