#!/usr/bin/env python3
"""How accurate are a parity fixture's own outputs? Rebuilds each model with smp exactly as
../shared/reference-tools/generate.py does (same parity fill), runs the eval- and training-mode
forwards in two other setups -- float32 with oneDNN off on one thread, and float64 -- and prints
max|other - fixture| / rms(fixture) for eval.mask, eval.label, encoder.4/5, train.mask and train.label. A busi tolerance below these numbers would ask busi
to be closer to the fixture than PyTorch itself is (such a fixture states its tolerances in its own .json: `tolerances`, `tolerances_note`).

    source <the reference environment, see ../shared/reference-tools/README.md>
    /usr/bin/python3 scripts/parity-second-setup.py ../shared/parity-zoo/encoders Unet__resnet152,Unet__resnet101
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'reference-tools'))
import generate as g  # noqa: E402  (the fixtures' own generator: build_model, fill_values, st_load)


def load(path):
    tensors = g.st_load(path)
    return tensors[0] if isinstance(tensors, tuple) else tensors


def main(folder, names):
    torch.backends.mkldnn.enabled = False
    torch.set_num_threads(1)
    inputs = load(os.path.join(folder, 'inputs.safetensors'))
    x = torch.from_numpy(np.array(inputs['input']))
    salt = ''
    for key in names:
        decoder, encoder = key.split('__')
        ref = load(os.path.join(folder, f'{key}.safetensors'))
        model = g.build_model(decoder, encoder)
        state = model.state_dict()
        model.load_state_dict({n: torch.from_numpy(g.fill_values(n, t.shape, salt)) if t.is_floating_point() else t for n, t in state.items()})
        result = {}
        for dtype in ('float32', 'float64'):
            m = model.double() if dtype == 'float64' else model
            xx = x.double() if dtype == 'float64' else x
            m.eval()
            with torch.no_grad():
                mask, label = m(xx)
                feats = m.encoder(xx)
            evals = [('eval.mask', mask), ('eval.label', label)]
            evals += [(f'encoder.{k}', feats[k][0].reshape(-1)[::g.ENCODER_SAMPLE_STEP]) for k in (4, 5)]
            for out, value in evals:
                r = np.array(ref[out], dtype=np.float64)
                result[f'{dtype} {out}'] = float(np.abs(value.double().numpy() - r).max() / np.sqrt((r ** 2).mean()))
            m.train()
            g.disable_dropout(m)
            with torch.no_grad():
                mask, label = m(xx)
            for out, value in (('train.mask', mask), ('train.label', label)):
                r = np.array(ref[out], dtype=np.float64)
                result[f'{dtype} {out}'] = float(np.abs(value.double().numpy() - r).max() / np.sqrt((r ** 2).mean()))
        print(key, json.dumps({k: f'{v:.2e}' for k, v in result.items()}), flush=True)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2].split(','))
