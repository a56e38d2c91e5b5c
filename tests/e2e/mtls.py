"""A real TLS endpoint for Temporal in tests: Debian's nginx terminating TLS, requiring a client
certificate (mTLS), in front of the dev server's gRPC port, with certificates made here with
`cryptography` (a CA, the server's, a client's, and a client's from a CA nginx does not trust)."""

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.stack import free_port

CLIENT_CN = "cobro-test-client"
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx")


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # signed by a CA nginx does not trust
    stranger_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_certificates(folder: Path) -> Certificates:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, stranger_ca_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    server_key, client_key, stranger_key = (ec.generate_private_key(ec.SECP256R1()) for _ in "123")
    ca = _issue("cobro test CA", ca_key, "cobro test CA", ca_key, ca=True)
    server = _issue(
        "localhost",
        server_key,
        "cobro test CA",
        ca_key,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        names=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client = _issue(
        CLIENT_CN, client_key, "cobro test CA", ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    stranger = _issue(
        CLIENT_CN,
        stranger_key,
        "someone else's CA",
        stranger_ca_key,
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    return Certificates(
        ca=_write_cert(folder / "ca.pem", ca),
        server_cert=_write_cert(folder / "server.pem", server),
        server_key=_write_key(folder / "server.key", server_key),
        client_cert=_write_cert(folder / "client.pem", client),
        client_key=_write_key(folder / "client.key", client_key),
        stranger_cert=_write_cert(folder / "stranger.pem", stranger),
        stranger_key=_write_key(folder / "stranger.key", stranger_key),
    )


def nginx_binary() -> str:
    """Debian's nginx, which `make test` installs; its absence fails the test, never skips it."""
    found = shutil.which("nginx") or next((p for p in NGINX_PATHS if os.access(p, os.X_OK)), None)
    if found is None:
        pytest.fail(
            "nginx is missing, and the TLS test needs it as its TLS endpoint: `make test` installs "
            "Debian's nginx when run as root; otherwise run `sudo apt-get install -y nginx`",
            pytrace=False,
        )
    return found


CONFIG = """\
{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log notice;
events {{ worker_connections 512; }}
http {{
    log_format grpc '"$ssl_client_s_dn" $status "$request"';
    access_log {root}/access.log grpc;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
        ssl_client_certificate {ca};
        ssl_verify_client on;
        # Temporal's long polls last about a minute; its payloads may be megabytes.
        client_max_body_size 0;
        client_body_timeout 1h;
        keepalive_timeout 1h;
        grpc_read_timeout 1h;
        grpc_send_timeout 1h;
        location / {{
            grpc_pass grpc://{upstream};
        }}
    }}
}}
"""


@dataclass
class Nginx:
    """nginx in the foreground: mTLS on `address`, plaintext gRPC to `upstream`."""

    root: Path
    address: str
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, root: Path, upstream: str, certs: Certificates) -> "Nginx":
        binary = nginx_binary()
        root.mkdir(parents=True, exist_ok=True)
        port = free_port()
        (root / "nginx.conf").write_text(
            CONFIG.format(
                # As root, nginx's workers would run as `nobody`, which cannot use this folder.
                user="user root;\n" if os.geteuid() == 0 else "",
                root=root,
                port=port,
                upstream=upstream,
                ca=certs.ca,
                server_cert=certs.server_cert,
                server_key=certs.server_key,
            )
        )
        process = subprocess.Popen(
            [
                binary,
                "-p",
                str(root),
                "-c",
                str(root / "nginx.conf"),
                "-e",
                str(root / "error.log"),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        proxy = cls(root, f"127.0.0.1:{port}", process)
        proxy._wait_listening(port)
        return proxy

    def _wait_listening(self, port: int, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"nginx exited with {self.process.returncode}: {self.errors()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        pytest.fail(f"nginx did not listen on {port} within {timeout_s:.0f} s: {self.errors()}")

    def errors(self) -> str:
        log = self.root / "error.log"
        return log.read_text()[-2000:] if log.exists() else "(no error log)"

    def access_log(self) -> list[str]:
        log = self.root / "access.log"
        return log.read_text().splitlines() if log.exists() else []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
