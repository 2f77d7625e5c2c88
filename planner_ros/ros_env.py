"""DDS hygiene: keep discovery on this machine and give every run its own ROS domain.

Default DDS discovery multicasts out of the machine's interfaces and domain 0 is shared by everything on
the network, so the demo, the tests and CI always run with localhost-only discovery and a domain id of
their own. Real robots spanning several machines set ROS_AUTOMATIC_DISCOVERY_RANGE themselves and use
`planner-ros bringup`, which leaves their environment alone.
"""
from __future__ import annotations

import os
import random
from collections.abc import Mapping

# 1..101 keeps every participant's ports (7400 + 250 * id + offsets) below the Linux ephemeral range.
DOMAIN_ID_RANGE = range(1, 102)


def pick_domain_id(rng: random.Random | None = None) -> int:
    """A domain id in DOMAIN_ID_RANGE; random so concurrent runs on one machine rarely share one."""
    return (rng or random.SystemRandom()).choice(DOMAIN_ID_RANGE)


def isolated_env(base: Mapping[str, str] | None = None, domain_id: int | None = None) -> dict[str, str]:
    """A copy of base (default: os.environ) with localhost-only discovery and a per-run domain id.

    An explicit domain_id wins; otherwise an inherited ROS_DOMAIN_ID is kept (CI or a Makefile chose it),
    and only when none is set is a fresh one picked.
    """
    env = dict(os.environ if base is None else base)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.pop("ROS_STATIC_PEERS", None)
    if domain_id is not None:
        if domain_id not in DOMAIN_ID_RANGE:
            raise ValueError(f"ROS domain id {domain_id} outside {DOMAIN_ID_RANGE.start}..{DOMAIN_ID_RANGE[-1]}")
        env["ROS_DOMAIN_ID"] = str(domain_id)
    elif not env.get("ROS_DOMAIN_ID"):
        env["ROS_DOMAIN_ID"] = str(pick_domain_id())
    return env


def describe(env: Mapping[str, str]) -> str:
    """One line saying how far this process's DDS traffic reaches."""
    reach = env.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET (default)")
    return f"ROS_DOMAIN_ID={env.get('ROS_DOMAIN_ID', '0 (default)')} discovery={reach}"
