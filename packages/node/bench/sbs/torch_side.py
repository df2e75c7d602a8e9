"""PyTorch/smp side of busi's side-by-side benchmark (busi's own code; imports smp v0.3.3, contains none of it).

Run by sbs.ts as one process per case, so that the peak RSS it reports belongs to that case alone.
Prints one line `RESULT {json}`.

  python3 torch_side.py --reference-tools DIR --mode infer|step --decoder Unet --encoder resnet50
                        --size 448 --batch 8 --reps 2 --warmup 1 --threads 2
  python3 torch_side.py --reference-tools DIR --mode kernels --shapes JSON --reps 3 --threads 2

infer: eval-mode forward under no_grad. step: one training step as busi's Trainer runs it: zero_grad,
train-mode forward, 0.7 * Dice + 0.3 * focal (the reduced protocol's loss functions, imported from the
reference tools' train_reduced.py), backward, Adam(lr 1e-4, L2 weight decay 1e-5), at the whole batch
(no accumulation). kernels: conv forward, input gradient and filter gradient of each shape (NCHW).
Times are wall milliseconds, the best repetition after the warm-ups.
"""
import argparse
import json
import resource
import sys
import time


def best_ms(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times), times


def peak_rss_mib():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def model_case(args, torch):
    import segmentation_models_pytorch as smp
    from train_reduced import dice_loss, focal_loss

    torch.manual_seed(0)
    model = getattr(smp, args.decoder)(encoder_name=args.encoder, encoder_weights=None, in_channels=3, classes=1,
                                        aux_params=dict(classes=3, dropout=0.5))
    x = torch.randn(args.batch, 3, args.size, args.size)
    # The mode is set once: toggling eval() before every call makes smp's EfficientNet rebuild its
    # oneDNN primitives (seconds a call), which no user loop does.
    if args.mode == "infer":
        model.eval()

        def run():
            with torch.no_grad():
                model(x)
    else:
        model.train()
        masks = (torch.rand(args.batch, 1, args.size, args.size) > 0.5).float()
        labels = torch.arange(args.batch) % 3
        opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-5)

        def run():
            opt.zero_grad()
            mask_logits, class_logits = model(x)
            loss = 0.7 * dice_loss(mask_logits, masks) + 0.3 * focal_loss(class_logits, labels)
            loss.backward()
            opt.step()

    ms, times = best_ms(run, args.warmup, args.reps)
    return {"ms": ms, "all": [round(t) for t in times]}


def kernels_case(args, torch):
    conv_backward = torch.ops.aten.convolution_backward
    rows = []
    for sh in json.loads(args.shapes):
        groups = sh["ci"] if sh.get("depthwise") else 1
        pad = sh["k"] // 2
        x = torch.randn(sh["n"], sh["ci"], sh["h"], sh["h"])
        w = torch.randn(sh["co"], sh["ci"] // groups, sh["k"], sh["k"])
        conv = lambda: torch.nn.functional.conv2d(x, w, None, sh["s"], pad, 1, groups)
        with torch.no_grad():
            dy = torch.randn_like(conv())

            def grad(mask):
                return conv_backward(dy, x, w, None, [sh["s"]] * 2, [pad] * 2, [1, 1], False, [0, 0], groups, mask)

            row = {"name": sh["name"]}
            for key, fn in (("fwd", conv), ("dX", lambda: grad([True, False, False])), ("dW", lambda: grad([False, True, False]))):
                row[key] = best_ms(fn, args.warmup, args.reps)[0]
        rows.append(row)
    return {"kernels": rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference-tools", required=True)
    ap.add_argument("--mode", choices=["infer", "step", "kernels"], required=True)
    ap.add_argument("--decoder", default="Unet")
    ap.add_argument("--encoder", default="resnet50")
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", default="[]")
    args = ap.parse_args()
    sys.path.insert(0, args.reference_tools)
    import torch

    torch.set_num_threads(args.threads)
    # Random-init eval-mode EfficientNet produces denormals, ~15x slower on x86; trained weights do
    # not. Flushing them can only make PyTorch faster, so the comparison stays conservative.
    torch.set_flush_denormal(True)
    result = kernels_case(args, torch) if args.mode == "kernels" else model_case(args, torch)
    result.update({"side": "torch", "threads": torch.get_num_threads(), "torch": torch.__version__,
                   "peakRssMiB": round(peak_rss_mib())})
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
