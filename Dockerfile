# One image for every cobro process; docker-compose.yml picks the role with `cobro <role>`.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
RUN pip install . \
 && groupadd --gid 10001 cobro \
 && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin cobro

USER 10001:10001
WORKDIR /home/cobro
# Made here, owned by cobro, so a fresh volume mounted on it is writable (docker-compose.yml).
RUN mkdir -p /home/cobro/data
# Containers must listen on all interfaces for published ports to work.
ENV COBRO_BIND_HOST=0.0.0.0 \
    COBRO_DATA_DIR=/home/cobro/data
EXPOSE 8000 8010 8081
CMD ["cobro", "api"]
