"""Settings: every one is documented in the README, parsed strictly, and secrets have
no working default."""

import pytest

from api.auth import AuthError, TokenCodec
from settings import PROJECT_ROOT, Settings, SettingsError


def test_readme_documents_every_setting_with_its_default() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for env, default, _ in Settings.documentation():
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{env}` |")),
                   None)
        assert row is not None, f"README does not document {env}"
        assert f"| {default} |" in row, f"README shows another default for {env}"


def test_values_are_parsed_and_bad_ones_named() -> None:
    s = Settings.from_env({"KEYLINK_PORT": "9001", "KEYLINK_ENV": "development"})
    assert s.port == 9001 and s.development
    with pytest.raises(SettingsError, match="KEYLINK_PORT"):
        Settings.from_env({"KEYLINK_PORT": "eighty"})
    with pytest.raises(SettingsError, match="KEYLINK_JWT_SECRET"):
        Settings.from_env({"KEYLINK_JWT_SECRET": "short"})


@pytest.mark.parametrize("env", [
    "KEYLINK_PUSH_MAX_ATTEMPTS", "KEYLINK_INGEST_BATCH_SIZE", "KEYLINK_UPLOAD_MAX_BYTES",
    "KEYLINK_BODY_MAX_BYTES", "KEYLINK_WS_AUTH_TIMEOUT_S", "KEYLINK_IMPORT_MAX_CELLS",
    "KEYLINK_MAX_COST", "KEYLINK_MAX_FIELD_COMPARISONS", "KEYLINK_URGE_ANSWER_MINUTES",
])
def test_a_count_below_one_is_refused_by_its_name(env: str) -> None:
    with pytest.raises(SettingsError, match=f"^{env} must be a positive integer$"):
        Settings.from_env({env: "0"})


def test_no_key_means_no_tokens() -> None:
    with pytest.raises(SettingsError, match="KEYLINK_JWT_SECRET"):
        TokenCodec.from_settings(Settings())


def test_rs256_tokens_verify_with_the_public_key_only() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    signer = TokenCodec.from_settings(Settings(jwt_public_key=public, jwt_private_key=private))
    verifier = TokenCodec.from_settings(Settings(jwt_public_key=public))
    claims = verifier.verify(signer.issue(org="FAW-VW", roles=["customer"], subject="a"))
    assert claims.org_code == "FAW-VW" and claims.roles == {"customer"}
    hs = TokenCodec.from_settings(Settings(jwt_secret="x" * 32))
    with pytest.raises(AuthError):
        verifier.verify(hs.issue(org="FAW-VW", roles=["customer"], subject="a"))
