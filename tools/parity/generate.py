#!/usr/bin/env python3
"""Generate the PyTorch reference parity fixtures described in shared/parity/README.md.

The reference models come from segmentation_models_pytorch (smp) v0.3.3, imported from
PYTHONPATH (this file contains no smp code). Needs only numpy and torch besides smp and
its dependencies (timm 0.9.2, efficientnet-pytorch 0.7.1, pretrainedmodels 0.7.4).

Typical use, with the sources of smp v0.3.3, timm 0.9.2, efficientnet-pytorch 0.7.1 and
pretrainedmodels 0.7.4 on PYTHONPATH (plus stub `huggingface_hub`/`safetensors` modules if those
packages are missing: they are imported but not used with encoder_weights=None), and Debian's
torch 1.13 (python3-torch):

    export PYTHONPATH=$REF/smp-v0.3.3:$REF/timm-0.9.2:$REF/efficientnet-pytorch-0.7.1:$REF/pretrainedmodels-0.7.4:$REF/stubs
    /usr/bin/python3 tools/parity/generate.py --out shared/parity
    /usr/bin/python3 tools/parity/generate.py --out bars/holdout/parity --salt holdout-7 --height 160 --width 224 --batch 2

Outputs in DIR:
    inputs.safetensors, inputs.json
    <Decoder>__<encoder>.safetensors, <Decoder>__<encoder>.json   (one pair per model)
    fill-check.json
    format/dtypes.safetensors, format/dtypes.json
    manifest.json                                                  (summary of the run)
"""

import argparse
import json
import math
import os
import struct
import sys
import time
import warnings
from collections import OrderedDict

import numpy as np

DECODERS = ["Unet", "UnetPlusPlus", "FPN", "DeepLabV3Plus"]
# Decoder variants by fixture name: (smp class, extra constructor arguments). A variant's fixtures are
# named `<variant>__<encoder>`; the plain smp class names need no entry.
DECODER_VARIANTS = {
    "Unet-scse": ("Unet", {"decoder_attention_type": "scse"}),
    "UnetPlusPlus-scse": ("UnetPlusPlus", {"decoder_attention_type": "scse"}),
}


def decoder_spec(decoder):
    """(smp class name, extra constructor kwargs) of a decoder or decoder variant name."""
    return DECODER_VARIANTS.get(decoder, (decoder, {}))


def constructor_text(decoder, encoder):
    cls, kwargs = decoder_spec(decoder)
    extra = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return (f"smp.{cls}(encoder_name={encoder!r}, encoder_weights=None, in_channels=3, classes=1, "
            f"aux_params=dict(classes=3, dropout=0.5){extra})")
ENCODERS = ["resnet50", "resnext50_32x4d", "tu-wide_resnet50_2", "efficientnet-b4"]
AUX_PARAMS = dict(classes=3, dropout=0.5)
ENCODER_SAMPLE_STEP = 7
GRAD_NOISE_REL = 1e-4  # grad norms below this fraction of the median norm are rounding noise (exactly 0 in exact arithmetic)
SPREAD_MIN = 1e-2  # gradient norms whose float32 value is further than this (relative) from float64 are recorded

# --------------------------------------------------------------------------------------
# safetensors: a minimal writer and reader (no dependency on the safetensors package)
# --------------------------------------------------------------------------------------

# safetensors dtype tag -> (numpy storage dtype, itemsize)
ST_DTYPES = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),  # stored as raw 16-bit patterns
    "I64": (np.dtype("<i8"), 8),
    "I32": (np.dtype("<i4"), 4),
    "I16": (np.dtype("<i2"), 2),
    "I8": (np.dtype("i1"), 1),
    "U8": (np.dtype("u1"), 1),
    "BOOL": (np.dtype("u1"), 1),
}

NP_TO_ST = {
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int16"): "I16",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
}


def st_save(path, tensors, metadata=None):
    """Write `tensors` to `path` in the safetensors format.

    tensors: mapping name -> numpy array, or name -> (dtype_tag, numpy array) to force a tag
    (use ("BF16", uint16_bits_array) for bfloat16). Tensors are laid out sorted by
    (itemsize descending, name) so that every tensor is aligned to its itemsize.
    The JSON header is padded with spaces to a multiple of 8 bytes.
    """
    items = []
    for name, val in tensors.items():
        if name == "__metadata__":
            raise ValueError("reserved name")
        if isinstance(val, tuple):
            tag, arr = val
        else:
            arr = val
            tag = NP_TO_ST[np.dtype(arr.dtype)]
        store_dtype, itemsize = ST_DTYPES[tag]
        arr = np.ascontiguousarray(np.asarray(arr))
        if arr.dtype.itemsize != itemsize or arr.dtype.kind != store_dtype.kind:
            raise TypeError(f"{name}: array dtype {arr.dtype} does not match tag {tag}")
        arr = arr.astype(store_dtype, copy=False)  # force little-endian
        items.append((name, tag, itemsize, arr))
    items.sort(key=lambda it: (-it[2], it[0]))
    header = OrderedDict()
    if metadata:
        md = OrderedDict()
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("safetensors metadata must map str -> str")
            md[k] = v
        header["__metadata__"] = md
    offset = 0
    for name, tag, _, arr in items:
        n = arr.nbytes
        header[name] = OrderedDict(dtype=tag, shape=list(arr.shape), data_offsets=[offset, offset + n])
        offset += n
    hbytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hbytes += b" " * ((-len(hbytes)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for _, _, _, arr in items:
            f.write(arr.tobytes(order="C"))
    os.replace(tmp, path)


def st_load(path):
    """Read a safetensors file. Returns (tensors, metadata, info).

    tensors: name -> numpy array (F16 as float16, BF16 decoded to float32, others as stored).
    info: name -> (dtype_tag, shape, raw bytes).
    Checks that the data offsets tile the data region exactly, in order, without gaps.
    """
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("file too short")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError("header length beyond end of file")
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    data = blob[8 + n :]
    spans = []
    tensors, info = OrderedDict(), OrderedDict()
    for name, h in header.items():
        tag = h["dtype"]
        shape = tuple(int(s) for s in h["shape"])
        b, e = h["data_offsets"]
        store_dtype, itemsize = ST_DTYPES[tag]
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if e - b != numel * itemsize or b < 0 or e > len(data):
            raise ValueError(f"{name}: bad data_offsets {b},{e} for {tag}{list(shape)}")
        raw = data[b:e]
        arr = np.frombuffer(raw, dtype=store_dtype).reshape(shape)
        if tag == "BF16":
            arr = (arr.astype(np.uint32) << np.uint32(16)).view(np.float32)
        elif tag == "F16":
            arr = arr.astype(np.float16)
        tensors[name] = arr
        info[name] = (tag, list(shape), raw)
        spans.append((b, e, name))
    spans.sort()
    pos = 0
    for b, e, name in spans:
        if b != pos:
            raise ValueError(f"{name}: data region not contiguous at {b} (expected {pos})")
        pos = e
    if pos != len(data):
        raise ValueError(f"data region has {len(data) - pos} trailing bytes")
    return tensors, metadata, info


def st_save_checked(path, tensors, metadata=None):
    """st_save, then read back and check every tensor bit for bit."""
    st_save(path, tensors, metadata)
    back, md, info = st_load(path)
    if set(back) != set(tensors):
        raise AssertionError(f"{path}: tensor names differ after round trip")
    for name, val in tensors.items():
        tag, arr = val if isinstance(val, tuple) else (NP_TO_ST[np.dtype(val.dtype)], val)
        arr = np.ascontiguousarray(arr)
        if info[name][0] != tag or info[name][1] != list(arr.shape):
            raise AssertionError(f"{path}:{name}: dtype/shape differ after round trip")
        if info[name][2] != arr.astype(ST_DTYPES[tag][0], copy=False).tobytes():
            raise AssertionError(f"{path}:{name}: bytes differ after round trip")
    if (metadata or {}) != md:
        raise AssertionError(f"{path}: metadata differs after round trip")
    return os.path.getsize(path)


# --------------------------------------------------------------------------------------
# The parity fill (README "Deterministic weights")
# --------------------------------------------------------------------------------------

U32 = np.uint32


def fnv1a32(text):
    h = 2166136261
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def mulberry32_u32(seed, n):
    """The first n outputs (before the division by 2^32) of mulberry32 seeded with `seed`,
    as uint32. The state after k+1 steps is seed + (k+1)*0x6D2B79F5 mod 2^32, so the whole
    stream is computed at once; uint32 numpy arithmetic wraps mod 2^32 exactly like
    JavaScript's `| 0`, `>>> 0` and Math.imul (which keep the low 32 bits)."""
    with np.errstate(over="ignore"):
        k = np.arange(1, n + 1, dtype=np.uint64)
        a = ((k * np.uint64(0x6D2B79F5) + np.uint64(seed)) & np.uint64(0xFFFFFFFF)).astype(U32)
        t = (a ^ (a >> U32(15))) * (a | U32(1))
        t = (t + (t ^ (t >> U32(7))) * (t | U32(61))) ^ t
        return t ^ (t >> U32(14))


def mulberry32_u32_scalar(seed, n):
    """Straightforward scalar transcription of the README's JavaScript (for self-checks)."""
    out = []
    a = seed & 0xFFFFFFFF
    for _ in range(n):
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = ((a ^ (a >> 15)) * (1 | a)) & 0xFFFFFFFF
        t = ((t + (((t ^ (t >> 7)) * (61 | t)) & 0xFFFFFFFF)) & 0xFFFFFFFF) ^ t
        out.append((t ^ (t >> 14)) & 0xFFFFFFFF)
    return out


def fill_rule(name, shape):
    """Which row of the README table applies (first match in table order)."""
    ndim = len(shape)
    if name.endswith(".running_var"):
        return "running_var"
    if name.endswith(".running_mean"):
        return "running_mean"
    if name.endswith(".weight") and ndim == 1:
        return "norm_weight"
    if name.endswith(".bias"):
        return "bias"
    if ndim >= 2:
        return "kernel"
    return "other"


def fill_values(name, shape, salt="", rule=None):
    """float32 numpy array of `shape` holding the parity fill of entry `name`.
    `rule` forces a row of the table (used for grad.mask / grad.label, which use the
    'any other floating-point entry' row whatever their rank)."""
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    u = mulberry32_u32(fnv1a32(salt + name), n).astype(np.float64) / 4294967296.0
    v = 2.0 * u - 1.0
    if rule is None:
        rule = fill_rule(name, shape)
    if rule == "running_var":
        x = 0.5 + u
    elif rule == "running_mean":
        x = 0.1 * v
    elif rule == "norm_weight":
        x = 1.0 + 0.1 * v
    elif rule == "bias":
        x = 0.1 * v
    elif rule == "kernel":
        fan_in = int(np.prod(shape[1:], dtype=np.int64))
        x = v * math.sqrt(6.0 / fan_in)
    else:
        x = 0.1 * v
    return x.astype(np.float32).reshape(shape)


def seq_sum_f64(arr):
    """Sum of the float32 values in C order, accumulated sequentially in float64 (a JS loop)."""
    flat = np.asarray(arr, dtype=np.float64).reshape(-1)
    if flat.size == 0:
        return 0.0
    return float(np.add.accumulate(flat)[-1])


def f32_bits_hex(vals):
    return ["%08x" % int(b) for b in np.asarray(vals, dtype=np.float32).view(np.uint32)]


# Names for fill-check.json: (name, shape, where the entry occurs). Shapes are checked
# against the real state dicts when the corresponding model is built.
FILL_CHECK = [
    ("encoder.conv1.weight", [64, 3, 7, 7], "resnet50 stem conv"),
    ("encoder.layer1.0.conv2.weight", [128, 4, 3, 3], "resnext50_32x4d grouped conv (groups=32)"),
    ("encoder._blocks.0._depthwise_conv.weight", [48, 1, 3, 3], "efficientnet-b4 depthwise conv"),
    ("encoder._conv_stem.weight", [48, 3, 3, 3], "efficientnet-b4 stem conv"),
    ("encoder.model.layer1.0.conv2.weight", [128, 128, 3, 3], "tu-wide_resnet50_2 conv"),
    ("encoder.bn1.weight", [64], "resnet50 BatchNorm weight"),
    ("encoder.bn1.bias", [64], "resnet50 BatchNorm bias"),
    ("encoder.bn1.running_mean", [64], "resnet50 BatchNorm running_mean"),
    ("encoder.bn1.running_var", [64], "resnet50 BatchNorm running_var"),
    ("encoder._blocks.0._bn1.running_var", [48], "efficientnet-b4 BatchNorm running_var"),
    ("decoder.seg_blocks.0.block.0.block.1.weight", [128], "FPN GroupNorm weight"),
    ("classification_head.3.weight", [3, 2048], "linear weight (ResNet-family classification head)"),
    ("classification_head.3.bias", [3], "linear bias"),
    ("segmentation_head.0.bias", [1], "segmentation head conv bias"),
    ("decoder.p5.bias", [256], "FPN 1x1 conv bias"),
]
# where each of those names can be verified (any model that holds it)
FILL_CHECK_MODELS = {
    "encoder.conv1.weight": "Unet__resnet50",
    "encoder.layer1.0.conv2.weight": "Unet__resnext50_32x4d",
    "encoder._blocks.0._depthwise_conv.weight": "Unet__efficientnet-b4",
    "encoder._conv_stem.weight": "Unet__efficientnet-b4",
    "encoder.model.layer1.0.conv2.weight": "Unet__tu-wide_resnet50_2",
    "encoder.bn1.weight": "Unet__resnet50",
    "encoder.bn1.bias": "Unet__resnet50",
    "encoder.bn1.running_mean": "Unet__resnet50",
    "encoder.bn1.running_var": "Unet__resnet50",
    "encoder._blocks.0._bn1.running_var": "Unet__efficientnet-b4",
    "decoder.seg_blocks.0.block.0.block.1.weight": "FPN__resnet50",
    "classification_head.3.weight": "Unet__resnet50",
    "classification_head.3.bias": "Unet__resnet50",
    "segmentation_head.0.bias": "Unet__resnet50",
    "decoder.p5.bias": "FPN__resnet50",
}
FILL_CHECK_SALTED = [("check-salt/", "encoder.conv1.weight", [64, 3, 7, 7])]


def fill_check_entry(name, shape, salt, note):
    vals = fill_values(name, shape, salt).reshape(-1)
    seed = fnv1a32(salt + name)
    rule = fill_rule(name, shape)
    e = OrderedDict()
    e["name"] = name
    e["salt"] = salt
    e["shape"] = list(shape)
    e["note"] = note
    e["rule"] = rule
    if rule == "kernel":
        e["fan_in"] = int(np.prod(shape[1:]))
    e["seed"] = seed
    e["u32_first4"] = [int(x) for x in mulberry32_u32(seed, 4)]
    e["first8"] = [float(x) for x in vals[:8]]
    e["first8_f32_hex"] = f32_bits_hex(vals[:8])
    e["sum"] = seq_sum_f64(vals)
    e["sum_fsum"] = math.fsum(float(x) for x in vals.astype(np.float64))
    return e


def write_fill_check(out_dir, verified):
    entries = []
    for name, shape, note in FILL_CHECK:
        e = fill_check_entry(name, shape, "", note)
        e["verified_in"] = verified.get(name)
        entries.append(e)
    salted = [fill_check_entry(name, shape, salt, "salted example: seed = fnv1a32(salt + name)")
              for salt, name, shape in FILL_CHECK_SALTED]
    doc = OrderedDict()
    doc["description"] = (
        "Parity fill (README 'Deterministic weights') for a few names. first8: the first 8 values in C order, "
        "as the float64 value of each float32 (first8_f32_hex: their IEEE-754 bit patterns). sum: the float32 "
        "values summed sequentially in C order in float64 (a plain JS loop); sum_fsum: the correctly rounded "
        "exact sum (Python math.fsum). seed: fnv1a32(utf8(salt + name)); u32_first4: the first four mulberry32 "
        "outputs before the division by 2^32. rule: the README table row used (kernel = 2+ dims, "
        "v*sqrt(6/fan_in); norm_weight = 1-dim .weight)."
    )
    doc["salt"] = ""
    doc["entries"] = entries
    doc["salted_entries"] = salted
    path = os.path.join(out_dir, "fill-check.json")
    write_json(path, doc)
    return path


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------

INPUT_FORMULA = ("input[n,c,h,w] = float32(sin(0.05*h*(c+1) + 0.07*w + 1.3*n)), evaluated in float64 left to "
                 "right as ((0.05*h)*(c+1) + 0.07*w) + 1.3*n, then rounded to float32 (NCHW, C order)")
GRAD_FORMULA = ("{name} = float32(10 * f) where f is the parity fill of the name '{name}' with the fixture's "
                "salt, always under the 'any other floating-point entry' row (even though the tensor has 2+ "
                "dimensions), i.e. f = float32(0.1*v), v = 2u-1, "
                "u from mulberry32(fnv1a32(utf8(salt + '{name}'))) in C order over shape {shape}. "
                "In JS: Math.fround(10 * Math.fround(0.1 * v)).")


def make_inputs(batch, height, width, salt):
    n = np.arange(batch, dtype=np.float64)[:, None, None, None]
    c = np.arange(3, dtype=np.float64)[None, :, None, None]
    h = np.arange(height, dtype=np.float64)[None, None, :, None]
    w = np.arange(width, dtype=np.float64)[None, None, None, :]
    x = np.sin(0.05 * h * (c + 1) + 0.07 * w + 1.3 * n).astype(np.float32)
    gshape_mask = [batch, 1, height, width]
    gshape_label = [batch, AUX_PARAMS["classes"]]
    gm = fill_values("grad.mask", gshape_mask, salt, rule="other")
    gl = fill_values("grad.label", gshape_label, salt, rule="other")
    gm = (gm.astype(np.float64) * 10.0).astype(np.float32)
    gl = (gl.astype(np.float64) * 10.0).astype(np.float32)
    return x, gm, gl


# --------------------------------------------------------------------------------------
# format/dtypes
# --------------------------------------------------------------------------------------

def f32_to_bf16_bits(x):
    """Round float32 values to bfloat16 (round to nearest, ties to even); returns uint16 bits."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (b + np.uint64(0x7FFF) + ((b >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16)
    return rounded.astype(np.uint16)


def write_dtypes(out_dir):
    fmt = os.path.join(out_dir, "format")
    os.makedirs(fmt, exist_ok=True)
    # source values (float64 / int), before rounding to the storage dtype
    a_src = [[0.1, -0.0, 1.0 / 3.0], [-2.5, 1e-40, 3.0e38]]  # 1e-40: a float32 subnormal
    b_src = [0.1, -1.5, 6.0e-8, 65504.0]  # 6e-8 -> the smallest f16 subnormal 2^-24; 65504: f16 max
    c_src = [1.0 / 3.0, -1.00390625, 3.0e38]  # -1.00390625 is a tie: rounds to even (-1.0)
    d_src = [[0, -1], [2147483647, -2147483648]]
    a = np.array(a_src, dtype=np.float64).astype(np.float32)
    b = np.array(b_src, dtype=np.float64).astype(np.float16)
    c_bits = f32_to_bf16_bits(np.array(c_src, dtype=np.float64).astype(np.float32))
    d = np.array(d_src, dtype=np.int64)
    try:  # cross-check the bf16 rounding against torch when available
        import torch
        tb = torch.tensor(np.array(c_src, dtype=np.float32)).to(torch.bfloat16).view(torch.int16).numpy()
        assert (tb.view(np.uint16) == c_bits).all(), "bf16 rounding disagrees with torch"
    except ImportError:
        pass
    tensors = OrderedDict(a=a, b=b, c=("BF16", c_bits), d=d)
    meta = {"written_by": "tools/parity/generate.py (own safetensors writer)",
            "note": "format test file; the JSON header ends in padding spaces"}
    path = os.path.join(fmt, "dtypes.safetensors")
    st_save_checked(path, tensors, meta)
    c_dec = (c_bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
    _, _, info = st_load(path)
    doc = OrderedDict()
    doc["description"] = (
        "Expected contents of dtypes.safetensors. values: each element as a JSON number; for F16 and BF16 this "
        "is the exact value after decoding (exactly representable in float32); F32 values are the float64 "
        "value of the stored float32. bits: the stored little-endian bit patterns as hex of the element "
        "(per element, most significant digit first). source: the value that was rounded to the dtype. "
        "Tensors are laid out sorted by itemsize (descending) then name, so each is aligned to its itemsize; "
        "the header is padded with spaces to a multiple of 8 bytes. Offsets are relative to the data region."
    )
    doc["metadata"] = meta
    doc["header_length"] = struct.unpack("<Q", open(path, "rb").read(8))[0]
    raw_header = open(path, "rb").read()[8:8 + doc["header_length"]]
    doc["header_padding_spaces"] = len(raw_header) - len(raw_header.rstrip(b" "))
    assert doc["header_padding_spaces"] > 0, "adjust the metadata so that the header needs padding"
    doc["file_size"] = os.path.getsize(path)
    doc["tensors"] = OrderedDict()
    doc["tensors"]["a"] = OrderedDict(
        dtype="F32", shape=[2, 3], values=[[float(x) for x in r] for r in a],
        bits=[["%08x" % int(x) for x in r] for r in a.view(np.uint32)], source=a_src,
        notes="a[0][1] is negative zero (bits 80000000); a[1][1] is a float32 subnormal; 0.1 and 1/3 needed rounding")
    doc["tensors"]["b"] = OrderedDict(
        dtype="F16", shape=[4], values=[float(x) for x in b.astype(np.float32)],
        bits=["%04x" % int(x) for x in b.view(np.uint16)], source=b_src,
        notes="b[2] is the smallest f16 subnormal (2^-24); b[3] is the f16 maximum")
    doc["tensors"]["c"] = OrderedDict(
        dtype="BF16", shape=[3], values=[float(x) for x in c_dec],
        bits=["%04x" % int(x) for x in c_bits], source=c_src,
        notes="round to nearest, ties to even; c[1] is an exact tie that rounds to -1.0")
    doc["tensors"]["d"] = OrderedDict(
        dtype="I64", shape=[2, 2], values=d.tolist(), bits=[["%016x" % (int(x) & 0xFFFFFFFFFFFFFFFF) for x in r] for r in d],
        source=d_src, notes="within +-2^31 so that the values are exact JSON/JS numbers")
    for k in doc["tensors"]:
        doc["tensors"][k]["data_offsets"] = None
    hdr = json.loads(open(path, "rb").read()[8:8 + doc["header_length"]].decode("utf-8"))
    for k in doc["tensors"]:
        doc["tensors"][k]["data_offsets"] = hdr[k]["data_offsets"]
    write_json(os.path.join(fmt, "dtypes.json"), doc)
    # reader self-check on decoded values
    back, _, _ = st_load(path)
    assert np.array_equal(back["a"].view(np.uint32), a.view(np.uint32))
    assert np.array_equal(back["b"].view(np.uint16), b.view(np.uint16))
    assert np.array_equal(back["c"].view(np.uint32), c_dec.view(np.uint32))
    assert np.array_equal(back["d"], d)
    return path


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------

def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)


def rms(a):
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.mean(a * a)))


def count(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def versions():
    import torch
    import segmentation_models_pytorch as smp
    import timm
    import efficientnet_pytorch
    try:
        import pretrainedmodels
        pm = getattr(pretrainedmodels, "__version__", None)
    except Exception:  # pragma: no cover
        pm = None
    import re
    m = re.search(r"/pytorch-([0-9][^=\s/]*)=", torch.__config__.show())
    return OrderedDict(
        segmentation_models_pytorch=smp.__version__,
        timm=timm.__version__,
        efficientnet_pytorch=efficientnet_pytorch.__version__,
        pretrainedmodels=pm,
        torch=torch.__version__,
        torch_source=m.group(1) if m else None,
        numpy=np.__version__,
        python=sys.version.split()[0],
        torch_num_threads=torch.get_num_threads(),
    )


def disable_dropout(model):
    """Set every dropout probability to 0 (nn.Dropout*, timm DropPath/DropBlock, EfficientNet drop connect)."""
    import torch.nn as nn
    done = []
    for name, mod in model.named_modules():
        if isinstance(mod, nn.modules.dropout._DropoutNd):
            done.append([name, type(mod).__name__, float(mod.p)])
            mod.p = 0.0
        elif hasattr(mod, "drop_prob") and "drop" in type(mod).__name__.lower():
            done.append([name, type(mod).__name__, float(mod.drop_prob)])
            mod.drop_prob = 0.0
    enc = getattr(model, "encoder", None)
    gp = getattr(enc, "_global_params", None)
    if gp is not None and getattr(gp, "drop_connect_rate", None):
        done.append(["encoder._global_params.drop_connect_rate", "EfficientNet drop connect",
                     float(gp.drop_connect_rate)])
        enc._global_params = gp._replace(drop_connect_rate=0.0)
    return done


def build_model(decoder, encoder):
    import torch
    import segmentation_models_pytorch as smp
    torch.manual_seed(0)
    cls, kwargs = decoder_spec(decoder)
    return getattr(smp, cls)(encoder_name=encoder, encoder_weights=None, in_channels=3, classes=1,
                             aux_params=dict(AUX_PARAMS), **kwargs)


def run_model(decoder, encoder, x_np, gm_np, gl_np, salt, out_dir, fill_verified, f64_spread=False):
    import torch
    key = f"{decoder}__{encoder}"
    t0 = time.time()
    model = build_model(decoder, encoder)
    sd = model.state_dict()
    entries = []
    new_sd = OrderedDict()
    for name, t in sd.items():
        entries.append([name, list(t.shape), str(t.dtype).replace("torch.", "")])
        if t.is_floating_point():
            if t.dtype != torch.float32:
                raise TypeError(f"{key}: {name} is {t.dtype}, expected float32")
            new_sd[name] = torch.from_numpy(fill_values(name, t.shape, salt))
        else:
            new_sd[name] = t.clone()
    model.load_state_dict(new_sd, strict=True)
    twin = None
    if f64_spread:  # a float64 copy of the filled model, to measure the float32 reference's own rounding error
        import copy
        twin = copy.deepcopy(model).double()
    for name, t in model.state_dict().items():  # the fill really is in the model
        if not torch.equal(t, new_sd[name]):
            raise AssertionError(f"{key}: {name} not loaded")
    for name, shape, _ in FILL_CHECK:
        if name in sd and FILL_CHECK_MODELS.get(name) == key:
            if list(sd[name].shape) != shape:
                raise AssertionError(f"fill-check shape mismatch for {name}: {list(sd[name].shape)} vs {shape}")
            if not np.array_equal(new_sd[name].numpy().view(np.uint32),
                                  fill_values(name, shape, salt).view(np.uint32)):
                raise AssertionError(name)
            fill_verified[name] = key
    t_fill = time.time() - t0

    x = torch.from_numpy(x_np.copy())
    gm = torch.from_numpy(gm_np.copy())
    gl = torch.from_numpy(gl_np.copy())

    # ---- eval mode: outputs, and which modules run at all
    model.eval()
    called = set()
    mod_names = {m: n for n, m in model.named_modules()}
    hooks = [m.register_forward_pre_hook(lambda mod, inp: called.add(mod_names[mod])) for m in model.modules()]
    with torch.no_grad():
        e_mask, e_label = model(x)
    for h in hooks:
        h.remove()
    owners = {}
    for name in sd:
        owners[name] = name.rsplit(".", 1)[0]
    unused = [name for name in sd if owners[name] not in called]

    # ---- encoder features, eval mode
    with torch.no_grad():
        feats = model.encoder(x)
    # depth + 1 features (PSPNet's encoder has depth 3)
    if len(feats) < 2 or not torch.equal(feats[0], x):
        raise AssertionError(f"{key}: unexpected encoder output")
    enc_tensors = OrderedDict()
    enc_info = OrderedDict()
    for k in range(1, len(feats)):
        f = feats[k]
        flat = f[0].contiguous().reshape(-1)
        sample = flat[::ENCODER_SAMPLE_STEP].contiguous().numpy().astype(np.float32)
        enc_tensors[f"encoder.{k}"] = sample
        enc_info[f"encoder.{k}"] = OrderedDict(
            shape=list(f.shape), stride=[x.shape[2] // f.shape[2], x.shape[3] // f.shape[3]],
            sample_numel=int(sample.size), rms_full=rms(f.numpy()), rms_sample=rms(sample))

    # ---- training mode, dropout probabilities 0
    model.train()
    dropouts = disable_dropout(model)
    model.zero_grad(set_to_none=True)
    t_mask, t_label = model(x)
    loss = (t_mask * gm).sum() + (t_label * gl).sum()
    loss.backward()
    grad_norms = OrderedDict()
    no_grad = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.grad is None:
            grad_norms[name] = None
            no_grad.append(name)
        else:
            grad_norms[name] = float(p.grad.detach().double().pow(2).sum().sqrt())
    if not (np.array_equal(x.numpy(), x_np) and np.array_equal(gm.numpy(), gm_np) and np.array_equal(gl.numpy(), gl_np)):
        raise AssertionError(f"{key}: the model modified its inputs in place")
    real = [v for v in grad_norms.values() if v is not None]
    spread = OrderedDict()
    if twin is not None:
        spread = float64_spread(twin, x_np, gm_np, gl_np, grad_norms, float(np.median(real)))
        del twin
    med_norm = float(np.median(real))
    noise = [n for n, v in grad_norms.items() if v is not None and v < GRAD_NOISE_REL * med_norm]
    unused_params = [n for n in unused if n in grad_norms]
    if sorted(unused_params) != sorted(no_grad):
        raise AssertionError(f"{key}: modules that never run {unused_params} != params without grad {no_grad}")

    outputs = OrderedDict()
    outputs["eval.mask"] = e_mask.detach().numpy().astype(np.float32)
    outputs["eval.label"] = e_label.detach().numpy().astype(np.float32)
    outputs["train.mask"] = t_mask.detach().numpy().astype(np.float32)
    outputs["train.label"] = t_label.detach().numpy().astype(np.float32)
    finite = all(bool(np.isfinite(v).all()) for v in list(outputs.values()) + list(enc_tensors.values()))
    finite = finite and all(g is None or math.isfinite(g) for g in grad_norms.values())
    if not finite:
        raise FloatingPointError(f"{key}: non-finite outputs or gradients")

    tensors = OrderedDict(outputs)
    tensors.update(enc_tensors)
    meta = OrderedDict(model=key, salt=salt, input_shape=json.dumps(list(x.shape)), generator="tools/parity/generate.py")
    st_path = os.path.join(out_dir, key + ".safetensors")
    st_size = st_save_checked(st_path, tensors, meta)

    counts = OrderedDict(
        total=count(model), encoder=count(model.encoder), decoder=count(model.decoder),
        segmentation_head=count(model.segmentation_head), classification_head=count(model.classification_head))
    counts["unused"] = sum(sd[n].numel() for n in unused_params)
    counts["used"] = counts["total"] - counts["unused"]

    doc = OrderedDict()
    doc["model"] = key
    doc["decoder"] = decoder
    doc["smp_class"], doc["decoder_kwargs"] = decoder_spec(decoder)
    doc["encoder"] = encoder
    doc["constructor"] = constructor_text(decoder, encoder)
    doc["salt"] = salt
    doc["input_shape"] = list(x.shape)
    doc["inputs"] = "inputs.safetensors: input, grad.mask, grad.label"
    doc["outputs"] = OrderedDict(
        (k, OrderedDict(shape=list(v.shape), rms=rms(v))) for k, v in outputs.items())
    doc["loss"] = float(loss.detach().double())
    doc["loss_formula"] = "L = sum(train.mask * grad.mask) + sum(train.label * grad.label)"
    doc["counts"] = counts
    doc["counts_note"] = ("parameters with requires_grad; total = encoder + decoder + segmentation_head + "
                          "classification_head; unused = parameters of modules that never run (no gradient)")
    doc["unused"] = unused
    doc["unused_note"] = ("state-dict entries (parameters and buffers) of modules that never run in the forward "
                          "pass; their parameters get no gradient (grad_norms null). A faithful importer ignores them.")
    doc["encoder_features"] = enc_info
    doc["encoder_features_note"] = (
        "encoder.<k> in the .safetensors = model.encoder(input)[k][0] (batch item 0, eval mode) flattened in C "
        "order (C,H,W), elements 0, 7, 14, ... (flat[0::7]); shape here is the full NCHW shape of the feature. "
        "stride = input size / feature size (DeepLabV3Plus runs the encoder at output stride 16, so its "
        "encoder.5 has stride 16).")
    doc["train_mode"] = OrderedDict(
        dropout_set_to_zero=dropouts,
        note=("model.train() (BatchNorm uses batch statistics and updates its running statistics, which are not "
              "used afterwards); every dropout probability set to 0 before the training-mode forward pass"))
    doc["grad_norms_note"] = ("L2 norm of each trainable parameter's float32 gradient of L (accumulated in float64); "
                              "null = the parameter gets no gradient")
    doc["grad_norms"] = grad_norms
    doc["grad_norms_median"] = med_norm
    doc["grad_norms_noise"] = noise
    if f64_spread:
        doc["grad_norms_f32_spread"] = spread
        doc["grad_norms_f32_spread_note"] = (
            f"gradient norms (noise entries left out) whose float32 reference value is more than {SPREAD_MIN:g} "
            "(relative) from the same model's float64 gradient norm: |g32 - g64| / g64. These are ill-conditioned "
            "(e.g. scSE's sSE bias: a sum over pixels where the sigmoid barely passes a gradient), so a float32 "
            "implementation may be that far from the reference and again as far from the exact value.")
    doc["grad_norms_noise_note"] = (
        f"trainable parameters whose gradient norm is below {GRAD_NOISE_REL:g} x grad_norms_median: the stored "
        "float32 value is rounding noise, so compare these with an absolute tolerance, not a relative one.")
    if noise and all(n.startswith("encoder._blocks.") and n.endswith("._bn2.bias") for n in noise):
        doc["grad_norms_noise_note"] += (
            " Here they are EfficientNet BatchNorm biases (_bn2.bias) of blocks whose output reaches the loss only "
            "through 1x1 convs followed by training-mode BatchNorm, which removes any per-channel shift: their exact "
            "gradient is 0 (checked in float64 for Unet and DeepLabV3Plus with efficientnet-b4: |g| < 2e-14 x median).")
    doc["state_dict"] = entries
    doc["safetensors"] = OrderedDict(file=os.path.basename(st_path), size=st_size,
                                     tensors=OrderedDict((k, list(v.shape)) for k, v in tensors.items()))
    doc["versions"] = versions()
    doc["timing_s"] = OrderedDict(fill=round(t_fill, 2), total=round(time.time() - t0, 2))
    if f64_spread and spread:
        # The fixture's tolerance overrides (the one place busi reads them from): an ill-conditioned
        # norm gets the README's relative tolerance plus twice the reference's own float32 error.
        base = 1e-1 if "deeplab" in doc["decoder"].lower() else 5e-2
        doc["tolerances"] = OrderedDict((f"grad:{k}", base + 2 * s) for k, s in spread.items())
        doc["tolerances_note"] = (
            f"grad: entries are the README's {base:g} plus twice the float32 reference's distance from float64 "
            "(grad_norms_f32_spread): an ill-conditioned norm may be that far from the exact value in a correct "
            "float32 implementation too.")
    write_json(os.path.join(out_dir, key + ".json"), doc)
    summary = OrderedDict(
        status="ok", rms=OrderedDict((k, v["rms"]) for k, v in doc["outputs"].items()),
        counts=counts, unused=unused, grad_norms_noise=noise, loss=doc["loss"], seconds=doc["timing_s"]["total"],
        safetensors_bytes=st_size)
    del model
    return summary


# --------------------------------------------------------------------------------------

def float64_spread(twin, x_np, gm_np, gl_np, grad_norms, median):
    """Train-mode pass of the float64 twin (dropout 0); returns {name: |g32 - g64| / g64} for the
    non-noise gradient norms where that exceeds SPREAD_MIN."""
    import torch
    twin.train()
    disable_dropout(twin)
    twin.zero_grad(set_to_none=True)
    mask, label = twin(torch.from_numpy(x_np.copy()).double())
    loss = (mask * torch.from_numpy(gm_np.copy()).double()).sum() + (label * torch.from_numpy(gl_np.copy()).double()).sum()
    loss.backward()
    out = OrderedDict()
    for name, p in twin.named_parameters():
        g32 = grad_norms.get(name)
        if p.grad is None or g32 is None or g32 < GRAD_NOISE_REL * median:
            continue
        g64 = float(p.grad.detach().norm())
        rel = abs(g32 - g64) / g64 if g64 > 0 else float("inf")
        if rel > SPREAD_MIN:
            out[name] = rel
    return out


def self_checks():
    # vectorised mulberry32 == scalar transcription of the README's JavaScript
    for seed in (0, 1, 0xFFFFFFFF, 0x6D2B79F5, 2166136261, fnv1a32("encoder.conv1.weight")):
        assert [int(v) for v in mulberry32_u32(seed, 50)] == mulberry32_u32_scalar(seed, 50), seed
    # FNV-1a reference values
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--salt", default="")
    ap.add_argument("--height", type=int, default=96)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--only", action="append", default=[],
                    help="Decoder__encoder to generate (repeatable or comma-separated); default: all 16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--f64-spread", action="store_true",
                    help="also run a float64 twin and record ill-conditioned gradient norms (grad_norms_f32_spread)")
    ap.add_argument("--decoders", default=",".join(DECODERS), help="comma-separated smp decoder classes or variants (" + ", ".join(DECODER_VARIANTS) + ")")
    ap.add_argument("--encoders", default=",".join(ENCODERS), help="comma-separated smp encoder names")
    args = ap.parse_args(argv)

    warnings.filterwarnings("ignore")
    import torch
    torch.set_num_threads(args.threads)
    self_checks()

    combos = [f"{d}__{e}" for d in args.decoders.split(",") if d for e in args.encoders.split(",") if e]
    only = [s for item in args.only for s in item.split(",") if s]
    for s in only:
        if s not in combos:
            ap.error(f"unknown combo {s}; expected one of {combos}")
    if only:
        combos = [c for c in combos if c in only]
    if args.height % 32 or args.width % 32:
        ap.error("height and width must be multiples of 32")

    out = args.out
    os.makedirs(out, exist_ok=True)
    t_start = time.time()

    x, gm, gl = make_inputs(args.batch, args.height, args.width, args.salt)
    in_meta = OrderedDict(salt=args.salt, input_shape=json.dumps(list(x.shape)), generator="tools/parity/generate.py")
    in_size = st_save_checked(os.path.join(out, "inputs.safetensors"),
                              OrderedDict([("input", x), ("grad.mask", gm), ("grad.label", gl)]), in_meta)
    in_doc = OrderedDict()
    in_doc["salt"] = args.salt
    in_doc["input_shape"] = list(x.shape)
    in_doc["input_formula"] = INPUT_FORMULA
    in_doc["grad_mask_formula"] = GRAD_FORMULA.format(name="grad.mask", shape=list(gm.shape))
    in_doc["grad_label_formula"] = GRAD_FORMULA.format(name="grad.label", shape=list(gl.shape))
    in_doc["tensors"] = OrderedDict(
        (k, OrderedDict(shape=list(v.shape), dtype="F32", rms=rms(v), first4=[float(t) for t in v.reshape(-1)[:4]]))
        for k, v in (("input", x), ("grad.mask", gm), ("grad.label", gl)))
    in_doc["layout"] = "NCHW (PyTorch); TensorFlow.js is NHWC: transpose"
    write_json(os.path.join(out, "inputs.json"), in_doc)

    write_dtypes(out)

    manifest = OrderedDict()
    manifest["salt"] = args.salt
    manifest["input_shape"] = list(x.shape)
    manifest["versions"] = versions()
    manifest["command"] = " ".join([os.path.basename(sys.argv[0])] + (argv if argv is not None else sys.argv[1:]))
    manifest["models"] = OrderedDict()
    fill_verified = {}
    for key in combos:
        dec, enc = key.split("__")
        print(f"[{time.time() - t_start:7.1f}s] {key} ...", flush=True)
        try:
            s = run_model(dec, enc, x, gm, gl, args.salt, out, fill_verified, args.f64_spread)
            print(f"    ok  rms eval.mask={s['rms']['eval.mask']:.4g} eval.label={s['rms']['eval.label']:.4g} "
                  f"train.mask={s['rms']['train.mask']:.4g} train.label={s['rms']['train.label']:.4g} "
                  f"params={s['counts']['total']:,} ({s['seconds']:.1f}s)", flush=True)
        except Exception as exc:  # record the failure, keep going
            import traceback
            tb = traceback.format_exc()
            print(tb, file=sys.stderr, flush=True)
            s = OrderedDict(status="failed", error=repr(exc), traceback=tb)
            write_json(os.path.join(out, key + ".json"),
                       OrderedDict(model=key, salt=args.salt, input_shape=list(x.shape), status="failed",
                                   error=repr(exc), traceback=tb))
        manifest["models"][key] = s
    write_fill_check(out, fill_verified)
    manifest["inputs_bytes"] = in_size
    manifest["seconds"] = round(time.time() - t_start, 1)
    write_json(os.path.join(out, "manifest.json"), manifest)
    failed = [k for k, v in manifest["models"].items() if v["status"] != "ok"]
    print(f"done in {manifest['seconds']}s; failed: {failed or 'none'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
