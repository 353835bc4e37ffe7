"""Benchmark: cost of SAPT-LoRA's multi-block mixing and of ARM's KL term, side by side in one run.

    python benchmarks/bench_sapt_lora.py [--device cpu|cuda] [--rounds 15] [--d-model 256] [--layers 4]

Measures (median over interleaved rounds, so every ratio comes from the same run):
  1. one training step (forward + backward + AdamW) of SAPT-LoRA with t = 1, 5, 15 blocks vs a plain peft LoRA
     step on the same backbone (random T5 of the given size, LoRA on q/v of every attention module);
  2. the stacked mixing (two matmuls for all t blocks) vs a per-block loop (the official code's approach), one site;
  3. a SAPT-LoRA step at t = 15 with ARM's KL over one pseudo batch of each of the 14 earlier tasks vs without.
Targets: SAPT(t=15) <= 1.3x single LoRA; stacked >= 3x faster than the loop; KL adds <= 5%.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def _t5(d_model: int, layers: int, seed: int = 0):
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    cfg = T5Config(vocab_size=8000, d_model=d_model, d_kv=d_model // 8, d_ff=4 * d_model, num_layers=layers,
                   num_decoder_layers=layers, num_heads=8, dropout_rate=0.0, feed_forward_proj="relu",
                   decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    return T5ForConditionalGeneration(cfg)


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_rounds(fns: dict, rounds: int, device: str, warmup: int = 2) -> dict:
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--src-len", type=int, default=128)
    ap.add_argument("--tgt-len", type=int, default=16)
    ap.add_argument("--rank", type=int, default=8)
    args = ap.parse_args()
    from peft import LoraConfig, get_peft_model

    from sapt_core.methods.sapt.reflection import reflection_loss
    from sapt_core.blocks.lora import MixingContext, MultiBlockLoRALinear, per_block_loop
    from sapt_core.blocks.model import BlockModel, BlockSpec
    from sapt_core.methods.sapt.shared_attention import AttentionRouter

    dev = args.device
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(2, 8000, (args.batch, args.src_len), generator=g).to(dev)
    labels = torch.randint(2, 8000, (args.batch, args.tgt_len), generator=g).to(dev)
    mask = torch.ones_like(ids)

    def stepper(model):
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

        def step(extra=None):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            if extra is not None:
                loss = loss + extra(model)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        return step

    peft_model = get_peft_model(_t5(args.d_model, args.layers).to(dev),
                                LoraConfig(r=args.rank, lora_alpha=32, target_modules=["q", "v"]))
    steps = {"single LoRA (peft)": stepper(peft_model)}
    saptm = {}
    for t in (1, 5, 15):
        saptm[t] = BlockModel(_t5(args.d_model, args.layers), "t5", BlockSpec("lora", t, args.rank),
                              lambda d, t=t: AttentionRouter(d, t), seed=0).to(dev)
        steps[f"SAPT-LoRA t={t}"] = stepper(saptm[t])
    pseudo = [{"input_ids": torch.randint(2, 8000, (args.batch, args.src_len), generator=g).to(dev),
               "attention_mask": mask} for _ in range(14)]
    targets = torch.softmax(torch.randn(14, 15, generator=g), -1).to(dev)
    sapt15_kl = stepper(saptm[15])
    steps["SAPT-LoRA t=15 + ARM KL (14 tasks)"] = lambda: sapt15_kl(
        lambda m: reflection_loss(m.router.attention, m.embed, pseudo, targets))
    res = time_rounds(steps, args.rounds, dev)

    # one site at T5-large width: stacked vs per-block loop, forward + backward through x
    site_res = {}
    ctx = MixingContext()
    d = 1024
    site = MultiBlockLoRALinear(torch.nn.Linear(d, d), 15, args.rank, 32, 0.0, ctx).to(dev)
    with torch.no_grad():
        site.prev_B.normal_()
    x = torch.randn(args.batch, 2 * args.src_len, d, device=dev, requires_grad=True)
    w = torch.softmax(torch.randn(args.batch, 15, device=dev), -1)

    def stacked():
        site.delta(x, w).sum().backward()

    def loop():
        A, B = site.stacked()
        per_block_loop(x, w, A, B, site.scaling).sum().backward()

    site_res = time_rounds({"stacked": stacked, "loop": loop}, args.rounds, dev)

    base = res["single LoRA (peft)"]
    print(f"device={dev} torch={torch.__version__} threads={torch.get_num_threads()} T5 d_model={args.d_model} "
          f"layers={args.layers}+{args.layers} batch={args.batch} src={args.src_len} tgt={args.tgt_len} r={args.rank} "
          f"rounds={args.rounds}\n")
    print("| training step | median ms | vs single LoRA |\n|---|---|---|")
    for k, v in res.items():
        print(f"| {k} | {v * 1e3:.1f} | {v / base:.2f}x |")
    kl = res["SAPT-LoRA t=15 + ARM KL (14 tasks)"] / res["SAPT-LoRA t=15"] - 1
    print(f"\nARM KL overhead at t=15: {kl * 100:+.1f}% of a SAPT step (target <= 5%)")
    print("\n| mixing, one site (d=1024, t=15, fwd+bwd) | median ms |\n|---|---|")
    for k, v in site_res.items():
        print(f"| {k} | {v * 1e3:.2f} |")
    print(f"\nstacked mixing is {site_res['loop'] / site_res['stacked']:.2f}x faster than the per-block loop (target >= 3x)")
    print(f"SAPT t=15 step = {res['SAPT-LoRA t=15'] / base:.2f}x a single-LoRA step (target <= 1.3x)")


if __name__ == "__main__":
    main()
