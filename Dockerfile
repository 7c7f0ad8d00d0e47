# The hotline service image: `docker compose up` builds it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng sox \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY callcenter ./callcenter
COPY ivr ./ivr
COPY crm ./crm
COPY reports ./reports
COPY deploy ./deploy
RUN pip install --no-cache-dir '.[fast]'
RUN useradd --system --home /app callcenter && mkdir -p /app/var && chown -R callcenter /app/var
USER callcenter
EXPOSE 8080 4573
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["sh", "-c", "callcenter db upgrade && callcenter serve --host 0.0.0.0"]
