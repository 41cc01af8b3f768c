"""A small local HTTPS fake of the LibreLinkUp cloud (the three calls nightscout-connect makes), with
a self-signed certificate the Node client is told to trust (``NODE_EXTRA_CA_CERTS``)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TOKEN = "fake-llu-ticket"
PATIENT = "7d7b9c3c-0000-4000-8000-00000000llu1"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "llu-cert.pem", directory / "llu-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def factory_timestamp(ms: int) -> str:
    """LibreLinkUp's ``FactoryTimestamp``: UTC as ``M/D/YYYY h:mm:ss AM``."""
    when = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    hour = when.hour % 12 or 12
    half = "AM" if when.hour < 12 else "PM"
    return f"{when.month}/{when.day}/{when.year} {hour}:{when.minute:02d}:{when.second:02d} {half}"


class FakeLibreLinkUp:
    """Serves ``readings`` [(epoch ms, mg/dL, TrendArrow)] as the patient's graph."""

    def __init__(self, directory: Path, readings: list[tuple[int, int, int]]) -> None:
        self.readings = readings
        self.calls: list[str] = []
        self.cert_path, key_path = make_certificate(directory)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.calls.append(f"POST {self.path}")
                if self.path == "/llu/auth/login" and body.get("password") == "llu-password":
                    ticket = {"token": TOKEN, "expires": 1_900_000_000, "duration": 3_600_000}
                    self._send(200, {"status": 0, "data": {"user": {"id": "u1"}, "authTicket": ticket}})
                else:
                    self._send(401, {"status": 2, "error": {"message": "notAuthenticated"}})

            def do_GET(self) -> None:
                fake.calls.append(f"GET {self.path}")
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, {"status": 2})
                elif self.path == "/llu/connections":
                    self._send(
                        200,
                        {"status": 0, "data": [{"patientId": PATIENT, "firstName": "A", "lastName": "B"}]},
                    )
                elif self.path == f"/llu/connections/{PATIENT}/graph":
                    graph = [
                        {
                            "FactoryTimestamp": factory_timestamp(ms),
                            "Timestamp": factory_timestamp(ms),
                            "ValueInMgPerDl": value,
                            "TrendArrow": arrow,
                            "type": 0,
                            "isHigh": False,
                            "isLow": False,
                        }
                        for ms, value, arrow in fake.readings
                    ]
                    self._send(
                        200,
                        {
                            "status": 0,
                            "data": {
                                "connection": {"patientId": PATIENT},
                                "activeSensors": [],
                                "graphData": graph,
                            },
                        },
                    )
                else:
                    self._send(404, {"status": 4})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, key_path)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeLibreLinkUp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
