import random

import pytest

from planner_ros.ros_env import DOMAIN_ID_RANGE, describe, isolated_env, pick_domain_id


def test_isolated_env_is_localhost_with_a_domain():
    env = isolated_env({"ROS_STATIC_PEERS": "10.0.0.2", "PATH": "/bin"})
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert int(env["ROS_DOMAIN_ID"]) in DOMAIN_ID_RANGE
    assert "ROS_STATIC_PEERS" not in env and env["PATH"] == "/bin"


def test_inherited_domain_is_kept_and_explicit_wins():
    assert isolated_env({"ROS_DOMAIN_ID": "42"})["ROS_DOMAIN_ID"] == "42"
    assert isolated_env({"ROS_DOMAIN_ID": "42"}, domain_id=7)["ROS_DOMAIN_ID"] == "7"
    with pytest.raises(ValueError, match="ROS domain id 0 outside"):
        isolated_env({}, domain_id=0)


def test_domain_ids_spread():
    rng = random.Random(3)
    assert len({pick_domain_id(rng) for _ in range(200)}) > 50
    assert describe({}) == "ROS_DOMAIN_ID=0 (default) discovery=SUBNET (default)"
