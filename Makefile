# planner_ros: `make demo` and `make test` set up what is missing first (see README).
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
SYSTEM_PYTHON ?= python3
# DDS hygiene: discovery never leaves this machine. Each run picks its own ROS_DOMAIN_ID (planner_ros.ros_env).
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST

.PHONY: setup lock test test-unit demo bench clean

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

clean:
	rm -rf $(VENV) build install log runs
