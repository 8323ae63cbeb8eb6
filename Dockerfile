FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY organism organism
COPY tasks tasks
COPY beat beat
COPY config config
RUN pip install --no-cache-dir '.[tracing]'
RUN useradd --create-home organism && mkdir -p /app/var && chown organism /app/var
USER organism
CMD ["organism", "--help"]
