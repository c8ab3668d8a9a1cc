"""Convert a small TensorFlow Lite convolutional graph to ONNX.

The face detector's weights ship only as a ``.tflite`` file, and TensorFlow
(or Google's LiteRT runtime, a 20 MB wheel) is too heavy a dependency for one
small model when ONNX Runtime is already here for the label classifier. This
module rewrites the graph op by op with :mod:`onnx.helper`, once, at set-up.

It covers the operators BlazeFace uses (convolutions, residual adds, channel
padding, max pooling, bilinear up-sampling, the final reshape) and refuses
anything else by name rather than producing a model that silently differs.

TFLite works in NHWC and ONNX in NCHW: the ONNX model takes an NCHW input,
keeps every tensor NCHW, and transposes back to NHWC only where a reshape
relies on TFLite's memory order. Constant weights stored as float16 behind a
DEQUANTIZE op are folded to float32 here, so ONNX Runtime never sees float16.

The flatbuffer is read with the ``tflite`` package (Apache-2.0, generated from
TensorFlow's schema; needs only ``flatbuffers`` and NumPy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Opset 17 and IR 8 load in every ONNX Runtime release of the last few years;
# nothing here needs a newer operator.
OPSET = 17
IR_VERSION = 8

_TFLITE_DTYPES: dict[int, Any] = {
    0: np.float32,
    1: np.float16,
    2: np.int32,
    3: np.uint8,
    4: np.int64,
    9: np.int8,
}

_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)


class ConversionError(Exception):
    """The TFLite graph uses something this converter does not translate."""


@dataclass(frozen=True)
class _Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: Any
    constant: np.ndarray | None


def convert(tflite_bytes: bytes, *, graph_name: str = "converted") -> onnx.ModelProto:
    """Return an ONNX model computing the same outputs as the TFLite model.

    Inputs become NCHW float32 tensors with the TFLite input names; outputs
    keep the TFLite names and shapes.
    """
    return _Converter(tflite_bytes, graph_name).run()


class _Converter:
    def __init__(self, tflite_bytes: bytes, graph_name: str) -> None:
        import tflite

        self._tfl = tflite
        self._model = tflite.Model.GetRootAsModel(tflite_bytes, 0)
        if self._model.SubgraphsLength() != 1:
            raise ConversionError("Only single-subgraph models are supported.")
        self._graph = self._model.Subgraphs(0)
        self._graph_name = graph_name
        self._op_names = {
            value: key for key, value in vars(tflite.BuiltinOperator).items() if key.isupper()
        }
        self._nodes: list[onnx.NodeProto] = []
        self._initializers: list[TensorProto] = []
        # Constant values known at conversion time, by TFLite tensor index:
        # weights, biases, shapes and the float32 results of DEQUANTIZE.
        self._constants: dict[int, np.ndarray] = {}
        self._tensors = [self._read_tensor(i) for i in range(self._graph.TensorsLength())]
        for index, tensor in enumerate(self._tensors):
            if tensor.constant is not None:
                self._constants[index] = tensor.constant
        self._unique = 0

    # -- reading ---------------------------------------------------------

    def _read_tensor(self, index: int) -> _Tensor:
        tensor = self._graph.Tensors(index)
        type_code = tensor.Type()
        if type_code not in _TFLITE_DTYPES:
            raise ConversionError(f"Tensor type {type_code} is not supported.")
        dtype = _TFLITE_DTYPES[type_code]
        shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        buffer = self._model.Buffers(tensor.Buffer())
        constant = None
        if buffer is not None and buffer.DataLength():
            raw = buffer.DataAsNumpy().tobytes()
            constant = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        name = tensor.Name().decode("utf-8") or f"tensor_{index}"
        return _Tensor(name=name, shape=shape, dtype=dtype, constant=constant)

    def _options(self, operator: Any, options_class: Any) -> Any:
        table = operator.BuiltinOptions()
        options = options_class()
        options.Init(table.Bytes, table.Pos)
        return options

    # -- writing ---------------------------------------------------------

    def _fresh(self, hint: str) -> str:
        self._unique += 1
        return f"{hint}__{self._unique}"

    def _initializer(self, array: np.ndarray, hint: str) -> str:
        name = self._fresh(hint)
        self._initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def _node(self, op_type: str, inputs: list[str], output: str, **attributes: Any) -> None:
        self._nodes.append(
            helper.make_node(op_type, inputs, [output], name=self._fresh(op_type), **attributes)
        )

    def _activation(self, code: int, value: str, output: str) -> None:
        """Apply TFLite's fused activation, writing ``output``."""
        if code == 0:
            self._node("Identity", [value], output)
        elif code == 1:
            self._node("Relu", [value], output)
        elif code == 3:
            self._node("Clip", [value, self._scalar(0.0), self._scalar(6.0)], output)
        else:
            raise ConversionError(f"Fused activation {code} is not supported.")

    def _scalar(self, value: float) -> str:
        return self._initializer(np.array(value, dtype=np.float32), "scalar")

    def _same_pads(
        self,
        in_hw: tuple[int, int],
        kernel: tuple[int, int],
        stride: tuple[int, int],
        dilation: tuple[int, int],
    ) -> list[int]:
        """Explicit ONNX pads for TensorFlow's SAME padding.

        TensorFlow puts the odd pixel at the end (bottom/right); computing the
        pads from the static shapes avoids depending on auto_pad semantics.
        """
        begins, ends = [], []
        for size, k, s, d in zip(in_hw, kernel, stride, dilation, strict=True):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            begins.append(total // 2)
            ends.append(total - total // 2)
        return begins + ends

    # -- operators -------------------------------------------------------

    def run(self) -> onnx.ModelProto:
        for op_index in range(self._graph.OperatorsLength()):
            operator = self._graph.Operators(op_index)
            code = self._model.OperatorCodes(operator.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            op_name = self._op_names.get(builtin, str(builtin))
            handler = getattr(self, f"_op_{op_name.lower()}", None)
            if handler is None:
                raise ConversionError(f"TFLite operator {op_name} is not supported.")
            inputs = [int(i) for i in operator.InputsAsNumpy()]
            outputs = [int(i) for i in operator.OutputsAsNumpy()]
            handler(operator, inputs, outputs)
        return self._model_proto()

    def _name(self, index: int) -> str:
        return self._tensors[index].name

    def _op_dequantize(self, operator: Any, inputs: list[int], outputs: list[int]) -> None:
        source = self._constants.get(inputs[0])
        if source is None or source.dtype != np.float16:
            raise ConversionError("Only DEQUANTIZE of constant float16 weights is supported.")
        self._constants[outputs[0]] = source.astype(np.float32)

    def _conv_weights(
        self, inputs: list[int], *, depthwise: bool
    ) -> tuple[str, str | None, tuple[int, int]]:
        weights = self._constants[inputs[1]]
        # TFLite keeps depthwise kernels as [1, kh, kw, channels * multiplier]
        # and others as [out, kh, kw, in]; ONNX wants [out, in / group, kh, kw].
        axes = (3, 0, 1, 2) if depthwise else (0, 3, 1, 2)
        onnx_weights = weights.transpose(axes)
        weight_name = self._initializer(onnx_weights.astype(np.float32), "weight")
        bias_name = None
        if len(inputs) > 2 and inputs[2] >= 0:
            bias_name = self._initializer(self._constants[inputs[2]].astype(np.float32), "bias")
        return weight_name, bias_name, (int(weights.shape[1]), int(weights.shape[2]))

    def _op_conv_2d(self, operator: Any, inputs: list[int], outputs: list[int]) -> None:
        options = self._options(operator, self._tfl.Conv2DOptions)
        self._convolution(operator, inputs, outputs, options, group=1, depthwise=False)

    def _op_depthwise_conv_2d(self, operator: Any, inputs: list[int], outputs: list[int]) -> None:
        options = self._options(operator, self._tfl.DepthwiseConv2DOptions)
        channels = self._tensors[inputs[0]].shape[3]
        self._convolution(operator, inputs, outputs, options, group=channels, depthwise=True)

    def _convolution(
        self,
        operator: Any,
        inputs: list[int],
        outputs: list[int],
        options: Any,
        *,
        group: int,
        depthwise: bool,
    ) -> None:
        weight, bias, kernel = self._conv_weights(inputs, depthwise=depthwise)
        stride = (options.StrideH(), options.StrideW())
        dilation = (options.DilationHFactor(), options.DilationWFactor())
        in_shape = self._tensors[inputs[0]].shape
        pads = (
            self._same_pads((in_shape[1], in_shape[2]), kernel, stride, dilation)
            if options.Padding() == self._tfl.Padding.SAME
            else [0, 0, 0, 0]
        )
        conv_out = self._fresh(self._name(outputs[0]) + "_linear")
        conv_inputs = [self._name(inputs[0]), weight] + ([bias] if bias else [])
        self._node(
            "Conv",
            conv_inputs,
            conv_out,
            kernel_shape=list(kernel),
            strides=list(stride),
            dilations=list(dilation),
            pads=pads,
            group=group,
        )
        self._activation(options.FusedActivationFunction(), conv_out, self._name(outputs[0]))

    def _op_relu(self, operator: Any, inputs: list[int], outputs: list[int]) -> None:
        self._node("Relu", [self._name(inputs[0])], self._name(outputs[0]))

    def _op_add(self, operator: Any, inputs: list[int], outputs: list[int]) -> None:
        options = self._options(operator, self._tfl.AddOptions)
        if any(index in self._constants for index in inputs):
            raise ConversionError("ADD with a constant operand is not supported.")
        summed = self._fresh(self._name(outputs[0]) + "_sum")
        self._node("Add", [self._name(inputs[0]), self._name(inputs[1])], summed)
        self._activation(options.FusedActivationFunction(), summed, self._name(outputs[0]))

    def _op_pad(self, operator: Any, inputs: list[int], outputs: list[int]) -> None:
        paddings = self._constants[inputs[1]].astype(np.int64)  # NHWC rows of (before, after)
        nchw = paddings[list(_NHWC_TO_NCHW)]
        pads = self._initializer(np.concatenate([nchw[:, 0], nchw[:, 1]]), "pads")
        self._node("Pad", [self._name(inputs[0]), pads], self._name(outputs[0]), mode="constant")

    def _op_max_pool_2d(self, operator: Any, inputs: list[int], outputs: list[int]) -> None:
        options = self._options(operator, self._tfl.Pool2DOptions)
        kernel = (options.FilterHeight(), options.FilterWidth())
        stride = (options.StrideH(), options.StrideW())
        in_shape = self._tensors[inputs[0]].shape
        if options.Padding() == self._tfl.Padding.SAME:
            pads = self._same_pads((in_shape[1], in_shape[2]), kernel, stride, (1, 1))
            if any(pads):
                # ONNX pads max pooling with -inf like TensorFlow, but keep the
                # converter honest about what it has been checked against.
                raise ConversionError("MAX_POOL_2D with non-zero SAME padding is not supported.")
        pooled = self._fresh(self._name(outputs[0]) + "_pool")
        self._node(
            "MaxPool",
            [self._name(inputs[0])],
            pooled,
            kernel_shape=list(kernel),
            strides=list(stride),
        )
        self._activation(options.FusedActivationFunction(), pooled, self._name(outputs[0]))

    def _op_resize_bilinear(self, operator: Any, inputs: list[int], outputs: list[int]) -> None:
        options = self._options(operator, self._tfl.ResizeBilinearOptions)
        if options.AlignCorners():
            mode = "align_corners"
        elif options.HalfPixelCenters():
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        out_shape = self._tensors[outputs[0]].shape
        sizes = self._initializer(
            np.array([out_shape[i] for i in _NHWC_TO_NCHW], dtype=np.int64), "sizes"
        )
        self._node(
            "Resize",
            [self._name(inputs[0]), "", "", sizes],
            self._name(outputs[0]),
            mode="linear",
            coordinate_transformation_mode=mode,
        )

    def _op_reshape(self, operator: Any, inputs: list[int], outputs: list[int]) -> None:
        # TFLite reshapes NHWC memory, so go back to that order first.
        nhwc = self._fresh(self._name(inputs[0]) + "_nhwc")
        self._node("Transpose", [self._name(inputs[0])], nhwc, perm=list(_NCHW_TO_NHWC))
        shape = self._initializer(
            np.array(self._tensors[outputs[0]].shape, dtype=np.int64), "shape"
        )
        self._node("Reshape", [nhwc, shape], self._name(outputs[0]))

    # -- assembling ------------------------------------------------------

    def _model_proto(self) -> onnx.ModelProto:
        graph_inputs = []
        for j in range(self._graph.InputsLength()):
            tensor = self._tensors[self._graph.Inputs(j)]
            if len(tensor.shape) != 4 or tensor.dtype is not np.float32:
                raise ConversionError("Only float32 NHWC image inputs are supported.")
            nchw = [tensor.shape[i] for i in _NHWC_TO_NCHW]
            graph_inputs.append(helper.make_tensor_value_info(tensor.name, TensorProto.FLOAT, nchw))
        graph_outputs = []
        for j in range(self._graph.OutputsLength()):
            tensor = self._tensors[self._graph.Outputs(j)]
            graph_outputs.append(
                helper.make_tensor_value_info(tensor.name, TensorProto.FLOAT, list(tensor.shape))
            )
        graph = helper.make_graph(
            self._nodes,
            self._graph_name,
            graph_inputs,
            graph_outputs,
            initializer=self._initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="findlabels.tflite_onnx",
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model
