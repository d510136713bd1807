"""What a home says to an agent that a user started by hand (`jupiter agent`), to enlist it
in a run: the hosts backend's side of the wire."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from jupiter.api.models import Body

# Paths served by an agent in standby (between runs), besides paths.HEALTH.
BUNDLE = "/agent/bundle/{run_id}"
JOIN = "/agent/join"
# With TLS: the certificate the home signed for the key the agent made at its join.
CERTIFICATE = "/agent/certificate"
# A PEM certificate or signing request of ours is about 600 bytes.
MAX_PEM_CHARS = 16 * 1024

# A run id ends up in a folder name on the agent's machine.
RUN_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
# The app folder, packed; a larger app belongs in the image or on the host already.
MAX_BUNDLE_BYTES = 256 * 1024**2


class StandbyHealth(Body):
    """GET /health of an agent waiting for a run (a serving agent names its node instead)."""

    status: Literal["standby"] = "standby"
    node: None = None


class JoinRequest(Body):
    """POST /agent/join: serve this run as `node`, once the bundle for `run_id` is uploaded."""

    run_id: str = Field(pattern=RUN_ID)
    node: str = Field(min_length=1, max_length=63)
    home_url: str = Field(pattern=r"^https?://", max_length=2048)
    # The URL the home and peers reach this agent at (the address in cluster.yaml).
    advertise_url: str = Field(pattern=r"^https?://", max_length=2048)
    # The app (as App.to_dict) and cluster (as Cluster.to_dict) of the run.
    app: dict[str, Any]
    cluster: dict[str, Any]
    register_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # The agent leaves the run when the home has not answered for this long: a home that
    # died must not keep a hand-started agent busy forever.
    home_lease_s: float = Field(default=15.0, gt=0, le=3600)
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    heartbeat_interval_s: float = Field(default=0.5, gt=0, le=60)
    # Mutual TLS for the run: the agent makes a key, answers with a signing request for it,
    # and serves the run only once the home sends the certificate (POST /agent/certificate).
    tls: bool = False


class JoinAnswer(Body):
    joined: bool
    node: str
    # With TLS: the PEM signing request for the key the agent just made (the key stays).
    csr: str | None = Field(default=None, max_length=MAX_PEM_CHARS)


class CertificateGrant(Body):
    """POST /agent/certificate: the run CA's certificate, and the agent's, signed for the
    key of its signing request and for the address the home reaches it at."""

    run_id: str = Field(pattern=RUN_ID)
    ca: str = Field(max_length=MAX_PEM_CHARS)
    certificate: str = Field(max_length=MAX_PEM_CHARS)


class CertificateTaken(Body):
    accepted: bool = True
