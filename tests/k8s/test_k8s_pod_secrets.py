"""The pods' entry points read their secrets from the files the Secret volumes put there."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupiter.api.tls import TlsFiles
from jupiter.errors import SpecError
from jupiter.k8s import settings as s


def test_the_token_comes_from_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    monkeypatch.setenv(s.ENV_TOKEN_FILE, str(token))
    assert s.read_token() == "s3cret"


@pytest.mark.parametrize(("content", "message"), [(None, "cannot read"), ("\n", "is empty")])
def test_a_missing_or_empty_token_file_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, message: str
) -> None:
    token = tmp_path / "token"
    if content is not None:
        token.write_text(content)
    monkeypatch.setenv(s.ENV_TOKEN_FILE, str(token))
    with pytest.raises(SpecError) as caught:
        s.read_token()
    assert str(caught.value).startswith(f"{token}: ") and message in str(caught.value)
    assert "\n" not in str(caught.value) and caught.value.exit_code == 2


def test_tls_files_only_when_the_manifest_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(s.ENV_TLS_DIR, raising=False)
    assert s.tls_files() is None
    monkeypatch.setenv(s.ENV_TLS_DIR, s.TLS_DIR)
    assert s.tls_files() == TlsFiles.in_folder(Path(s.TLS_DIR))
