# invoice-reactor image.
#
#   docker build -t invoice-reactor .
#   docker run --rm -e DATABASE_URL=postgresql://... invoice-reactor migrate
#   docker run --rm -p 8006:8006 -e DATABASE_URL=... -e NOTIFICATION_RECIPIENTS=... invoice-reactor
#
# Stage 1 installs the project and its dependencies into a virtual environment; stage 2
# copies only that environment onto a fresh slim base: no compilers, no pip cache, no
# source tree. The SQL files and the Alembic scripts travel inside the installed package
# (reactor/_sql, reactor/_alembic), so `reactor migrate` works from the image.

FROM python:3.11.13-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY pyproject.toml README.md hatch_build.py ./
COPY reactor ./reactor
COPY sql ./sql
COPY alembic ./alembic

# A regular (not editable) install: the wheel's force-include puts sql/ and alembic/
# inside the package, and hatch_build.py compiles the translations into it. Dependency
# versions come from pyproject.toml's ranges.
RUN python -m venv /opt/reactor \
    && /opt/reactor/bin/pip install --no-cache-dir /src \
    && /opt/reactor/bin/reactor --version


FROM python:3.11.13-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="invoice-reactor" \
      org.opencontainers.image.description="Notifies accounts payable the moment an invoice needs review."

# REACTOR_DATA_DIR is only used without DATABASE_URL (embedded PostgreSQL): /tmp is
# writable here and is an emptyDir under Kubernetes' read-only root filesystem.
ENV PATH="/opt/reactor/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8006 \
    REACTOR_DATA_DIR=/tmp/reactor-data

RUN groupadd --gid 10001 reactor \
    && useradd --uid 10001 --gid reactor --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin reactor

COPY --from=build /opt/reactor /opt/reactor

WORKDIR /app
USER 10001:10001
EXPOSE 8006

# No curl in the image: the interpreter asks the liveness probe itself.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '8006'), timeout=4)"]

ENTRYPOINT ["reactor"]
CMD ["run"]
