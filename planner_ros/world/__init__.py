"""Worlds that execute skills: the symbolic household here; the MuJoCo kitchen joins with the simulator."""
