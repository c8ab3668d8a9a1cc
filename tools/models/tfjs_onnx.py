"""Convert a small TensorFlow.js graph model to ONNX, with NumPy and ``onnx`` only.

The object detector's weights ship as a TFJS "graph-model" (a JSON graph plus
a binary of weights, some stored as float16). TensorFlow itself is far too
heavy to install for one conversion, and the format is simple: each node is a
TensorFlow op with named inputs and attributes, each constant a slice of the
weights file. This module rewrites the graph op by op with
:mod:`onnx.helper`, once, at set-up; the app only loads the ``.onnx`` file.

It keeps TensorFlow's layouts exactly: a TF ``Conv2D``, ``MaxPool`` or
``ResizeBilinear`` works on NHWC, so each becomes the NCHW ONNX op between
two transposes. The graph was itself produced from ONNX (onnx-tf), so it is
full of the opposite transposes; ONNX Runtime's optimiser cancels the pairs
when it loads the model. Subgraphs that only compute constants (shape
arithmetic such as ``SparseToDense`` over empty indices) are evaluated here
with NumPy, so the ONNX graph holds only the image's data path.

Anything outside the ops translated below is refused by name rather than
converted into a model that silently differs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Opset 17 and IR 8 load in every ONNX Runtime release of the last few years.
OPSET = 17
IR_VERSION = 8

_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)

_DTYPES: dict[str, Any] = {
    "float32": np.float32,
    "int32": np.int32,
    "bool": np.bool_,
}
_TF_DTYPES: dict[str, Any] = {
    "DT_FLOAT": np.float32,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_BOOL": np.bool_,
}


class ConversionError(Exception):
    """The TFJS graph uses something this converter does not translate."""


def read_weights(manifest: list[dict[str, Any]], data: bytes) -> dict[str, np.ndarray]:
    """The named constants of a TFJS weights manifest, float16 widened to float32.

    The manifest lists, in order, each weight's name, shape, dtype and optional
    quantisation; the binary is their concatenation.
    """
    weights: dict[str, np.ndarray] = {}
    offset = 0
    for group in manifest:
        for entry in group["weights"]:
            shape = tuple(int(size) for size in entry["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            quantization = entry.get("quantization")
            if quantization is None:
                stored = np.dtype(_dtype(entry["dtype"]))
            elif quantization.get("dtype") == "float16" and "scale" not in quantization:
                stored = np.dtype(np.float16)
            else:
                raise ConversionError(f"Unsupported weight quantisation {quantization!r}.")
            size = count * stored.itemsize
            if offset + size > len(data):
                raise ConversionError("The weights file is shorter than its manifest says.")
            values = np.frombuffer(data, dtype=stored, count=count, offset=offset).reshape(shape)
            weights[entry["name"]] = values.astype(_dtype(entry["dtype"]))
            offset += size
    if offset != len(data):
        raise ConversionError("The weights file is longer than its manifest says.")
    return weights


def _dtype(name: str) -> Any:
    try:
        return _DTYPES[name]
    except KeyError:
        raise ConversionError(f"Unsupported weight dtype {name!r}.") from None


def _attr_int_list(node: dict[str, Any], name: str) -> list[int]:
    return [int(value) for value in node.get("attr", {}).get(name, {}).get("list", {}).get("i", [])]


def _attr_string(node: dict[str, Any], name: str) -> str:
    raw = node.get("attr", {}).get(name, {}).get("s", "")
    return base64.b64decode(raw).decode() if raw else ""


def _attr_bool(node: dict[str, Any], name: str) -> bool:
    return bool(node.get("attr", {}).get(name, {}).get("b", False))


def _attr_float(node: dict[str, Any], name: str, default: float) -> float:
    return float(node.get("attr", {}).get(name, {}).get("f", default))


@dataclass
class _Graph:
    """The ONNX graph being built, with every tensor's static shape."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    emitted_constants: set[str] = field(default_factory=set)
    counter: int = 0

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}__{self.counter}"

    def value(self, name: str) -> str:
        """The ONNX tensor for ``name``, emitting a constant as an initializer once."""
        if name in self.constants and name not in self.emitted_constants:
            self.initializers.append(numpy_helper.from_array(self.constants[name], name))
            self.emitted_constants.add(name)
        return name

    def constant(self, name: str) -> np.ndarray:
        if name not in self.constants:
            raise ConversionError(f"{name} must be a constant for this converter.")
        return self.constants[name]

    def add(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def transpose(self, name: str, perm: tuple[int, ...]) -> str:
        output = self.fresh(name + "_t")
        self.shapes[output] = tuple(self.shapes[name][axis] for axis in perm)
        return self.add("Transpose", [name], output, perm=list(perm))


def _tensor_name(reference: str) -> str:
    """TF writes a node's first output as ``node`` or ``node:0``, others ``node:i``."""
    if reference.startswith("^"):
        raise ConversionError("Control dependencies are not supported.")
    base, _, index = reference.partition(":")
    return base if index in ("", "0") else f"{base}:{index}"


def convert(
    graph_json: dict[str, Any], weights_bin: bytes, *, graph_name: str = "converted"
) -> onnx.ModelProto:
    """The ONNX model for a TFJS graph model (``model.json`` parsed, weights bytes)."""
    if graph_json.get("format") != "graph-model":
        raise ConversionError("Only TFJS graph models are supported.")
    graph = _Graph()
    graph.constants.update(read_weights(graph_json["weightsManifest"], weights_bin))
    signature = graph_json.get("signature") or graph_json["modelTopology"].get("signature", {})
    inputs: list[onnx.ValueInfoProto] = []
    for node in graph_json["modelTopology"]["node"]:
        op = node["op"]
        name = node["name"]
        sources = [_tensor_name(reference) for reference in node.get("input", [])]
        if op == "Const":
            if name not in graph.constants:
                raise ConversionError(f"Constant {name} has no weights.")
            continue
        if op == "Placeholder":
            dims = node["attr"]["shape"]["shape"]["dim"]
            shape = tuple(int(dim["size"]) for dim in dims)
            dtype = node["attr"]["dtype"]["type"]
            if dtype != "DT_FLOAT" or any(size <= 0 for size in shape):
                raise ConversionError("The input must be float32 with a fixed shape.")
            graph.shapes[name] = shape
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
            continue
        if all(source in graph.constants for source in sources) and op in _FOLD:
            for index, result in enumerate(_FOLD[op](node, [graph.constants[s] for s in sources])):
                graph.constants[name if index == 0 else f"{name}:{index}"] = result
            continue
        translate = _TRANSLATE.get(op)
        if translate is None:
            raise ConversionError(f"TFJS op {op} ({name}) is not supported by this converter.")
        translate(graph, node, sources)
    outputs = []
    for key in sorted(signature.get("outputs", {})):
        tensor = _tensor_name(signature["outputs"][key]["name"])
        public = tensor.split(":")[0]
        if tensor != public:
            graph.add("Identity", [tensor], public)
            graph.shapes[public] = graph.shapes[tensor]
        outputs.append(
            helper.make_tensor_value_info(public, TensorProto.FLOAT, list(graph.shapes[public]))
        )
    if not outputs:
        raise ConversionError("The model signature names no outputs.")
    onnx_graph = helper.make_graph(
        graph.nodes, graph_name, inputs, outputs, initializer=graph.initializers
    )
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="findlabels-tfjs-onnx",
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


# -- constant folding (shape arithmetic) ----------------------------------------


def _fold_sparse_to_dense(node: dict[str, Any], values: list[np.ndarray]) -> list[np.ndarray]:
    indices, output_shape, sparse_values, default = values
    dense = np.full(tuple(int(v) for v in np.atleast_1d(output_shape)), default)
    # Indices are (n, rank) or, for a 1-D output, (n,); values one per index or a scalar.
    indices = indices.reshape(1, 1) if indices.ndim == 0 else indices
    indices = indices[:, np.newaxis] if indices.ndim == 1 else indices
    fill = np.broadcast_to(sparse_values, (indices.shape[0],))
    for index, value in zip(indices, fill, strict=True):
        dense[tuple(index)] = value
    return [dense.astype(np.asarray(default).dtype)]


_FOLD: dict[str, Callable[[dict[str, Any], list[np.ndarray]], list[np.ndarray]]] = {
    "SparseToDense": _fold_sparse_to_dense,
    "AddV2": lambda node, v: [np.add(v[0], v[1]).astype(v[0].dtype)],
    "Add": lambda node, v: [np.add(v[0], v[1]).astype(v[0].dtype)],
    "Identity": lambda node, v: [v[0]],
}


# -- op translations --------------------------------------------------------------


def _same_shape(graph: _Graph, node: dict[str, Any], sources: list[str]) -> str:
    graph.shapes[node["name"]] = graph.shapes[sources[0]]
    return node["name"]


def _unary(onnx_op: str, **attrs: Any) -> Callable[[_Graph, dict[str, Any], list[str]], None]:
    def translate(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
        graph.add(onnx_op, [graph.value(sources[0])], node["name"], **attrs)
        _same_shape(graph, node, sources)

    return translate


def _leaky_relu(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
    alpha = _attr_float(node, "alpha", 0.2)
    graph.add("LeakyRelu", [sources[0]], node["name"], alpha=alpha)
    _same_shape(graph, node, sources)


def _add(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
    graph.add("Add", [graph.value(s) for s in sources], node["name"])
    shapes = [graph.shapes[s] if s in graph.shapes else graph.constants[s].shape for s in sources]
    graph.shapes[node["name"]] = tuple(np.broadcast_shapes(*shapes))


def _transpose(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
    perm = tuple(int(axis) for axis in graph.constant(sources[1]))
    graph.add("Transpose", [sources[0]], node["name"], perm=list(perm))
    graph.shapes[node["name"]] = tuple(graph.shapes[sources[0]][axis] for axis in perm)


def _pad(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
    paddings = graph.constant(sources[1]).astype(np.int64)
    pads_name = graph.fresh(node["name"] + "_pads")
    graph.constants[pads_name] = np.concatenate([paddings[:, 0], paddings[:, 1]])
    inputs = [sources[0], graph.value(pads_name)]
    if node["op"] == "PadV2":
        fill = graph.constant(sources[2]).astype(np.float32).reshape(())
        fill_name = graph.fresh(node["name"] + "_fill")
        graph.constants[fill_name] = fill
        inputs.append(graph.value(fill_name))
    graph.add("Pad", inputs, node["name"], mode="constant")
    graph.shapes[node["name"]] = tuple(
        int(size + before + after)
        for size, (before, after) in zip(graph.shapes[sources[0]], paddings, strict=True)
    )


def _check_valid_nhwc(node: dict[str, Any]) -> tuple[int, int]:
    if _attr_string(node, "padding") != "VALID":
        raise ConversionError(f"{node['name']}: only VALID padding is supported.")
    if (_attr_string(node, "data_format") or "NHWC") != "NHWC":
        raise ConversionError(f"{node['name']}: only NHWC is supported.")
    if any(value != 1 for value in _attr_int_list(node, "dilations")):
        raise ConversionError(f"{node['name']}: dilated convolutions are not supported.")
    strides = _attr_int_list(node, "strides") or [1, 1, 1, 1]
    return strides[1], strides[2]


def _conv2d(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
    strides = _check_valid_nhwc(node)
    kernel = graph.constant(sources[1])  # HWIO
    height, width, per_group, out_channels = kernel.shape
    batch, in_height, in_width, in_channels = graph.shapes[sources[0]]
    if in_channels % per_group:
        raise ConversionError(f"{node['name']}: channels do not divide into groups.")
    weight_name = graph.fresh(node["name"] + "_w")
    graph.constants[weight_name] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
    nchw = graph.transpose(sources[0], _NHWC_TO_NCHW)
    result = graph.fresh(node["name"] + "_nchw")
    out_h = (in_height - height) // strides[0] + 1
    out_w = (in_width - width) // strides[1] + 1
    graph.add(
        "Conv",
        [nchw, graph.value(weight_name)],
        result,
        kernel_shape=[height, width],
        strides=list(strides),
        group=in_channels // per_group,
    )
    graph.shapes[result] = (batch, out_channels, out_h, out_w)
    graph.add("Transpose", [result], node["name"], perm=list(_NCHW_TO_NHWC))
    graph.shapes[node["name"]] = (batch, out_h, out_w, out_channels)


def _max_pool(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
    strides = _check_valid_nhwc(node)
    size = _attr_int_list(node, "ksize")
    batch, in_height, in_width, channels = graph.shapes[sources[0]]
    nchw = graph.transpose(sources[0], _NHWC_TO_NCHW)
    result = graph.fresh(node["name"] + "_nchw")
    out_h = (in_height - size[1]) // strides[0] + 1
    out_w = (in_width - size[2]) // strides[1] + 1
    graph.add("MaxPool", [nchw], result, kernel_shape=size[1:3], strides=list(strides))
    graph.shapes[result] = (batch, channels, out_h, out_w)
    graph.add("Transpose", [result], node["name"], perm=list(_NCHW_TO_NHWC))
    graph.shapes[node["name"]] = (batch, out_h, out_w, channels)


def _resize_bilinear(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
    if _attr_bool(node, "align_corners"):
        mode = "align_corners"
    elif _attr_bool(node, "half_pixel_centers"):
        mode = "half_pixel"
    else:
        mode = "asymmetric"  # TF1's legacy resize
    out_h, out_w = (int(size) for size in graph.constant(sources[1]))
    batch, _, _, channels = graph.shapes[sources[0]]
    nchw = graph.transpose(sources[0], _NHWC_TO_NCHW)
    sizes_name = graph.fresh(node["name"] + "_sizes")
    graph.constants[sizes_name] = np.array([batch, channels, out_h, out_w], dtype=np.int64)
    result = graph.fresh(node["name"] + "_nchw")
    graph.add(
        "Resize",
        [nchw, "", "", graph.value(sizes_name)],
        result,
        mode="linear",
        coordinate_transformation_mode=mode,
    )
    graph.shapes[result] = (batch, channels, out_h, out_w)
    graph.add("Transpose", [result], node["name"], perm=list(_NCHW_TO_NHWC))
    graph.shapes[node["name"]] = (batch, out_h, out_w, channels)


def _concat(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
    parts = sources[:-1]
    rank = len(graph.shapes[parts[0]])
    axis = int(graph.constant(sources[-1])) % rank
    graph.add("Concat", [graph.value(part) for part in parts], node["name"], axis=axis)
    shape = list(graph.shapes[parts[0]])
    shape[axis] = sum(graph.shapes[part][axis] for part in parts)
    graph.shapes[node["name"]] = tuple(shape)


def _split_v(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
    sizes = [int(size) for size in graph.constant(sources[1])]
    shape = graph.shapes[sources[0]]
    axis = int(graph.constant(sources[2])) % len(shape)
    if -1 in sizes:
        sizes[sizes.index(-1)] = shape[axis] - (sum(sizes) + 1)
    sizes_name = graph.fresh(node["name"] + "_split")
    graph.constants[sizes_name] = np.array(sizes, dtype=np.int64)
    names = [node["name"]] + [f"{node['name']}:{index}" for index in range(1, len(sizes))]
    graph.nodes.append(
        helper.make_node(
            "Split", [sources[0], graph.value(sizes_name)], names, name=node["name"], axis=axis
        )
    )
    for name, size in zip(names, sizes, strict=True):
        part = list(shape)
        part[axis] = size
        graph.shapes[name] = tuple(part)


def _reshape(graph: _Graph, node: dict[str, Any], sources: list[str]) -> None:
    target = [int(size) for size in graph.constant(sources[1])]
    total = int(np.prod(graph.shapes[sources[0]]))
    if -1 in target:
        known = int(np.prod([size for size in target if size != -1]))
        target[target.index(-1)] = total // known
    if 0 in target or int(np.prod(target)) != total:
        raise ConversionError(f"{node['name']}: reshape to {target} does not fit.")
    shape_name = graph.fresh(node["name"] + "_shape")
    graph.constants[shape_name] = np.array(target, dtype=np.int64)
    graph.add("Reshape", [sources[0], graph.value(shape_name)], node["name"])
    graph.shapes[node["name"]] = tuple(target)


_TRANSLATE: dict[str, Callable[[_Graph, dict[str, Any], list[str]], Any]] = {
    "Identity": _unary("Identity"),
    "Sigmoid": _unary("Sigmoid"),
    "LeakyRelu": _leaky_relu,
    "Add": _add,
    "AddV2": _add,
    "Transpose": _transpose,
    "Pad": _pad,
    "PadV2": _pad,
    "Conv2D": _conv2d,
    "MaxPool": _max_pool,
    "ResizeBilinear": _resize_bilinear,
    "ConcatV2": _concat,
    "SplitV": _split_v,
    "Reshape": _reshape,
}


def load(model_json: bytes, weights_bin: bytes, *, graph_name: str) -> onnx.ModelProto:
    """:func:`convert` from the two files' bytes."""
    try:
        graph_json = json.loads(model_json)
    except ValueError as exc:
        raise ConversionError(f"The model JSON cannot be parsed: {exc}") from exc
    return convert(graph_json, weights_bin, graph_name=graph_name)
