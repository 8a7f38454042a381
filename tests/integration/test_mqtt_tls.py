"""TLS and username/password against mosquitto: mqtts:// URL + CA file, refused login."""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from crampwatch.consumers.logger import EventLogger
from crampwatch.errors import CrampwatchError
from crampwatch.publish import EventPublisher, parse_broker_url
from crampwatch.publish.broker import LOOPBACK
from crampwatch.publish.config import probe_protocol

pytestmark = pytest.mark.integration

x509 = pytest.importorskip("cryptography.x509", reason="cryptography (a bumble dependency)")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402


def _cert(subject: str, key, issuer_name, issuer_key, *, ca: bool):  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_pki(folder: Path) -> tuple[Path, Path, Path]:
    ca_key, srv_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crampwatch test CA")])
    ca = _cert("crampwatch test CA", ca_key, ca_name, ca_key, ca=True)
    srv = _cert(LOOPBACK, srv_key, ca_name, ca_key, ca=False)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(srv.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        srv_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


@pytest.fixture
def tls_mosquitto(mosquitto_factory, tmp_path):  # type: ignore[no-untyped-def]
    """mosquitto with a TLS listener and login required (user 'night', password 'owl')."""
    folder = tmp_path / "tls"
    folder.mkdir()
    ca, cert, key = _write_pki(folder)
    passwd = folder / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "night", "owl"], check=True)
    broker = mosquitto_factory(
        listener=[
            f"cafile {ca}",
            f"certfile {cert}",
            f"keyfile {key}",
            "allow_anonymous false",
            f"password_file {passwd}",
        ]
    )
    return broker, ca


def test_tls_with_login_round_trip(tls_mosquitto, make_event, wait_for, tmp_path) -> None:
    broker, ca = tls_mosquitto
    config = replace(
        parse_broker_url(f"mqtts://night:owl@{LOOPBACK}:{broker.port}"), ca_file=str(ca)
    )
    with EventLogger(config, tmp_path / "e.db") as logger:
        assert logger.wait_subscribed(30)
        with EventPublisher(config, "dev1", tmp_path / "o.db") as publisher:
            publisher.publish(make_event(1))
            assert publisher.wait_drained(10)
        assert wait_for(lambda: logger.counters.stored == 1, 10)


def test_wrong_password_is_a_clear_error(tls_mosquitto) -> None:
    broker, ca = tls_mosquitto
    config = replace(
        parse_broker_url(f"mqtts://night:lark@{LOOPBACK}:{broker.port}"), ca_file=str(ca)
    )
    with pytest.raises(CrampwatchError, match="refused the credentials"):
        probe_protocol(config)
