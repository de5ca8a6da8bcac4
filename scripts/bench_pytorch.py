#!/usr/bin/env python3
"""PyTorch eager reference timing for `scripts/bench-vs-pytorch`: open_clip's vision tower.

Builds the vision tower of open_clip's ``ViT-L-14-336`` (or ``ViT-B-16``) with random weights at
the given input size (ACD-CLIP runs ViT-L/14-336 at 518 px: a 37×37 grid), in float32 eval mode
under ``torch.inference_mode()``, on ``--threads`` threads, and measures what ``acd bench``
measures, the same way:

- first call, then median / min / max batch-1 latency over ``--runs`` runs after ``--warmup``;
- throughput at ``--batch``;
- peak resident memory during inference: the Linux high-water mark is reset after the model is
  built (``/proc/self/clear_refs`` 5, as ``acd bench`` does), so both peaks cover the same thing.

Only the vision tower is built (no text tower), as ``acd bench`` drops its text tower before it
resets the peak. With ``--device cuda`` the tower runs on the GPU (float32, PyTorch's default
matmul precision, each timing ended by ``torch.cuda.synchronize()``) and the peak is the GPU
memory PyTorch allocated during inference. Prints one JSON object.
"""

import argparse
import json
import os
import resource
import statistics
import time


def status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return None


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ViT-L-14-336")
    ap.add_argument("--image-size", type=int, default=518)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args()

    import torch
    import open_clip
    from open_clip.model import _build_vision_tower

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = open_clip.get_model_config(args.model)
    vision_cfg = dict(cfg["vision_cfg"])
    vision_cfg["image_size"] = args.image_size
    t = time.perf_counter()
    # erf GELU (quick_gelu False), as the official ACD-CLIP code and `acd bench` run it.
    visual = _build_vision_tower(cfg["embed_dim"], vision_cfg, quick_gelu=False).eval()
    visual = visual.to(args.device)
    cuda = args.device == "cuda"
    if cuda:
        torch.cuda.synchronize()
    build_ms = (time.perf_counter() - t) * 1e3
    params = sum(p.numel() for p in visual.parameters())
    resident = status_mib("VmRSS:")
    peak_is_inference_only = reset_peak()
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    def forward(batch):
        x = torch.randn(batch, 3, args.image_size, args.image_size, device=args.device)
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.inference_mode():
            y = visual(x)
        _ = y.sum().item()  # waits for the device
        return (time.perf_counter() - t) * 1e3

    first = forward(1)
    for _ in range(args.warmup):
        forward(1)
    times = sorted(forward(1) for _ in range(max(1, args.runs)))
    throughput = None
    if args.batch > 0:
        throughput = {"batch": args.batch, "value": args.batch / (forward(args.batch) / 1e3)}
    print(json.dumps({
        "implementation": "pytorch-eager",
        "model": args.model,
        "image_size": args.image_size,
        "vision_params": params,
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "versions": {"torch": torch.__version__, "open_clip": open_clip.__version__},
        # the instruction set PyTorch's CPU kernels dispatch to (e.g. AVX2, AVX512)
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "build_ms": build_ms,
        "first_call_ms": first,
        "latency_ms": {"median": statistics.median(times), "min": times[0], "max": times[-1], "runs": len(times)},
        "throughput_images_per_s": throughput,
        "resident_after_build_mib": resident,
        "peak_rss_mib": status_mib("VmHWM:"),
        "peak_rss_covers": "inference (reset after building the model)" if peak_is_inference_only else "the whole process",
        "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "gpu_peak_allocated_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
    }))


if __name__ == "__main__":
    main()
