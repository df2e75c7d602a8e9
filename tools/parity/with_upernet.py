#!/usr/bin/env python3
"""Run a reference script with smp v0.4's UPerNet available as `smp.UPerNet` on smp v0.3.3.

smp v0.3.3 (the paper's library) has no UPerNet; smp v0.4.0 added it. Its decoder module
(`segmentation_models_pytorch/decoders/upernet/decoder.py` at tag v0.4.0, commit 12f8394) is
self-contained: it needs only torch and `segmentation_models_pytorch.base.modules.Conv2dReLU`, which
v0.3.3 has unchanged. This wrapper imports that one file from a path outside the repository (no smp
code is part of it), assembles the model the way v0.4's `UPerNet` class does (v0.3.3 encoder,
segmentation head with a 1x1 conv and x4 bilinear up-sampling, optional classification head, smp's
`initialize()`), sets it as `smp.UPerNet`, then runs the given script as `__main__`.

    source the reference environment (smp v0.3.3 on PYTHONPATH), then:
    git -C SMP_CLONE show v0.4.0:segmentation_models_pytorch/decoders/upernet/decoder.py > /tmp/upernet_decoder.py
    /usr/bin/python3 tools/parity/with_upernet.py /tmp/upernet_decoder.py tools/parity/generate.py \
        --out /tmp/upernet --decoders UPerNet --height 64 --width 96 --f64-spread
    /usr/bin/python3 tools/parity/with_upernet.py /tmp/upernet_decoder.py ../shared/reference-tools/generate_init_stats.py \
        --out /tmp/init --decoders UPerNet --encoders resnet50
"""
import importlib.util
import os
import runpy
import sys


def load_decoder_module(path):
    spec = importlib.util.spec_from_file_location("upernet_v040_decoder", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "UPerNetDecoder"):
        raise SystemExit(f"{path}: no UPerNetDecoder in this file (expected smp v0.4.0's upernet/decoder.py)")
    return module


def make_upernet_class(decoder_module):
    from segmentation_models_pytorch.base import ClassificationHead, SegmentationHead, SegmentationModel
    from segmentation_models_pytorch.encoders import get_encoder

    class UPerNet(SegmentationModel):
        """smp v0.4.0's UPerNet (its constructor arguments and defaults) on smp v0.3.3's encoders and heads."""

        def __init__(self, encoder_name="resnet34", encoder_depth=5, encoder_weights="imagenet",
                     decoder_pyramid_channels=256, decoder_segmentation_channels=64, in_channels=3,
                     classes=1, activation=None, aux_params=None):
            super().__init__()
            self.encoder = get_encoder(encoder_name, in_channels=in_channels, depth=encoder_depth,
                                       weights=encoder_weights)
            self.decoder = decoder_module.UPerNetDecoder(
                encoder_channels=self.encoder.out_channels, encoder_depth=encoder_depth,
                pyramid_channels=decoder_pyramid_channels, segmentation_channels=decoder_segmentation_channels)
            self.segmentation_head = SegmentationHead(in_channels=decoder_segmentation_channels,
                                                      out_channels=classes, activation=activation,
                                                      kernel_size=1, upsampling=4)
            self.classification_head = (ClassificationHead(in_channels=self.encoder.out_channels[-1], **aux_params)
                                        if aux_params is not None else None)
            self.name = f"upernet-{encoder_name}"
            self.initialize()

    return UPerNet


def main():
    if len(sys.argv) < 3:
        raise SystemExit("usage: with_upernet.py UPERNET_DECODER_PY SCRIPT [ARGS...]")
    decoder_path, script = sys.argv[1], sys.argv[2]
    for p in (decoder_path, script):
        if not os.path.isfile(p):
            raise SystemExit(f"with_upernet.py: no such file: {p}")
    import segmentation_models_pytorch as smp
    smp.UPerNet = make_upernet_class(load_decoder_module(decoder_path))
    sys.argv = [script] + sys.argv[3:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
