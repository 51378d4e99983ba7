# agentgateway-py container image (README "Deploying" > "Container image").
# Multi-stage: a builder compiles the Cython fast path and fills a venv in /opt/venv; the runtime stage
# copies only that venv onto the same base, so no compiler, headers or pip cache ship.
# BASE_IMAGE may be any Debian-family image with python3 >= 3.10 (python:*-slim, or plain Debian with
# the python3 package): only `python3` is assumed, never `python` or `pip`.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
# Unset unless given with --build-arg, so pip's own defaults (PyPI) apply; set them to use a mirror.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
# Install only what the base lacks: python:*-slim has the headers and ensurepip but no gcc; Debian's python3
# has neither python3-dev nor python3-venv. The stage is thrown away, so dpkg may skip its fsyncs.
RUN set -eux; \
    pkgs=""; \
    command -v gcc >/dev/null || pkgs="$pkgs gcc libc6-dev"; \
    python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_path("include") + "/Python.h"))' \
        || pkgs="$pkgs python3-dev"; \
    python3 -c 'import ensurepip' 2>/dev/null || pkgs="$pkgs python3-venv"; \
    if [ -n "$pkgs" ]; then \
        apt-get -o Acquire::Languages=none update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            -o Dpkg::Options::=--force-unsafe-io $pkgs; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3 -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY gateway ./gateway
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret (`--secret id=pip-ca,src=FILE`):
# it is used by pip here and never lands in a layer. GATEWAY_REQUIRE_EXTENSIONS makes the import fail if the
# compiled fast path did not build (setup.py would otherwise fall back to pure Python silently). pip and
# setuptools are not needed at run time.
RUN --mount=type=secret,id=pip-ca set -eux; \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi; \
    /opt/venv/bin/pip install -q .; \
    cd /; GATEWAY_REQUIRE_EXTENSIONS=1 /opt/venv/bin/python -c 'import gateway.fastpath'; \
    /opt/venv/bin/pip uninstall -q -y pip setuptools

FROM ${BASE_IMAGE}
# A fixed numeric uid/gid (not root) so Kubernetes' runAsNonRoot can verify it; written directly to
# /etc/passwd because minimal bases may lack useradd. CA certificates are needed for HTTPS providers.
RUN set -eux; \
    if [ ! -e /etc/ssl/certs/ca-certificates.crt ]; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    echo 'agentgateway:x:10001:10001:agentgateway:/var/lib/agentgateway:/usr/sbin/nologin' >> /etc/passwd; \
    echo 'agentgateway:x:10001:' >> /etc/group; \
    mkdir -p /var/lib/agentgateway /etc/agentgateway; \
    chown 10001:10001 /var/lib/agentgateway
COPY --from=builder /opt/venv /opt/venv
COPY config.yaml /etc/agentgateway/config.yaml
# Management servers listen on all interfaces so probes and scrapers outside the container reach them;
# the admin API (config dump, log level, shutdown) stays on 127.0.0.1:15000 unless ADMIN_ADDR says otherwise.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    STATS_ADDR=0.0.0.0:15020 \
    READINESS_ADDR=0.0.0.0:15021
# The working directory is the writable one: the shipped config's spend ledger (./agentgateway-spend.db)
# lands here; mount a volume on it to keep the ledger across restarts.
WORKDIR /var/lib/agentgateway
USER 10001:10001
# 3000: the shipped config's gateway port; 15020 metrics; 15021 readiness.
EXPOSE 3000 15020 15021
# Reads READINESS_ADDR so a moved readiness port keeps the check right; any non-2xx or refusal exits 1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; port = os.environ.get('READINESS_ADDR', ':15021').rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz/ready', timeout=2)"]
# Exec form: the gateway itself is PID 1, so SIGTERM (docker stop, Kubernetes) reaches it directly and it
# drains (readiness turns 500, in-flight requests finish up to config.connectionTerminationDeadline).
STOPSIGNAL SIGTERM
ENTRYPOINT ["agentgateway"]
CMD ["-f", "/etc/agentgateway/config.yaml"]
