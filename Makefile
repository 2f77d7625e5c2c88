# planner_ros: `make demo` and `make test` set up what is missing first (see README).
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
SYSTEM_PYTHON ?= python3
# Detector training environment: torch + torchvision + ultralytics (~6 GB), kept out of the runtime venv.
TRAIN_VENV ?= .venv-train
DATASET ?= build/detector_dataset
# DDS hygiene: discovery never leaves this machine. Each run picks its own ROS_DOMAIN_ID (planner_ros.ros_env).
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST

.PHONY: setup lock test test-unit demo bench eval-perception train-env detector clean

setup:
	@$(SYSTEM_PYTHON) scripts/setup_env.py --venv $(VENV)

lock: setup
	@$(SYSTEM_PYTHON) scripts/setup_env.py --venv $(VENV) --write-lock

test: setup
	$(PYTHON) -m pytest

test-unit: setup
	$(PYTHON) -m pytest test/unit

demo: setup
	$(VENV)/bin/planner-ros demo

bench: setup
	$(PYTHON) benchmarks/bench_conversions.py
	$(PYTHON) benchmarks/bench_sim_physics.py
	$(PYTHON) benchmarks/bench_sim.py
	$(PYTHON) benchmarks/bench_perception.py

eval-perception: setup
	$(VENV)/bin/planner-ros eval perception --scenes 20

$(TRAIN_VENV)/.installed: requirements/train.txt
	$(SYSTEM_PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/pip install -q -r requirements/train.txt
	touch $@

train-env: $(TRAIN_VENV)/.installed

# Rebuild the embedded detector from scratch: render the data set, train, export models/*.onnx (~90 min here).
detector: setup train-env
	rm -rf $(DATASET)
	$(PYTHON) scripts/detector/export_dataset.py $(DATASET) --train-seeds 380 --val-seeds 40
	$(TRAIN_VENV)/bin/python scripts/detector/train.py $(DATASET) --out models --epochs 11

clean:
	rm -rf $(VENV) $(TRAIN_VENV) build install log runs
