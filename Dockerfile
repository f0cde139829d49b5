# Jobsite node image: `jobsite web` or `jobsite worker` (compose.yaml runs both), against an external
# PostgreSQL (DATABASE_URL) and optionally Redis (REDIS_URL). Built from the repository:
#     docker build -t jobsite .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    JOBSITE_DATA_DIR=/data

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin jobsite \
    && mkdir -p /data && chown jobsite /data

WORKDIR /app
COPY . /app
# Editable: the templates, static files and manage.py (which a worker node starts its queues with) live
# beside the Python packages in the repository, not inside them, and are found from the code's location.
RUN pip install -e ".[redis]" && chown -R root:root /app

USER jobsite
VOLUME ["/data"]
EXPOSE 5678
# The web server's own check; compose.yaml gives worker nodes theirs. 200 while the database answers
# and a worker node is alive.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:5678/healthz', timeout=4)"]
CMD ["jobsite", "web"]
