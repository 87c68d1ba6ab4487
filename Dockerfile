# One image for every process: receiver, workers, beat and Flower differ only in their command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 vtexct
WORKDIR /app
COPY pyproject.toml README.md ./
COPY receiver ./receiver
COPY workers ./workers
COPY shared ./shared
RUN pip install . && mkdir -p /data && chown vtexct /data

USER vtexct
EXPOSE 8000 5555
CMD ["vtexct", "receiver", "--bind", "0.0.0.0:8000"]
