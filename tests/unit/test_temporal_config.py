"""cobro reaches Temporal as the Temporal CLI would with the same environment and config file
(cobro/temporal_config.py over temporalio.envconfig), and says what to set when it cannot.
The TLS connection itself is tested end to end in tests/e2e/test_tls.py."""

import subprocess
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from cobro.devstack.temporal import temporal_binary
from cobro.settings import Settings
from cobro.temporal_config import (
    ENV_VARIABLES,
    TemporalConfigError,
    connect_config,
    describe,
    explain,
    is_configured,
    is_unreachable,
)

NO_FILE = {"TEMPORAL_CONFIG_FILE": "/nonexistent/temporal.toml"}


def settings(**values: object) -> Settings:
    """Settings from these values only (model_validate reads no environment)."""
    return Settings.model_validate(values)


def test_nothing_set_is_the_dev_server_of_cobro_dev() -> None:
    config = connect_config(settings(), NO_FILE)
    assert config == {"target_host": "127.0.0.1:7233", "namespace": "default"}
    assert not is_configured(settings(), NO_FILE)
    assert connect_config(settings(temporal_port=7444), NO_FILE)["target_host"] == (
        "127.0.0.1:7444"
    )


def test_the_cli_variables_set_address_namespace_and_api_key() -> None:
    env = {
        **NO_FILE,
        "TEMPORAL_ADDRESS": "payments.a1b2c.tmprl.cloud:7233",
        "TEMPORAL_NAMESPACE": "payments.a1b2c",
        "TEMPORAL_API_KEY": "key-not-real",
        "TEMPORAL_GRPC_META_X_TEAM": "payments",
    }
    config = connect_config(settings(), env)
    assert config["target_host"] == "payments.a1b2c.tmprl.cloud:7233"
    assert config["namespace"] == "payments.a1b2c"
    assert config["api_key"] == "key-not-real"
    assert config["tls"] is True  # an API key turns TLS on, as in the CLI
    assert config["rpc_metadata"] == {"x-team": "payments"}
    assert is_configured(settings(), env)
    assert "key-not-real" not in describe(config)


def test_an_empty_variable_counts_as_unset() -> None:
    """As the Temporal CLI takes them: `TEMPORAL_API_KEY: ${TEMPORAL_API_KEY:-}` in a compose file
    must not turn TLS on for a plaintext server."""
    empty = dict.fromkeys(["TEMPORAL_API_KEY", "TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH"], "")
    assert connect_config(settings(), {**NO_FILE, **empty}) == connect_config(settings(), NO_FILE)


def test_mtls_files_are_read(tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_bytes(f"pem of {name}".encode())
    env = {
        **NO_FILE,
        "TEMPORAL_ADDRESS": "temporal.internal:7233",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(tmp_path / "ca.pem"),
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(tmp_path / "client.pem"),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(tmp_path / "client.key"),
        "TEMPORAL_TLS_SERVER_NAME": "temporal.example",
    }
    tls = connect_config(settings(), env)["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == b"pem of ca.pem"
    assert tls.client_cert == b"pem of client.pem"
    assert tls.client_private_key == b"pem of client.key"
    assert tls.domain == "temporal.example"


def test_a_profile_of_the_config_file_and_the_environment_over_it(tmp_path: Path) -> None:
    toml = tmp_path / "temporal.toml"
    toml.write_text(
        '[profile.default]\naddress = "localhost:7233"\n\n'
        '[profile.prod]\naddress = "temporal.prod:7233"\nnamespace = "cobro-prod"\n'
        'api_key = "prod-key"\n'
    )
    env = {"TEMPORAL_CONFIG_FILE": str(toml), "TEMPORAL_PROFILE": "prod"}
    config = connect_config(settings(), env)
    assert (config["target_host"], config["namespace"], config["api_key"]) == (
        "temporal.prod:7233",
        "cobro-prod",
        "prod-key",
    )
    overridden = connect_config(settings(), {**env, "TEMPORAL_NAMESPACE": "cobro-staging"})
    assert overridden["namespace"] == "cobro-staging"
    assert is_configured(settings(), env)
    # What is given to Settings explicitly wins, as a CLI flag wins over the environment.
    explicit = settings(temporal_address="127.0.0.1:9", temporal_namespace="tests")
    assert connect_config(explicit, env)["target_host"] == "127.0.0.1:9"
    assert connect_config(explicit, env)["namespace"] == "tests"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"TEMPORAL_PROFILE": "nope"}, "TEMPORAL_PROFILE"),
        ({"TEMPORAL_TLS_CLIENT_CERT_PATH": "/nonexistent/client.pem"}, "/nonexistent/client.pem"),
    ],
)
def test_settings_that_cannot_be_read_are_a_configuration_error(
    env: dict[str, str], names: str
) -> None:
    with pytest.raises(TemporalConfigError, match=names):
        connect_config(settings(), {**NO_FILE, **env})


def _refused(error: str, **env: str) -> str:
    return explain(connect_config(settings(), {**NO_FILE, **env}), RuntimeError(error))


def test_each_refusal_says_what_to_set(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    nginx_400 = "Status { code: Internal, message: ... status: 400 Bad Request ... }"
    no_cert = _refused(nginx_400, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(ca))
    assert "TEMPORAL_TLS_CLIENT_CERT_PATH" in no_cert
    assert "TEMPORAL_TLS_CLIENT_KEY_PATH" in no_cert
    assert "no client certificate" in no_cert
    (tmp_path / "client.pem").write_text("pem")
    refused_cert = _refused(
        nginx_400,
        TEMPORAL_TLS_CLIENT_CERT_PATH=str(tmp_path / "client.pem"),
        TEMPORAL_TLS_CLIENT_KEY_PATH=str(tmp_path / "client.pem"),
    )
    assert "refused this client certificate" in refused_cert
    assert "a client certificate" in refused_cert
    plaintext_to_tls = _refused("h2 protocol error: GoAway(FRAME_SIZE_ERROR)")
    assert "TEMPORAL_TLS=true" in plaintext_to_tls
    untrusted = _refused("InvalidCertificate(UnknownIssuer)", TEMPORAL_TLS="true")
    assert "TEMPORAL_TLS_SERVER_CA_CERT_PATH" in untrusted
    down = "tcp connect error ... Connection refused"
    assert "is Temporal running" in _refused(down)
    assert is_unreachable(RuntimeError(down))
    assert not is_unreachable(RuntimeError(nginx_400))


def test_the_variables_are_the_temporal_clis() -> None:
    """Every variable cobro documents is one the Temporal CLI itself reads (`temporal options`
    lists each flag's environment variable)."""
    listed = subprocess.run(
        [temporal_binary(), "options"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    missing = [name for name in ENV_VARIABLES if f" {name} " not in listed]
    assert not missing, f"the Temporal CLI reads no {missing}"
