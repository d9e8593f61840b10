"""Fixtures for the perception tests: a tiny hand-built ONNX graph with DA3's input/output contract.

The graph is real (onnxruntime runs it through the real worker, shared memory and alignment), but it
is not DA3: its depth is a known constant plane per view and its extrinsics are the known poses of a
synthetic scene, so the service's output can be checked against the truth. The real DA3 path
(random weights, export, torch vs onnxruntime) is tested in test_models_da3.py (marker `models`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from spatialclaw_ros.frames.types import CameraModel, Frame
from spatialclaw_ros.perception import engines


def write_contract_onnx(path: Path, views: int, h: int, w: int, plane: np.ndarray, extrinsics: np.ndarray,
                        focal: float = 100.0) -> None:
    """A (1, views, 3, h, w) -> depth/depth_conf/extrinsics/intrinsics graph with known outputs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    plane = np.asarray(plane, np.float32).reshape(1, views, 1, 1)
    K = np.tile(np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]], np.float32), (1, views, 1, 1))
    inits = [numpy_helper.from_array(plane, "plane"), numpy_helper.from_array(np.float32(0.0).reshape(()), "zero"),
             numpy_helper.from_array(np.asarray(extrinsics, np.float32).reshape(1, views, 3, 4), "extr"),
             numpy_helper.from_array(K, "K")]
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["m"], axes=[2], keepdims=0),          # (1, N, H, W)
        helper.make_node("Mul", ["m", "zero"], ["m0"]),
        helper.make_node("Add", ["m0", "plane"], ["depth"]),                           # broadcast (1, N, 1, 1)
        helper.make_node("Sigmoid", ["m"], ["depth_conf"]),
        helper.make_node("Identity", ["extr"], ["extrinsics"]),
        helper.make_node("Identity", ["K"], ["intrinsics"]),
    ]
    graph = helper.make_graph(
        nodes, "da3_contract_test",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, views, 3, h, w])],
        [helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, views, h, w]),
         helper.make_tensor_value_info("depth_conf", TensorProto.FLOAT, [1, views, h, w]),
         helper.make_tensor_value_info("extrinsics", TensorProto.FLOAT, [1, views, 3, 4]),
         helper.make_tensor_value_info("intrinsics", TensorProto.FLOAT, [1, views, 3, 3])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def install_contract_model(engine_dir: Path, model: str, views: int, h: int, w: int, plane: np.ndarray,
                           extrinsics: np.ndarray) -> engines.ModelManifest:
    """Write the graph and its manifest where the service looks for ``model``."""
    d = engines.model_dir(engine_dir, model)
    d.mkdir(parents=True, exist_ok=True)
    write_contract_onnx(d / engines.ONNX_FILE, views, h, w, plane, extrinsics)
    man = engines.ModelManifest(model=model, family="da3", onnx=engines.ONNX_FILE,
                                onnx_sha256=engines.sha256_file(d / engines.ONNX_FILE),
                                input_shapes={"image": [1, views, 3, h, w]}, checkpoint="(hand-built test graph)",
                                random_weights=True, process_res=max(h, w))
    man.save(d)
    return man


H, W = 48, 64            # frame size
VIEWS, NH, NW = 4, 42, 56  # export size (multiples of 14)
DA3_SCALE = 0.5          # metres per DA3 unit in the synthetic scene


def da3_scene(n: int = 3, seed: int = 0):
    """Frames with TF poses, their truth, DA3-world extrinsics (padded to VIEWS) and true plane depths."""
    rng = np.random.default_rng(seed)
    truth = []
    for i in range(n):
        T = np.eye(4)
        T[:3, :3] = Rotation.from_rotvec(rng.normal(size=3) * 0.3).as_matrix()
        T[:3, 3] = [0.4 * i, 0.1 * i * i, 1.0 + 0.2 * i]
        truth.append(T)
    inv0 = np.linalg.inv(truth[0])
    extr = []
    for T in truth + [truth[-1]] * (VIEWS - n):
        rel = inv0 @ T
        rel[:3, 3] /= DA3_SCALE
        extr.append(np.linalg.inv(rel)[:3, :4])
    true_depth = np.array([1.0 + 0.5 * i for i in range(n)] + [1.0] * (VIEWS - n))
    K = np.array([[50.0, 0, 32], [0, 50.0, 24], [0, 0, 1]])
    frames = [Frame(stamp_ns=10**9 * (i + 1), rgb=rng.integers(0, 255, (H, W, 3), dtype=np.uint8),
                    camera=CameraModel(W, H, K, frame_id="camera_color_optical_frame"), fixed_frame="odom",
                    T_fixed_camera=truth[i]) for i in range(n)]
    return frames, truth, np.array(extr), true_depth


def write_metric_onnx(path: Path, h: int, w: int, raw: np.ndarray, sky: np.ndarray) -> None:
    """A (1, 1, 3, h, w) -> depth/sky graph with da3metric-large's contract and known (h, w) outputs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.asarray(raw, np.float32).reshape(1, 1, h, w), "raw"),
             numpy_helper.from_array(np.asarray(sky, np.float32).reshape(1, 1, h, w), "skymap"),
             numpy_helper.from_array(np.float32(0.0).reshape(()), "zero")]
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["m"], axes=[2], keepdims=1),          # (1, 1, 1, H, W)
        helper.make_node("Squeeze", ["m", "ax"], ["m2"]),                                # (1, 1, H, W)
        helper.make_node("Mul", ["m2", "zero"], ["m0"]),
        helper.make_node("Add", ["m0", "raw"], ["depth"]),
        helper.make_node("Add", ["m0", "skymap"], ["sky"]),
    ]
    inits.append(numpy_helper.from_array(np.array([2], np.int64), "ax"))
    graph = helper.make_graph(
        nodes, "da3metric_contract_test",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 3, h, w])],
        [helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, 1, h, w]),
         helper.make_tensor_value_info("sky", TensorProto.FLOAT, [1, 1, h, w])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def install_metric_model(engine_dir: Path, h: int, w: int, raw: np.ndarray, sky: np.ndarray) -> engines.ModelManifest:
    """Write the metric graph and its manifest where the service looks for da3metric-large."""
    d = engines.model_dir(engine_dir, "da3metric-large")
    d.mkdir(parents=True, exist_ok=True)
    write_metric_onnx(d / engines.ONNX_FILE, h, w, raw, sky)
    man = engines.ModelManifest(model="da3metric-large", family="da3metric", onnx=engines.ONNX_FILE,
                                onnx_sha256=engines.sha256_file(d / engines.ONNX_FILE),
                                input_shapes={"image": [1, 1, 3, h, w]}, checkpoint="(hand-built test graph)",
                                random_weights=True, metric=True, process_res=max(h, w))
    man.save(d)
    return man
