# The hotline service image (`docker compose build service`).
# Build stage: wheels of the project and its dependencies. Runtime: Python, the
# wheels, espeak-ng + sox (`callcenter prompts generate`) and Debian's Noto CJK
# fonts (charts and PDF reports draw Chinese names), as the unprivileged user
# `callcenter` (uid 10001, the same uid as the Asterisk image's user, so both
# read and write the shared recordings/spool/prompts volumes).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY callcenter ./callcenter
COPY ivr ./ivr
COPY crm ./crm
COPY reports ./reports
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[fast]'

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      espeak-ng sox fonts-noto-cjk tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 callcenter \
 && useradd --system --uid 10001 --gid callcenter --home-dir /var/lib/callcenter callcenter
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'callcenter[fast]' \
 && rm -rf /wheels
COPY deploy/sample-data /usr/share/callcenter/sample-data
RUN mkdir -p /var/lib/callcenter/prompts /var/lib/callcenter/recordings \
      /var/lib/callcenter/spool /var/lib/callcenter/reports \
 && chown -R callcenter:callcenter /var/lib/callcenter
WORKDIR /var/lib/callcenter
# Paths shared with the Asterisk container: the same absolute paths on both sides.
ENV HTTP_HOST=0.0.0.0 HTTP_PORT=8080 FASTAGI_HOST=0.0.0.0 FASTAGI_PORT=4573 \
    PROMPTS_DIR=/var/lib/callcenter/prompts RECORDINGS_DIR=/var/lib/callcenter/recordings \
    SPOOL_DIR=/var/lib/callcenter/spool REPORTS_DIR=/var/lib/callcenter/reports
USER callcenter
EXPOSE 8080 4573
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=4 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)" || exit 1
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["callcenter", "serve"]
