# The stream processor's container: the KCL MultiLangDaemon (Java) driving stream_processor's
# record processors (Python). Built by `make image`; run on ECS Fargate (terraform/ecs.tf).
# checkov:skip=CKV_DOCKER_2: stream-processor run is PID 1 and supervises the daemon: when the daemon dies it releases the worker's leases (the other tasks take its shards) and exits, the task stops and ECS replaces it

# --- build: a virtualenv with the project and amazon-kclpy, its KCL jars fetched by Maven ---
FROM python:3.11.11-slim-bookworm AS build
ARG KCLPY_VERSION=3.1.3
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jdk-headless maven \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY tools/install-kclpy.sh tools/
RUN python -m venv /opt/venv \
    && tools/install-kclpy.sh /opt/venv/bin/python "${KCLPY_VERSION}"
# Only what the processor runs: contracts and stream_processor, and the base dependencies
# (no psycopg, pandas or the local stack's packages).
COPY contracts contracts
COPY stream_processor stream_processor
RUN /opt/venv/bin/pip install --no-cache-dir -c constraints.txt .

# --- run: a Java runtime, the virtualenv, an unprivileged user ---
FROM python:3.11.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin processor
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001
# ECS passes the same command with --properties on its scratch volume (terraform/ecs.tf).
CMD ["stream-processor", "run", "--properties", "/tmp/kcl/processor.properties"]
