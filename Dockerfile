# syntax=docker/dockerfile:1
# The Jupiter agent image: the jupiter package and its runtime dependencies, nothing else
# (no Kubernetes client: pods never talk to the API server). Every pod of a run - agents and
# home - runs an app image built on this one (`jupiter k8s dockerfile APP`).
#
#   docker build -t REGISTRY/jupiter-agent:0.1.0 .
#   docker push REGISTRY/jupiter-agent:0.1.0
#
# See docs/kubernetes.md.
#
# The base image is a build argument. Its default is a tag, which moves as Debian and Python
# publish fixes; to build from exactly the bytes you reviewed, pin it by digest:
#
#   docker buildx imagetools inspect python:3.11-slim-bookworm    # prints "Digest: sha256:..."
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<that digest> \
#       -t REGISTRY/jupiter-agent:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY examples ./examples
RUN python -m venv /opt/jupiter \
 && /opt/jupiter/bin/pip install . \
 && /opt/jupiter/bin/python -c "import jupiter.k8s.agent_entry, jupiter.k8s.home_entry"

FROM ${PYTHON_IMAGE}
# A fixed numeric user: the pods' runAsNonRoot check needs a numeric UID to verify.
RUN groupadd --gid 10001 jupiter \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /work --shell /usr/sbin/nologin jupiter \
 && mkdir -p /app /work \
 && chown 10001:10001 /work
COPY --from=build /opt/jupiter /opt/jupiter
# Bytecode is not written: the root filesystem is read-only in the pods.
ENV PATH=/opt/jupiter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/work
WORKDIR /work
USER 10001:10001
EXPOSE 7000 7100
CMD ["python", "-m", "jupiter.k8s.agent_entry"]
