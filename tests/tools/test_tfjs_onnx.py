"""The TFJS graph-model to ONNX converter, on small hand-made graphs.

The real model's check against TensorFlow.js is in
tests/detection/test_objects.py; these pin down single ops against NumPy.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from tools.models import tfjs_onnx

VALID = base64.b64encode(b"VALID").decode()


def _graph(
    nodes: list[dict[str, Any]], weights: dict[str, np.ndarray], output: str
) -> tuple[dict[str, Any], bytes]:
    """A TFJS graph model: JSON with every weight float16 (floats) or int32, and its bin."""
    manifest: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, value in weights.items():
        if value.dtype == np.float32:
            chunks.append(value.astype("<f2").tobytes())
            entry: dict[str, Any] = {"name": name, "shape": list(value.shape), "dtype": "float32"}
            entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
        else:
            chunks.append(value.astype("<i4").tobytes())
            entry = {"name": name, "shape": list(value.shape), "dtype": "int32"}
        manifest.append(entry)
    consts = [{"name": name, "op": "Const"} for name in weights]
    document = {
        "format": "graph-model",
        "modelTopology": {"node": consts + nodes},
        "signature": {"outputs": {f"{output}:0": {"name": f"{output}:0"}}},
        "weightsManifest": [{"paths": ["x.bin"], "weights": manifest}],
    }
    return document, b"".join(chunks)


def _placeholder(shape: tuple[int, ...]) -> dict[str, Any]:
    dims = [{"size": str(size)} for size in shape]
    return {
        "name": "input",
        "op": "Placeholder",
        "attr": {"shape": {"shape": {"dim": dims}}, "dtype": {"type": "DT_FLOAT"}},
    }


def _run(document: dict[str, Any], data: bytes, x: np.ndarray) -> np.ndarray:
    model = tfjs_onnx.convert(document, data, graph_name="test")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def _conv_nhwc(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """Plain VALID convolution, NHWC input, HWIO kernel, as TensorFlow defines it."""
    kh, kw, _, out = kernel.shape
    height = (x.shape[1] - kh) // stride + 1
    width = (x.shape[2] - kw) // stride + 1
    result = np.zeros((1, height, width, out), dtype=np.float64)
    for i in range(height):
        for j in range(width):
            patch = x[0, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            result[0, i, j] = np.tensordot(patch, kernel, axes=([0, 1, 2], [0, 1, 2]))
    return result


def test_a_padded_strided_convolution_with_bias_and_leaky_relu_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 3, 4, 6)).astype(np.float16).astype(np.float32)
    bias = rng.normal(size=(6,)).astype(np.float16).astype(np.float32)
    weights = {
        "perm": np.array([0, 2, 3, 1], dtype=np.int32),
        "paddings": np.array([[0, 0], [1, 1], [1, 1], [0, 0]], dtype=np.int32),
        "kernel": kernel,
        "bias": bias,
    }
    nodes = [
        _placeholder((1, 4, 9, 9)),
        {"name": "nhwc", "op": "Transpose", "input": ["input", "perm"]},
        {"name": "pad", "op": "Pad", "input": ["nhwc", "paddings"]},
        {
            "name": "conv",
            "op": "Conv2D",
            "input": ["pad", "kernel"],
            "attr": {"padding": {"s": VALID}, "strides": {"list": {"i": ["1", "2", "2", "1"]}}},
        },
        {"name": "biased", "op": "Add", "input": ["conv", "bias"]},
        {"name": "out", "op": "LeakyRelu", "input": ["biased"], "attr": {"alpha": {"f": 0.1}}},
    ]
    x = rng.normal(size=(1, 4, 9, 9)).astype(np.float32)

    result = _run(*_graph(nodes, weights, "out"), x)

    padded = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (1, 1), (1, 1), (0, 0)))
    expected = _conv_nhwc(padded, kernel, 2) + bias
    expected = np.where(expected > 0, expected, 0.1 * expected)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4)


def test_a_depthwise_convolution_becomes_a_grouped_one() -> None:
    rng = np.random.default_rng(4)
    # TF's Conv2D with a kernel of 1 input channel over 3 channels: 3 groups.
    kernel = rng.normal(size=(1, 1, 1, 3)).astype(np.float16).astype(np.float32)
    nodes = [
        _placeholder((1, 2, 2, 3)),
        {
            "name": "out",
            "op": "Conv2D",
            "input": ["input", "kernel"],
            "attr": {"padding": {"s": VALID}},
        },
    ]
    x = rng.normal(size=(1, 2, 2, 3)).astype(np.float32)

    result = _run(*_graph(nodes, {"kernel": kernel}, "out"), x)

    np.testing.assert_allclose(result, x * kernel[0, 0, 0], rtol=1e-5)


def test_split_and_sigmoid_keep_their_order() -> None:
    weights = {"sizes": np.array([2, 3], dtype=np.int32), "axis": np.array(-1, dtype=np.int32)}
    nodes = [
        _placeholder((1, 4, 5)),
        {"name": "split", "op": "SplitV", "input": ["input", "sizes", "axis"]},
        {"name": "out", "op": "Sigmoid", "input": ["split:1"]},
    ]
    x = np.linspace(-3, 3, 20, dtype=np.float32).reshape(1, 4, 5)

    result = _run(*_graph(nodes, weights, "out"), x)

    np.testing.assert_allclose(result, 1 / (1 + np.exp(-x[..., 2:])), rtol=1e-6)


def test_bilinear_resize_uses_half_pixel_centres() -> None:
    weights = {"size": np.array([4, 4], dtype=np.int32)}
    nodes = [
        _placeholder((1, 2, 2, 1)),
        {
            "name": "out",
            "op": "ResizeBilinear",
            "input": ["input", "size"],
            "attr": {"half_pixel_centers": {"b": True}, "align_corners": {"b": False}},
        },
    ]
    x = np.array([0.0, 1.0, 2.0, 3.0], dtype=np.float32).reshape(1, 2, 2, 1)

    result = _run(*_graph(nodes, weights, "out"), x)

    # TF's half-pixel rule: output row 0 samples input row -0.25, clamped to 0.
    np.testing.assert_allclose(result[0, :, :, 0][0], [0.0, 0.25, 0.75, 1.0], atol=1e-6)


def test_shape_arithmetic_is_folded_to_constants() -> None:
    # onnx-tf writes a reshape target as SparseToDense over empty indices plus an add.
    weights = {
        "indices": np.zeros((0, 1), dtype=np.int32),
        "dense_shape": np.array([3], dtype=np.int32),
        "values": np.zeros((0,), dtype=np.int32),
        "default": np.array(0, dtype=np.int32),
        "target": np.array([1, 3, -1], dtype=np.int32),
    }
    nodes = [
        _placeholder((1, 6, 2)),
        {"name": "zeros", "op": "SparseToDense",
         "input": ["indices", "dense_shape", "values", "default"]},
        {"name": "shape", "op": "AddV2", "input": ["target", "zeros"]},
        {"name": "out", "op": "Reshape", "input": ["input", "shape"]},
    ]  # fmt: skip
    x = np.arange(12, dtype=np.float32).reshape(1, 6, 2)

    model = tfjs_onnx.convert(*_graph(nodes, weights, "out"), graph_name="t")

    assert [node.op_type for node in model.graph.node] == ["Reshape"]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(session.run(None, {"input": x})[0], x.reshape(1, 3, 4))


def test_it_refuses_an_op_it_does_not_translate_by_name() -> None:
    nodes = [_placeholder((1, 3)), {"name": "out", "op": "Softplus", "input": ["input"]}]

    with pytest.raises(tfjs_onnx.ConversionError, match="Softplus"):
        tfjs_onnx.convert(*_graph(nodes, {}, "out"), graph_name="t")


def test_it_refuses_a_weights_file_of_the_wrong_length() -> None:
    document, data = _graph([_placeholder((1, 3))], {"w": np.ones(4, np.float32)}, "input")

    with pytest.raises(tfjs_onnx.ConversionError, match="shorter"):
        tfjs_onnx.convert(document, data[:-2], graph_name="t")
