"""`planner-ros bench`: the whole loop and its baselines on the task suite of the embedded world.

configs: the planner configurations compared and how a parameters file picks the backends;
episode: one episode in the simulator, judged on ground truth, with every verifier verdict audited;
report: the aggregate figures, intervals, markdown table and plots (pure, no simulator);
runner: the episode list (scenarios x held-out seeds x configurations), parallel workers, resume.
"""
