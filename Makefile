# DIN testbed: one Makefile for set-up, build, run, test and benchmarks.
#
#   make run              the testbed (TOPO=enterprise SCENARIO=interactive|check|demo PCAP=1
#                         STEERING=service|static METRICS_PORT=9100 METRICS_ADDR=127.0.0.1)
#   make test             lint + every test
#   make build            compile every program of p4src/ into build/
#   make stop | clean     stop what `make run` started | remove outputs
#
# The P4 toolchain is chosen by p4lite.toolchain: the real p4c-bm2-ss (or p4c)
# and simple_switch_grpc when they are on PATH, p4lite otherwise. Override with
# `make run P4C=... SWITCH=...`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMPS := $(VENV)/.stamps

P4SRC ?= p4src
BUILD_DIR ?= build
LOG_DIR ?= logs
PCAP_DIR ?= pcaps
PCAP ?=
TOPO ?= enterprise
SCENARIO ?= interactive
# Steering: the controller's service (its /metrics and /status on METRICS_ADDR:METRICS_PORT),
# or the static plan written once.
STEERING ?= service
METRICS_PORT ?= 9100
METRICS_ADDR ?= 127.0.0.1
PYTEST_ARGS ?=

# Empty means "choose automatically" (see p4lite/toolchain.py).
P4C ?=
SWITCH ?=
export P4C SWITCH

APT_PACKAGES := mininet iputils-ping bridge-utils iproute2 ethtool iperf \
	tcpreplay tcpdump tshark openssl cpp procps curl
P4RUNTIME_SHELL_VERSION := 0.0.6
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help install lock build models data run stop clean test lint check-imports pytest bench

help:
	@echo "make run      start the DIN testbed in Mininet (TOPO=$(TOPO) SCENARIO=$(SCENARIO) STEERING=$(STEERING))"
	@echo "make test     lint and run every test"
	@echo "make build    compile $(P4SRC)/*.p4 into $(BUILD_DIR)/"
	@echo "make models   train the default models into $(BUILD_DIR)/models/"
	@echo "make data     fetch nDPI's labelled captures, derive $(DATA_DIR)/flows-ndpi.npz (network)"
	@echo "make lint     ruff, mypy --strict, import directions"
	@echo "make bench    run the benchmarks (figures printed and written to $(BUILD_DIR)/bench/)"
	@echo "make stop     stop what 'make run' started"
	@echo "make clean    remove build outputs, logs and pcaps"
	@echo "make install  Debian packages + $(VENV) (run by the targets above when needed)"

# ---------------------------------------------------------------- set-up ---

install: $(STAMPS)/apt $(STAMPS)/venv

$(STAMPS)/apt:
	@mkdir -p $(STAMPS)
	@if dpkg-query -W -f='$${Status}\n' $(APT_PACKAGES) 2>/dev/null \
	      | grep -qv 'install ok installed' \
	   || [ "$$(dpkg-query -W -f='$${Status}\n' $(APT_PACKAGES) 2>/dev/null | wc -l)" \
	        -ne "$(words $(APT_PACKAGES))" ]; then \
	  echo "installing Debian packages: $(APT_PACKAGES)"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $(APT_PACKAGES); \
	else echo "Debian packages already installed"; fi
	@touch $@

$(STAMPS)/venv: pyproject.toml requirements.lock tools/regen_p4runtime.py | $(STAMPS)/apt
	@mkdir -p $(STAMPS)
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	@# p4runtime-shell 0.0.6 pins protobuf<3.21 and p4runtime==1.4.1, whose pure-Python
	@# protobuf is the controller's bottleneck. It runs on the stubs regenerated below.
	$(PY) -m pip install -q --no-deps p4runtime-shell==$(P4RUNTIME_SHELL_VERSION)
	$(PY) tools/regen_p4runtime.py
	$(PY) tools/link_mininet.py
	@touch $@

# Re-pin after changing dependencies: `make lock`, then commit requirements.lock.
lock: $(STAMPS)/venv
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

# ----------------------------------------------------------------- build ---

build: install
	$(PY) -m p4lite.toolchain build --out $(BUILD_DIR) $(P4SRC)

# ---------------------------------------------------------------- models ---

MODELS_DIR := $(BUILD_DIR)/models
MODELS := $(MODELS_DIR)/digits-mlp.npz $(MODELS_DIR)/digits-head.npz \
	$(MODELS_DIR)/digits-large.npz $(MODELS_DIR)/flows-forest.npz

models: $(MODELS)

$(MODELS_DIR)/digits-mlp.npz: | install
	@mkdir -p $(MODELS_DIR)
	$(VENV)/bin/dinctl train mlp --seed 0 --out $@
$(MODELS_DIR)/digits-head.npz: $(MODELS_DIR)/digits-mlp.npz
	$(VENV)/bin/dinctl train head --base $< --out $@
$(MODELS_DIR)/digits-large.npz: | install
	@mkdir -p $(MODELS_DIR)
	$(VENV)/bin/dinctl train mlp --large --seed 0 --out $@
# The flow classifier learns from the traffic the testbed sends (traffic.workloads),
# every packet of a flow classified by the same model (features at packets 1..32).
$(MODELS_DIR)/flows-workloads.npz: | install
	@mkdir -p $(MODELS_DIR)
	$(PY) tools/workload_flows.py --seed 0 --out $@
$(MODELS_DIR)/flows-forest.npz: $(MODELS_DIR)/flows-workloads.npz
	$(VENV)/bin/dinctl train forest --data $< --packet-limit 32 --min-packets 1 --seed 0 --out $@

# ------------------------------------------------------------------ data ---
# Real labelled flows: Debian's nDPI source (tests/pcap + tests/result) fetched
# into $(DATA_DIR)/ (needs the network; a stamp keeps it fetched once), then
# din.p4's flows of its captures labelled with the workload classes.

DATA_DIR ?= data
NDPI_STAMP := $(DATA_DIR)/ndpi-source.stamp
NDPI_FLOWS := $(DATA_DIR)/flows-ndpi.npz
FLOW_DATA_CODE := $(addprefix controller/models/,capture.py ndpi.py ndpi_classes.py \
	flowdata.py features.py) tools/ndpi_flows.py

data: $(NDPI_FLOWS)

$(NDPI_STAMP):
	tools/fetch_ndpi.sh $(DATA_DIR)

$(NDPI_FLOWS): $(NDPI_STAMP) $(FLOW_DATA_CODE) | install
	$(PY) tools/ndpi_flows.py --stamp $(NDPI_STAMP) --out $@

# ------------------------------------------------------------------- run ---

run: build models
	$(PY) -m topologies.launch --topo $(TOPO) --scenario $(SCENARIO) \
	    --build $(BUILD_DIR) --logs $(LOG_DIR) --pcaps $(PCAP_DIR) \
	    --steering $(STEERING) --metrics-port $(METRICS_PORT) --metrics-addr $(METRICS_ADDR) \
	    $(if $(filter 1 yes,$(PCAP)),--pcap)

stop:
	@if [ -x $(PY) ]; then $(PY) -m topologies.launch --stop --logs $(LOG_DIR); \
	else echo "nothing to stop"; fi

clean:
	rm -rf $(BUILD_DIR) $(LOG_DIR) $(PCAP_DIR) .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# ------------------------------------------------------------------ test ---

IMPORT_ROOT ?= .

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(MAKE) --no-print-directory check-imports

check-imports:
	$(PY) tools/check_imports.py --root $(IMPORT_ROOT)

pytest: install
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint pytest

bench: install
	$(PY) -m bench --out $(BUILD_DIR)/bench
