# Multi-stage: compile the Cython fast path in a builder, ship a slim runtime as a non-root user.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE} AS builder
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY gateway ./gateway
RUN python -m pip install --no-cache-dir build && python -m pip wheel --no-cache-dir -w /wheels .

FROM ${BASE_IMAGE}
RUN useradd --system --uid 10001 --home /nonexistent agentgateway
COPY --from=builder /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config.yaml /etc/agentgateway/config.yaml
ENV STATS_ADDR=0.0.0.0:15020 READINESS_ADDR=0.0.0.0:15021
USER 10001
# 3000: the shipped config's bind; 15000 admin (localhost only by default), 15020 metrics, 15021 readiness.
EXPOSE 3000 15020 15021
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:15021/healthz/ready').status == 200 else 1)"
ENTRYPOINT ["agentgateway"]
CMD ["-f", "/etc/agentgateway/config.yaml"]
