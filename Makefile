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

clean:
	rm -rf build install log
