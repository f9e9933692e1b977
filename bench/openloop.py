"""An open-loop load generator whose own work stays out of what it measures: requests prepared
beforehand as raw HTTP/1.1 bytes, sent at a fixed rate whatever the answers take (a request is
never held back by the previous one's answer, as helpdesks and agents do not wait for each
other), each on a connection of its own, from several processes of their own (so one
interpreter's lock does not queue the senders behind each other).

A request's time runs from just before its connection is opened to the last byte of its
answer: what a helpdesk waits for its acknowledgement, or an agent's browser for its record.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

LEAD_S = 0.5  # from the call to the first request due: every sender process started by then


@dataclass(frozen=True)
class Sent:
    """One request's answer: its status (0 when it failed) and its time in seconds."""

    status: int
    seconds: float


def raw_request(url: str, method: str = "GET", body: bytes = b"",
                headers: dict[str, str] | None = None) -> bytes:
    """The bytes of one HTTP/1.1 request that closes its connection after the answer."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _one(address: tuple[str, int], request: bytes) -> Sent:
    started = time.perf_counter()
    try:
        with socket.create_connection(address, timeout=30) as conn:
            conn.sendall(request)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
    except OSError:
        return Sent(0, time.perf_counter() - started)
    head = b"".join(chunks[:1])[:12].split()
    status = int(head[1]) if len(head) > 1 and head[1].isdigit() else 0
    return Sent(status, time.perf_counter() - started)


def _sender(address: tuple[str, int], requests: list[bytes], rate: float, offset: float,
            start_at: float, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """This process's share: request i sent at `start_at + (offset + i * processes) / rate`
    on the wall clock shared by the processes."""
    sent: list[Sent] = []
    lock = threading.Lock()

    def send(at: float, request: bytes) -> None:
        time.sleep(max(at - time.time(), 0))
        answer = _one(address, request)
        with lock:
            sent.append(answer)

    with ThreadPoolExecutor(64) as pool:
        for index, request in enumerate(requests):
            pool.submit(send, start_at + offset / rate + index / rate, request)
    out.put([(s.status, s.seconds) for s in sent])


def send_open_loop(base_url: str, requests: list[bytes], rate: float,
                   processes: int = 4) -> list[Sent]:
    """Every request sent at `rate` a second in all, spread over `processes` senders; their
    answers (the order is not the sending order)."""
    parts = urlsplit(base_url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.time() + LEAD_S
    children = [context.Process(target=_sender, args=(
        address, requests[n::processes], rate / processes, n / processes, start_at, out))
        for n in range(processes)]
    for child in children:
        child.start()
    answers = [Sent(status, seconds) for _ in children for status, seconds in out.get()]
    for child in children:
        child.join()
    return answers
