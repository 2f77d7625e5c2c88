# planner_ros: `make demo` and `make test` set up what is missing first (see README).
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
SYSTEM_PYTHON ?= python3
# Detector training environment: torch + torchvision + ultralytics (~6 GB), kept out of the runtime venv.
TRAIN_VENV ?= .venv-train
DATASET ?= build/detector_dataset
FRAMES_DATASET ?= build/detector_frames
BIN_DATASET ?= build/detector_bin_frames
# DDS hygiene: discovery never leaves this machine. Each run picks its own ROS_DOMAIN_ID (planner_ros.ros_env).
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST

.PHONY: setup lock test test-unit demo bench bench-full bench-planner eval-perception eval-scene-graph train-env detector detector-gpu detector-bin clean

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
	$(PYTHON) benchmarks/bench_scene_graph.py
	$(PYTHON) benchmarks/bench_planner_overhead.py
	$(VENV)/bin/planner-ros bench

# Every scenario under every configuration, with the full-size perception and scene-graph evaluations
# (about 3.5 hours on 2 cores per held-out seed).
bench-full: setup
	$(VENV)/bin/planner-ros bench --full

# Only the shipped planner on the task suite's 60 scenarios at the task files' own seeds (about 45 min).
bench-planner: setup
	$(VENV)/bin/planner-ros bench --full --suite-seeds --configurations full --no-stages

eval-perception: setup
	$(VENV)/bin/planner-ros eval perception --scenes 20

eval-scene-graph: setup
	$(VENV)/bin/planner-ros eval scene-graph --scenes 10 --episodes 10

$(TRAIN_VENV)/.installed: requirements/train.txt
	$(SYSTEM_PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/pip install -q -r requirements/train.txt
	touch $@

train-env: $(TRAIN_VENV)/.installed

# The embedded detector's four training stages (README, "The embedded detector"). Stage 1 from random weights
# on 320x320 crops (CPU, ~96 min here); `make detector detector-gpu detector-bin` redoes the shipped weights.
detector: setup train-env
	rm -rf $(DATASET)
	$(PYTHON) scripts/detector/export_dataset.py $(DATASET) --train-seeds 380 --val-seeds 40
	$(TRAIN_VENV)/bin/python scripts/detector/train.py $(DATASET) --out models --epochs 11

# Stages 2 and 3 continue from models/sim_kitchen_yolov8n.pt on whole 640x480 frames; needs a CUDA GPU (~9 min
# on an H200 with 16 cores, MUJOCO_GL=egl; rendering alone would take ~35 min on 2 cores with OSMesa).
detector-gpu: setup train-env
	rm -rf $(FRAMES_DATASET)
	$(PYTHON) scripts/detector/export_dataset.py $(FRAMES_DATASET) --crop 0 --train-seeds 1628 --val-seeds 40
	$(TRAIN_VENV)/bin/python scripts/detector/train.py $(FRAMES_DATASET) --out models \
	  --init models/sim_kitchen_yolov8n.pt --device 0 --imgsz 640 --batch 64 --workers 16 --cache ram --epochs 13 --no-export
	$(TRAIN_VENV)/bin/python scripts/detector/train.py $(FRAMES_DATASET) --out models \
	  --init models/sim_kitchen_yolov8n.pt --device 0 --imgsz 640 --batch 64 --workers 16 --cache ram --epochs 9 \
	  --lr0 0.0005 --no-export
	$(TRAIN_VENV)/bin/python scripts/detector/train.py --export-only models

# Stage 4 continues on whole frames of 400 scenes with 1-3 objects in the bin (where no earlier stage put any),
# on the CPU: ~6 min rendering and 1 h training on 2 cores (the time limit ends it, a little into a fifth epoch).
# With --hours, ultralytics fits the epochs to the time after the first; --epochs 2 only makes it close mosaic at
# once, so every epoch sees frames as deployed.
detector-bin: setup train-env
	rm -rf $(BIN_DATASET)
	$(PYTHON) scripts/detector/export_dataset.py $(BIN_DATASET) --crop 0 --train-seeds 400 --val-seeds 40 --in-bin 3
	$(TRAIN_VENV)/bin/python scripts/detector/train.py $(BIN_DATASET) --out models --init models/sim_kitchen_yolov8n.pt \
	  --imgsz 640 --batch 8 --epochs 2 --hours 1.0 --lr0 0.0001 --warmup-epochs 0

clean:
	rm -rf $(VENV) $(TRAIN_VENV) build install log runs
