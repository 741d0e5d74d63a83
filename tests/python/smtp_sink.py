"""A real SMTP server for tickvault's notification tests (aiosmtpd).

It listens on 127.0.0.1:<port>, offers STARTTLS with the given certificate and refuses mail
(and AUTH) before it, checks AUTH LOGIN/PLAIN against one user and password, and prints one
JSON line per message received on stdout: the envelope, whether the session was encrypted,
who logged in, and the message text. "READY" is printed once it accepts connections.

    smtp_sink.py --port P --cert C --key K --user U --password W
"""

import argparse
import asyncio
import json
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        print(
            json.dumps(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "tls": session.ssl is not None,
                    "login": login,
                    "data": envelope.content.decode("utf-8", "replace"),
                }
            ),
            flush=True,
        )
        return "250 OK"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    a = p.parse_args()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == a.user
            and auth_data.password.decode() == a.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(a.cert, a.key)
    controller = Controller(
        Sink(),
        hostname="127.0.0.1",
        port=a.port,
        tls_context=tls,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    print("READY", flush=True)
    try:
        # Until the test closes stdin or kills the process.
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
