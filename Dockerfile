# syntax=docker/dockerfile:1
# Keylink's image: the wheel built from this tree, installed in a slim Python image,
# run as an unprivileged user. One image for every command:
#   docker run IMAGE                 # keylink serve (the default)
#   docker run IMAGE ingest          # keylink ingest
#   docker run IMAGE push            # keylink push
#   docker run IMAGE migrate         # keylink migrate, once per release
# Settings come from the environment (README, "Configuration"); none is baked in.

ARG PYTHON_IMAGE=python:3.11-slim

# --- Build: the wheel of this tree and of each dependency ----------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --wheel-dir /wheels .

# --- Run: only the installed wheels, no source tree, no compiler ---------------
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KEYLINK_HOST=0.0.0.0 \
    KEYLINK_PORT=8000
RUN groupadd --system --gid 10001 keylink \
    && useradd --system --uid 10001 --gid keylink --create-home --home-dir /home/keylink \
        --shell /usr/sbin/nologin keylink \
    && install -d -o keylink -g keylink /var/lib/keylink
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels keylink
USER 10001:10001
WORKDIR /home/keylink
EXPOSE 8000 9108
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('KEYLINK_PORT', '8000'), timeout=4)"
ENTRYPOINT ["keylink"]
CMD ["serve"]
