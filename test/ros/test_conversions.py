"""planner_ros.conversions against the real ROS message classes (no rclpy.init needed).

ROS is imported unconditionally on purpose: a missing ROS install must fail here, not skip.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion, Transform, Vector3
from planner_ros_interfaces.action import ExecuteSkill
from planner_ros_interfaces.msg import SkillArgument, SkillFailure
from sensor_msgs.msg import CameraInfo, Image

import planner_ros.conversions as cs
from planner_ros.conversions import (
    SUPPORTED_ENCODINGS,
    ImageConversionError,
    camera_info_to_intrinsics,
    core_to_pose,
    core_to_transform,
    depth_to_metres,
    image_to_numpy,
    intrinsics_to_camera_info,
    numpy_to_image,
    pose_to_core,
    seconds_to_time,
    time_to_seconds,
    transform_to_core,
)
from planner_ros.geometry import CameraIntrinsics, Pose3D
from planner_ros.skills import DEFAULT_SKILLS, FailureCode, SkillOutcome, SkillValidationError

# encoding -> (dtype, channels), written out independently of the module under test.
ENCODINGS = {
    "rgb8": (np.uint8, 3),
    "bgr8": (np.uint8, 3),
    "rgba8": (np.uint8, 4),
    "bgra8": (np.uint8, 4),
    "mono8": (np.uint8, 1),
    "mono16": (np.uint16, 1),
    "8UC1": (np.uint8, 1),
    "8UC3": (np.uint8, 3),
    "16UC1": (np.uint16, 1),
    "32FC1": (np.float32, 1),
    "64FC1": (np.float64, 1),
}


def _sample(encoding: str, height: int = 5, width: int = 7, seed: int = 0) -> np.ndarray:
    dtype, channels = ENCODINGS[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.floating):
        return rng.normal(size=shape).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True, dtype=dtype)


def _padded_msg(arr: np.ndarray, encoding: str, pad_bytes: int, big_endian: bool = False) -> Image:
    """Hand-built Image with `pad_bytes` of junk after every row, independent of numpy_to_image."""
    wire = arr.astype(arr.dtype.newbyteorder(">" if big_endian else "<"))
    rows = wire.reshape(arr.shape[0], -1).view(np.uint8)
    junk = np.full((arr.shape[0], pad_bytes), 0xAB, dtype=np.uint8)
    data = np.hstack([rows, junk])
    msg = Image(height=arr.shape[0], width=arr.shape[1], encoding=encoding, is_bigendian=int(big_endian))
    msg.step = data.shape[1]
    msg.data = data.tobytes()
    return msg


def test_encoding_table_matches_module() -> None:
    assert set(SUPPORTED_ENCODINGS) == set(ENCODINGS)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_round_trip_every_encoding(encoding: str) -> None:
    arr = _sample(encoding)
    stamp = Time(sec=12, nanosec=345)
    msg = numpy_to_image(arr, encoding, stamp=stamp, frame_id="camera_optical")
    dtype, channels = ENCODINGS[encoding]
    assert (msg.height, msg.width, msg.encoding) == (5, 7, encoding)
    assert msg.step == 7 * np.dtype(dtype).itemsize * channels
    assert len(msg.data) == msg.step * msg.height
    assert msg.header.stamp == stamp and msg.header.frame_id == "camera_optical"
    back = image_to_numpy(msg)
    assert back.dtype == dtype and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_padded_step_every_encoding(encoding: str) -> None:
    arr = _sample(encoding, seed=1)
    msg = _padded_msg(arr, encoding, pad_bytes=11)  # odd padding: rows start misaligned for >1-byte types
    back = image_to_numpy(msg)
    np.testing.assert_array_equal(back, arr)
    assert back.flags.c_contiguous and back.flags.writeable


@pytest.mark.parametrize(("encoding", "pad"), [("16UC1", 0), ("32FC1", 0), ("16UC1", 4), ("32FC1", 8)])
def test_big_endian(encoding: str, pad: int) -> None:
    arr = _sample(encoding, seed=2)
    msg = _padded_msg(arr, encoding, pad_bytes=pad, big_endian=True)
    back = image_to_numpy(msg)
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, arr)


def test_unpadded_native_result_is_read_only_view() -> None:
    arr = _sample("rgb8")
    msg = numpy_to_image(arr, "rgb8")
    view = image_to_numpy(msg)
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0, 0, 0] = 1
    assert np.shares_memory(view, np.frombuffer(msg.data, dtype=np.uint8))


def test_numpy_to_image_accepts_non_contiguous_and_big_endian_arrays() -> None:
    arr = _sample("32FC1", height=6, width=8)
    np.testing.assert_array_equal(image_to_numpy(numpy_to_image(arr[::2, ::-1], "32FC1")), arr[::2, ::-1])
    msg = numpy_to_image(arr.astype(">f4"), "32FC1")
    np.testing.assert_array_equal(image_to_numpy(msg), arr)
    mono = image_to_numpy(numpy_to_image(arr[:, :, None], "32FC1"))
    np.testing.assert_array_equal(mono, arr)


def test_exact_sizes_accepted() -> None:
    msg = Image(height=5, width=7, encoding="rgb8", step=21)
    msg.data = bytes(105)
    assert image_to_numpy(msg).shape == (5, 7, 3)


@pytest.mark.parametrize(
    ("step", "data_len", "pattern"),
    [
        (20, 140, r"rgb8.*width=7 height=5 step=20.*step >= 21.*data length 140"),
        (21, 104, r"rgb8.*width=7 height=5 step=21.*step\*height = 105.*data length 104"),
    ],
)
def test_mismatched_sizes_raise(step: int, data_len: int, pattern: str) -> None:
    msg = Image(height=5, width=7, encoding="rgb8", step=step)
    msg.data = bytes(data_len)
    with pytest.raises(ImageConversionError, match=pattern):
        image_to_numpy(msg)


def test_unknown_encoding_raises_listing_supported() -> None:
    msg = Image(height=1, width=1, encoding="yuv422", step=2)
    msg.data = bytes(2)
    with pytest.raises(ImageConversionError, match=r"'yuv422'.*rgb8.*64FC1"):
        image_to_numpy(msg)
    with pytest.raises(ImageConversionError, match=r"'RGB8'"):
        numpy_to_image(np.zeros((2, 2, 3), np.uint8), "RGB8")
    assert issubclass(ImageConversionError, ValueError)


@pytest.mark.parametrize(
    ("array", "encoding", "pattern"),
    [
        (np.zeros((4, 4), np.float64), "32FC1", r"32FC1.*float32.*float64"),
        (np.zeros((4, 4, 3), np.uint16), "rgb8", r"rgb8.*uint8.*uint16"),
        (np.zeros((4, 4, 4), np.uint8), "rgb8", r"rgb8.*\(H, W, 3\).*\(4, 4, 4\)"),
        (np.zeros((4, 4), np.uint8), "bgra8", r"bgra8.*\(H, W, 4\).*\(4, 4\)"),
        (np.zeros((4, 4, 2), np.uint8), "mono8", r"mono8.*\(H, W\).*\(4, 4, 2\)"),
    ],
)
def test_numpy_to_image_validates(array: np.ndarray, encoding: str, pattern: str) -> None:
    with pytest.raises(ImageConversionError, match=pattern):
        numpy_to_image(array, encoding)


def test_depth_16uc1_millimetres_to_metres() -> None:
    raw = np.array([[0, 1000, 1234], [65535, 0, 1]], dtype=np.uint16)
    depth = depth_to_metres(numpy_to_image(raw, "16UC1"))
    assert depth.dtype == np.float32 and depth.shape == (2, 3)
    assert np.isnan(depth[0, 0]) and np.isnan(depth[1, 1])
    np.testing.assert_allclose(depth[~np.isnan(depth)], [1.0, 1.234, 65.535, 0.001], rtol=1e-7)


def test_depth_32fc1_as_is_and_other_encodings_rejected() -> None:
    metres = np.array([[0.5, np.nan], [2.0, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(depth_to_metres(numpy_to_image(metres, "32FC1")), metres)
    with pytest.raises(ImageConversionError, match=r"'mono16'"):
        depth_to_metres(numpy_to_image(np.zeros((2, 2), np.uint16), "mono16"))


def test_camera_info_round_trip() -> None:
    intr = CameraIntrinsics(
        width=640, height=480, fx=415.5, fy=416.25, cx=319.5, cy=239.5, frame_id="camera_optical",
        distortion_model="plumb_bob", distortion=(0.1, -0.2, 0.001, 0.002, 0.05),
    )
    stamp = Time(sec=3, nanosec=7)
    msg = intrinsics_to_camera_info(intr, stamp=stamp)
    assert isinstance(msg, CameraInfo)
    assert msg.header.stamp == stamp
    np.testing.assert_array_equal(np.reshape(msg.k, (3, 3)), intr.matrix)
    np.testing.assert_array_equal(msg.r, np.eye(3).ravel())
    np.testing.assert_array_equal(msg.p, [415.5, 0, 319.5, 0, 0, 416.25, 239.5, 0, 0, 0, 1, 0])
    assert camera_info_to_intrinsics(msg) == intr


def test_camera_info_rejects_uncalibrated_and_empty() -> None:
    uncalibrated = CameraInfo(width=640, height=480)  # K all zeros
    uncalibrated.header.frame_id = "cam"
    with pytest.raises(ValueError, match=r"'cam'.*fx.*0\.0"):
        camera_info_to_intrinsics(uncalibrated)
    msg = intrinsics_to_camera_info(CameraIntrinsics.from_vertical_fov(640, 480, 1.0))
    msg.width = 0
    with pytest.raises(ValueError, match=r"width.*0"):
        camera_info_to_intrinsics(msg)


def test_pose_and_transform_round_trip() -> None:
    q = np.array([0.1, -0.7, 0.3, 0.6])
    q /= np.linalg.norm(q)
    msg = Pose(position=Point(x=1.5, y=-2.0, z=0.25), orientation=Quaternion(x=q[0], y=q[1], z=q[2], w=q[3]))
    core = pose_to_core(msg)
    assert isinstance(core, Pose3D)
    assert core.position_m == (1.5, -2.0, 0.25)
    np.testing.assert_allclose(core.orientation_xyzw, q, atol=1e-15)
    assert core_to_pose(core) == msg

    tf = Transform(
        translation=Vector3(x=-1.0, y=0.0, z=3.0), rotation=Quaternion(x=q[0], y=q[1], z=q[2], w=q[3])
    )
    core_tf = transform_to_core(tf)
    assert core_tf == Pose3D((-1.0, 0.0, 3.0), core.orientation_xyzw)
    assert core_to_transform(core_tf) == tf
    assert pose_to_core(Pose()) == Pose3D.identity()  # default message quaternion is w = 1


def test_pose_with_zero_quaternion_raises() -> None:
    with pytest.raises(ValueError, match=r"zero norm"):
        pose_to_core(Pose(orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=0.0)))


@pytest.mark.parametrize(
    ("seconds", "sec", "nanosec"),
    [
        (0.0, 0, 0),
        (1.999999999999, 2, 0),  # fraction rounds up to 1e9 ns: must carry into sec
        (1.5, 1, 500_000_000),
        (1_700_000_000.123456, 1_700_000_000, 123_456_001),  # float64 spacing at 1.7e9 s is ~238 ns
    ],
)
def test_seconds_to_time(seconds: float, sec: int, nanosec: int) -> None:
    t = seconds_to_time(seconds)
    assert t.nanosec < 1_000_000_000
    assert t.sec == sec
    assert abs(t.nanosec - nanosec) <= 300
    assert time_to_seconds(t) == pytest.approx(seconds, abs=1e-9, rel=1e-15)


def test_time_round_trip_exact() -> None:
    t = Time(sec=5, nanosec=123_456_789)
    assert seconds_to_time(time_to_seconds(t)) == t
    almost_one = Time(sec=0, nanosec=999_999_999)
    assert seconds_to_time(time_to_seconds(almost_one)) == almost_one


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), 2.0**31])
def test_seconds_to_time_rejects(bad: float) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        seconds_to_time(bad)



# -- skills ---------------------------------------------------------------------------------------------
def test_failure_codes_match_the_message_constants():
    for code in FailureCode:
        assert getattr(SkillFailure, code.name) == code.value, code.name


def test_skill_arguments_round_trip_and_duplicates_refused():
    msgs = cs.arguments_to_msg({"object": "apple_1", "target": "fridge"})
    assert cs.arguments_from_msg(msgs) == {"object": "apple_1", "target": "fridge"}
    with pytest.raises(SkillValidationError, match="'object' is given twice") as err:
        cs.arguments_from_msg([SkillArgument(name="object", value="a"), SkillArgument(name="object", value="b")])
    assert err.value.code == FailureCode.INVALID_ARGUMENTS


def test_outcome_round_trip_and_unknown_code():
    outcome = SkillOutcome(False, FailureCode.LOCKED, "the drawer is locked", 0.5)
    assert cs.outcome_from_result(cs.outcome_to_result(outcome)) == outcome
    foreign = ExecuteSkill.Result(success=False, failure=SkillFailure(code=200, reason="vendor code"))
    assert cs.outcome_from_result(foreign).code == FailureCode.EXECUTION_ERROR


def test_skill_descriptions_carry_typed_parameters():
    msg = cs.skill_to_msg(DEFAULT_SKILLS.get("place"))
    assert [(p.name, p.type) for p in msg.parameters] == [("object", "object"), ("target", "receptacle")]
    assert "holding(object)" in msg.preconditions


def test_colour_images_of_any_channel_order_become_rgb() -> None:
    rgb = np.random.default_rng(3).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    assert np.array_equal(cs.color_to_rgb(cs.numpy_to_image(rgb, "rgb8")), rgb)
    assert np.array_equal(cs.color_to_rgb(cs.numpy_to_image(rgb[..., ::-1].copy(), "bgr8")), rgb)
    bgra = np.concatenate([rgb[..., ::-1], np.full((4, 5, 1), 255, np.uint8)], axis=2)
    assert np.array_equal(cs.color_to_rgb(cs.numpy_to_image(bgra, "bgra8")), rgb)
    with pytest.raises(cs.ImageConversionError, match="colour image must be rgb8, bgr8, rgba8 or bgra8"):
        cs.color_to_rgb(cs.numpy_to_image(rgb[..., 0].copy(), "mono8"))
