"""A real SMTP server on loopback (aiosmtpd) for end-to-end mail tests.

    with LoopbackSMTP(user="alice", password="s3cret") as server:
        url = server.mailto_url(to="bob@example.com")   # for apprise
        ... send ...
        message = server.wait_for_message()             # email.message.EmailMessage

The server runs in aiosmtpd's own thread, accepts AUTH PLAIN/LOGIN without
TLS (only for the configured user and password) and keeps every message it
receives. Use it as a context manager or through the `smtp_server` fixture
(`pytest_plugins = ["tests.smtp"]` or import the fixture).
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    """One message as the server got it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.arrived:
            self.received.append(Received(str(envelope.mail_from),
                                          list(envelope.rcpt_tos), parsed))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


class _Session(Session):
    """aiosmtpd 1.4 sets the deprecated `login_data` itself on every AUTH and
    warns; under pytest's warnings-as-errors that would fail the AUTH."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _SMTP(SMTP):
    def _create_session(self) -> Session:
        return _Session(self.loop)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _SMTP(self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LoopbackSMTP:
    """aiosmtpd on 127.0.0.1:<free port>, plain SMTP with optional AUTH."""

    def __init__(self, user: str = "newsmonitor", password: str = "s3cret-pw") -> None:
        self.user, self.password = user, password
        self.host, self.port = "127.0.0.1", free_port()
        self._handler = _Handler()
        self._controller = _Controller(
            self._handler, hostname=self.host, port=self.port,
            authenticator=self._authenticate, auth_require_tls=False,
        )

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.user
              and auth_data.password.decode() == self.password)
        # handled=False: let aiosmtpd answer 535 itself (the default,
        # handled=True, would leave the client waiting for a reply).
        return AuthResult(success=ok, handled=False)

    def __enter__(self) -> LoopbackSMTP:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        return list(self._handler.received)

    def mailto_url(self, to: str = "reader@example.com", sender: str = "monitor@example.com",
                   password: str | None = None) -> str:
        """An apprise URL for this server: plain SMTP (mode=insecure), AUTH."""
        secret = quote(self.password if password is None else password, safe="")
        return (f"mailto://{quote(self.user)}:{secret}@{self.host}:{self.port}"
                f"?mode=insecure&from={sender}&to={to}")

    def wait_for_message(self, timeout: float = 5.0) -> Received:
        """The first message received, waiting up to `timeout` seconds."""
        with self._handler.arrived:
            if not self._handler.arrived.wait_for(lambda: self._handler.received, timeout):
                raise AssertionError(f"no message reached the SMTP server in {timeout} s")
            return self._handler.received[0]


@pytest.fixture
def smtp_server() -> Iterator[LoopbackSMTP]:
    with LoopbackSMTP() as server:
        yield server
