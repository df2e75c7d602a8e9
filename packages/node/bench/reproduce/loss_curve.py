"""PyTorch/smp side of the frozen loss-curve case (busi's own code; imports smp, contains none of it).

Reads the case's data (safetensors written by make-loss-curve.ts), builds smp's model, sets every
weight to the parity fill of ../shared/reference-tools/generate.py, trains in the fixed batch order with
the reduced-128 protocol's loss and Adam (L2 weight decay), and writes each step's losses as JSON.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference-tools", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sys.path.insert(0, args.reference_tools)
    import numpy as np
    import torch
    import generate  # the parity fill and safetensors reader of the reference tools
    from train_reduced import dice_loss, focal_loss

    tensors, meta, _ = generate.st_load(args.data)
    case = json.loads(meta["case"])
    torch.set_num_threads(2)
    torch.manual_seed(0)
    import segmentation_models_pytorch as smp
    model = getattr(smp, case["smpDecoder"])(encoder_name=case["smpEncoder"], encoder_weights=None, in_channels=3,
                                             classes=1, aux_params=dict(classes=3, dropout=0.0))
    sd = model.state_dict()
    with torch.no_grad():
        for name, t in sd.items():
            if t.is_floating_point():
                t.copy_(torch.from_numpy(np.asarray(generate.fill_values(name, list(t.shape), case["salt"]),
                                                    dtype=np.float32).reshape(t.shape)))
    x = torch.from_numpy(np.ascontiguousarray(tensors["images"].transpose(0, 3, 1, 2))).float()
    m = torch.from_numpy(np.ascontiguousarray(tensors["masks"].transpose(0, 3, 1, 2))).float()
    y = torch.from_numpy(tensors["labels"].astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=case["learningRate"], weight_decay=case["weightDecay"])
    lam, bs, n = case["lambda"], case["batchSize"], x.shape[0]
    model.train()
    steps = []
    for _ in range(case["epochs"]):
        for b in range(0, n, bs):
            mask_logits, cls_logits = model(x[b:b + bs])
            ld = dice_loss(mask_logits, m[b:b + bs], eps=case["diceSmooth"])
            lf = focal_loss(cls_logits, y[b:b + bs], gamma=case["focalGamma"])
            loss = lam * ld + (1 - lam) * lf
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps.append({"loss": loss.item(), "dice": ld.item(), "focal": lf.item()})
    out = {"case": case, "framework": f"torch {torch.__version__}, smp {smp.__version__}", "steps": steps}
    with open(args.out + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
    import os
    os.replace(args.out + ".tmp", args.out)
    print(f"wrote {args.out}: {len(steps)} steps, loss {steps[0]['loss']:.4f} -> {steps[-1]['loss']:.4f}")


if __name__ == "__main__":
    main()
