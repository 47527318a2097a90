# One image for every ServiceLens container; the service is chosen by the command.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 BENTOML_DO_NOT_TRACK=true
# Point this at a CPU-only PyTorch wheel index to keep the image small (torch is pinned in constraints.txt).
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL}
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY servicelens ./servicelens
COPY features ./features
COPY training ./training
COPY model_registry ./model_registry
COPY services ./services
COPY monitoring ./monitoring
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home servicelens
USER servicelens
ENV SERVICELENS_HOME=/home/servicelens/.servicelens
ENTRYPOINT ["servicelens"]
CMD ["--help"]
