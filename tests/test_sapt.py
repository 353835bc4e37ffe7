"""SAPT's own properties: shared attention (Eq. 1-2), multi-block LoRA/prompt mixing (Eq. 3), ARM's KL (Eq. 5-6),
step states."""

import json

import pytest
import torch

from sapt_core.methods.sapt.reflection import kl_to_target, pad_target, reflection_loss
from sapt_core.blocks.lora import MultiBlockLoRALinear, MixingContext, per_block_loop
from sapt_core.blocks.model import BlockModel, BlockSpec
from sapt_core.models import load_backbone
from sapt_core.methods.sapt.shared_attention import AttentionRouter, SharedAttention, max_pool


def _sapt(bb, n_blocks, lora_r=8, lora_alpha=32, seed=0):
    """A SAPT-LoRA model: n LoRA blocks routed by the shared attention."""
    return BlockModel(bb.model, bb.family, BlockSpec("lora", n_blocks, lora_r, lora_alpha),
                      lambda d: AttentionRouter(d, n_blocks), seed=seed)


def _random_blocks(model, seed=0):
    """Give every block (frozen and trainable) distinct non-zero weights."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for site in model.sites.values():
            for t in (site.prev_A, site.prev_B, site.lora_A, site.lora_B):
                t.copy_(torch.randn(t.shape, generator=g) * 0.3)


def _batch(bb, texts):
    enc = bb.tokenizer(texts, return_tensors="pt", padding=True)
    kw = {"decoder_input_ids": torch.zeros_like(enc.input_ids[:, :4])} if bb.family == "t5" else {}
    return enc.input_ids, enc.attention_mask, kw


TEXTS = ["Definition: classify the sentiment\nInput: a fine film\nOutput: ", "What is the topic?\nOutput: "]


@pytest.mark.parametrize("which", ["tiny_t5", "tiny_llama"])
def test_one_hot_attention_equals_plain_peft_block(which, request):
    """With a one-hot on block i, the 3-block model equals a peft LoRA model holding only block i."""
    from peft import LoraConfig, get_peft_model

    path = str(request.getfixturevalue(which))
    bb = load_backbone(path)
    model = _sapt(bb, 3, lora_r=4, lora_alpha=16)
    _random_blocks(model)
    ids, mask, kw = _batch(bb, TEXTS)
    ref_bb = load_backbone(path)
    targets = ["q", "v"] if bb.family == "t5" else ["q_proj", "v_proj"]
    peft_model = get_peft_model(ref_bb.model, LoraConfig(r=4, lora_alpha=16, lora_dropout=0.0, target_modules=targets))
    for i in range(3):
        with torch.no_grad():
            for name, site in model.sites.items():
                A, B = site.stacked()
                mod = peft_model.base_model.model.get_submodule(name)
                mod.lora_A["default"].weight.copy_(A[i])
                mod.lora_B["default"].weight.copy_(B[i])
            model.route = lambda q, m, i=i: torch.nn.functional.one_hot(torch.full((q.shape[0],), i), 3).float()
            model.ctx.weights = model.route(ids, mask)
            ours = model.model(input_ids=ids, attention_mask=mask, **kw).logits
            theirs = peft_model(input_ids=ids, attention_mask=mask, **kw).logits
        assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-4), (i, (ours - theirs).abs().max())


def test_uniform_attention_is_average_of_block_outputs():
    torch.manual_seed(0)
    ctx = MixingContext()
    base = torch.nn.Linear(16, 16)
    site = MultiBlockLoRALinear(base, 4, r=2, alpha=4, dropout=0.0, ctx=ctx)
    with torch.no_grad():
        for t in (site.prev_A, site.prev_B, site.lora_A, site.lora_B):
            t.copy_(torch.randn(t.shape))
    x = torch.randn(3, 5, 16)
    ctx.weights = torch.full((3, 4), 0.25)
    A, B = site.stacked()
    singles = [base(x) + site.scaling * (x @ A[i].t()) @ B[i].t() for i in range(4)]
    with torch.no_grad():
        assert torch.allclose(site(x), torch.stack(singles).mean(0), atol=1e-5)


@pytest.mark.parametrize("t", list(range(1, 16)))
def test_stacked_mixing_equals_per_block_loop(t):
    torch.manual_seed(t)
    ctx = MixingContext()
    site = MultiBlockLoRALinear(torch.nn.Linear(32, 24), t, r=4, alpha=8, dropout=0.0, ctx=ctx)
    with torch.no_grad():
        for p in (site.prev_A, site.prev_B, site.lora_A, site.lora_B):
            p.copy_(torch.randn(p.shape))
    x = torch.randn(5, 7, 32)
    w = torch.softmax(torch.randn(5, t), -1)  # every row its own weights
    A, B = site.stacked()
    with torch.no_grad():
        assert torch.allclose(site.delta(x, w), per_block_loop(x, w, A, B, site.scaling), atol=1e-4)


def test_parameter_level_mixing_switch():
    """Paper Eq. 3 literal: (sum a_i B_i)(sum a_i A_i) x; equals output-level mixing for a one-hot, not in general."""
    torch.manual_seed(0)
    ctx = MixingContext()
    out_site = MultiBlockLoRALinear(torch.nn.Linear(8, 8), 3, 2, 4, 0.0, ctx, "output")
    par_site = MultiBlockLoRALinear(torch.nn.Linear(8, 8), 3, 2, 4, 0.0, ctx, "parameter")
    with torch.no_grad():
        for a, b in zip((out_site.prev_A, out_site.prev_B, out_site.lora_A, out_site.lora_B),
                        (par_site.prev_A, par_site.prev_B, par_site.lora_A, par_site.lora_B)):
            a.copy_(torch.randn(a.shape)), b.copy_(a)
        x = torch.randn(2, 3, 8)
        one_hot = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
        assert torch.allclose(out_site.delta(x, one_hot), par_site.delta(x, one_hot), atol=1e-5)
        mixed = torch.tensor([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
        A, B = par_site.stacked()
        expect = torch.stack([((x[b] @ (mixed[b] @ A.flatten(1)).view(2, 8).t())
                               @ torch.einsum("t,tor->or", mixed[b], B).t()) * par_site.scaling for b in range(2)])
        assert torch.allclose(par_site.delta(x, mixed), expect, atol=1e-5)
        assert not torch.allclose(out_site.delta(x, mixed), par_site.delta(x, mixed), atol=1e-3)


def test_shared_attention_eq1_eq2():
    torch.manual_seed(0)
    att = SharedAttention(8, 3, d_p=4, temperature=2.0)
    e = torch.randn(2, 5, 8)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    q = att.proj.norm(torch.nn.functional.silu(att.proj.up(att.proj.down(e.max(1).values))))  # official order
    expect = torch.softmax(q @ att.keys.t() / 2.0, -1)
    assert torch.allclose(att(e, mask), expect, atol=1e-6)
    assert torch.allclose(att(e, mask).sum(-1), torch.ones(2))
    masked = SharedAttention(8, 3, d_p=4, temperature=2.0, pool_mask_pads=True)
    assert torch.equal(max_pool(e, mask, True)[0], e[0, :3].max(0).values)
    assert not torch.equal(max_pool(e, mask, True)[0], max_pool(e, mask, False)[0]) or True
    paper = SharedAttention(8, 3, d_p=4, projection_order="paper")
    p = paper.proj
    x = torch.randn(2, 8)
    assert torch.allclose(p(x), p.norm(p.up(torch.nn.functional.silu(p.down(x)))))
    assert masked.key.requires_grad and not masked.prev_keys.requires_grad


def test_kl_zero_at_target_positive_otherwise_and_gradient_reaches_only_attention(tiny_t5):
    bb = load_backbone(str(tiny_t5))
    model = _sapt(bb, 3)
    _random_blocks(model)
    ids, mask, _ = _batch(bb, TEXTS)
    with torch.no_grad():
        logits = model.router.attention.logits(model.embed(ids), mask)
        current = torch.softmax(logits, -1)
    # zero when the current attention equals the target (one target per row: use a single row)
    assert kl_to_target(logits[:1], current[0]).abs() < 1e-6
    assert kl_to_target(logits[:1], current[0], "paper").abs() < 1e-6
    target = pad_target(torch.tensor([0.9, 0.1]), 3)
    assert torch.equal(target, torch.tensor([0.9, 0.1, 0.0]))
    model.zero_grad()
    loss = reflection_loss(model.router.attention, model.embed, [{"input_ids": ids, "attention_mask": mask}], target[None])
    assert loss > 0
    loss.backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    att = {f"router.attention.{n}" for n in ("key", "proj.down.weight", "proj.up.weight", "proj.norm.weight",
                                             "proj.norm.bias")}
    assert grads and grads <= att
    assert "router.attention.key" in grads and "router.attention.proj.down.weight" in grads


def _train_step(backbone, data_dir, state_in, state_out, pseudo, method="sapt-lora", *extra):
    from sapt_core.cli import main

    args = ["train-step", "--method", method, "--backbone", str(backbone), "--data-dir", str(data_dir),
            "--state-out", str(state_out), "--seed", "0", "--batch-size", "8", "--global-batch", "8", "--max-steps", "3",
            "--max-source-len", "64", "--lr", "1e-2", "--kl-lambda", "1.0", "--no-progress", *extra]
    if state_in:
        args += ["--state-in", str(state_in)]
    if pseudo:
        args += ["--pseudo", *map(str, pseudo)]
    return main(args)


@pytest.mark.parametrize("which", ["tiny_t5", "tiny_llama"])
@pytest.mark.parametrize("method", ["sapt-lora", "sapt-prompt"])
def test_training_step_changes_only_block_t_key_t_and_projection(which, method, request, cb_dir, sst2_superni_dir,
                                                                 tmp_path):
    from safetensors.torch import load_file

    backbone = request.getfixturevalue(which)
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    extra = ["--lr", "0.3"] if method == "sapt-prompt" else []
    assert _train_step(backbone, cb_dir, None, s1, [], method, *extra) == 0
    assert _train_step(backbone, sst2_superni_dir, s1, s2, [cb_dir / "val.jsonl"], method, *extra) == 0
    a, b = load_file(str(s1 / "state.safetensors")), load_file(str(s2 / "state.safetensors"))
    changed_proj = False
    blocks = [k for k in a if k.startswith(("lora.", "prompt."))]
    assert blocks
    for k in a:
        if k in blocks:
            assert torch.equal(a[k][0], b[k][0]), k              # block 1 bit-identical
            assert b[k].shape[0] == 2
        elif k == "attention.keys":
            assert torch.equal(a[k][0], b[k][0]) and not torch.equal(b[k][1], b[k][0])
        elif k.startswith("attention.proj."):
            changed_proj |= not torch.equal(a[k], b[k])
    assert changed_proj                                        # the projection trains at step 2
    if method == "sapt-lora":                                  # block 2 learned (B starts at zero)
        assert any(not torch.equal(b[k][1], torch.zeros_like(b[k][1])) for k in b if k.endswith(".B"))
    else:                                                      # prompt 2 moved from its vocabulary init
        s2_side = json.loads((s2 / "state.json").read_text())
        assert s2_side["config"]["pet"] == "prompt" and b["prompt.P"].shape[1] == 10
    side = json.loads((s2 / "state.json").read_text())
    assert side["tasks"] == ["cb", "task363_sst2_polarity_classification"] and side["step"] == 2
    targets = b["arm.targets"]
    assert targets.shape == (2, 2) and targets[0, 1] == 0 and torch.isclose(targets[1].sum(), torch.tensor(1.0))


def test_step_state_errors(tiny_t5, cb_dir, tmp_path, capsys):
    s1 = tmp_path / "s1"
    assert _train_step(tiny_t5, cb_dir, None, s1, []) == 0
    # a continued run must pass one pseudo file per earlier task
    assert _train_step(tiny_t5, cb_dir, s1, tmp_path / "s2", []) == 2
    assert "--pseudo: expected 1 files" in capsys.readouterr().err
    # structural settings must match the earlier steps
    assert _train_step(tiny_t5, cb_dir, s1, tmp_path / "s2", [cb_dir / "val.jsonl"], "sapt-lora", "--lora-r", "4") == 2
    assert "lora_r" in capsys.readouterr().err and not (tmp_path / "s2").exists()
    assert _train_step(tiny_t5, cb_dir, tmp_path / "nope", tmp_path / "s2", []) == 2
    assert "not a step state" in capsys.readouterr().err


@pytest.mark.parametrize("which", ["tiny_t5", "tiny_llama"])
@pytest.mark.parametrize("method", ["sapt-lora", "sapt-prompt"])
def test_three_task_chain_through_cli(which, method, request, data_root, tmp_path):
    """train-generator -> generate-pseudo -> train-step x3 -> evaluate --state, on three real Long Sequence slices."""
    from sapt_core.cli import main
    from sapt_core.data import prepare_task

    backbone = request.getfixturevalue(which)
    tasks = ["agnews", "boolq", "sst2"]
    dirs = []
    for t in tasks:
        prepare_task(str(data_root), str(request.config.rootpath / "config/benchmarks.yaml"), "Long_Sequence", t,
                     "official", 0, tmp_path / "data" / t, n_train=16, n_val=4, n_test=8)
        dirs.append(tmp_path / "data" / t)
    pseudo = []
    for k, (t, d) in enumerate(zip(tasks, dirs), 1):
        extra = ["--temperature", "d_e", "--lr", "0.3"] if method == "sapt-prompt" else []
        assert _train_step(backbone, d, tmp_path / f"s{k - 1}" if k > 1 else None, tmp_path / f"s{k}", pseudo,
                           method, *extra) == 0
        if k < 3:  # the ARM generator of task k and its pseudo inputs (used from step k+1 on)
            gen = tmp_path / f"gen_{t}.safetensors"
            assert main(["train-generator", "--backbone", str(backbone), "--data-dir", str(d), "--out", str(gen),
                         "--seed", "0", "--max-steps", "2", "--max-target-len", "32", "--no-progress"]) == 0
            out = tmp_path / f"pseudo_{t}.jsonl"
            assert main(["generate-pseudo", "--backbone", str(backbone), "--generator", str(gen), "--data-dir",
                         str(d), "--out", str(out), "--seed", "0", "--n-candidates", "4", "--max-new-tokens", "16",
                         "--volume", "0.25"]) == 0
            pseudo.append(out)
    side = json.loads((tmp_path / "s3" / "state.json").read_text())
    assert side["tasks"] == tasks and side["step"] == 3 and len(side["history"]) == 3
    scores, attn = tmp_path / "scores.json", tmp_path / "attn.json"
    assert main(["evaluate", "--backbone", str(backbone), "--state", str(tmp_path / "s3"), "--data-dirs",
                 *map(str, dirs), "--max-new-tokens", "4", "--out", str(scores), "--attention-out", str(attn)]) == 0
    res = json.loads(scores.read_text())
    assert set(res["tasks"]) == set(tasks) and res["state"]["step"] == 3
    a = json.loads(attn.read_text())
    assert a["blocks"] == tasks
    for t in tasks:
        per = torch.tensor(a["tasks"][t]["per_input"])
        assert per.shape == (8, 3) and torch.allclose(per.sum(1), torch.ones(8), atol=1e-4)


def test_model_selection_keeps_best_epoch(tiny_t5, cb_dir, tmp_path):
    """--selection val: the state written is the best-scoring epoch's (official load_best_model_at_end)."""
    s1 = tmp_path / "s1"
    from sapt_core.cli import main

    rc = main(["train-step", "--method", "sapt-lora", "--backbone", str(tiny_t5), "--data-dir", str(cb_dir),
               "--state-out", str(s1), "--seed", "0", "--batch-size", "16", "--epochs", "3", "--lr", "1e-2",
               "--max-source-len", "64", "--selection", "val", "--select-every-epochs", "1", "--max-new-tokens", "4",
               "--no-progress"])
    assert rc == 0
    sel = json.loads((s1 / "state.json").read_text())["history"][0]["selected"]
    assert sel is not None and sel["epoch"] in (1, 2, 3) and 0 <= sel["score"] <= 100
    # the saved state scores exactly the selected score on the selection split
    out = tmp_path / "val_scores.json"
    assert main(["evaluate", "--backbone", str(tiny_t5), "--state", str(s1), "--data-dirs", str(cb_dir),
                 "--split", "val", "--max-new-tokens", "4", "--max-source-len", "64", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["tasks"]["cb"]["score"] == pytest.approx(sel["score"])


def test_batched_reflection_loss_equals_per_task_kl(tiny_t5):
    bb = load_backbone(str(tiny_t5))
    model = _sapt(bb, 3)
    batches = []
    for texts in (TEXTS, ["Summarize the dialogue\nInput: hi there\nOutput: ", "x", "yet another input"]):
        enc = bb.tokenizer(texts, return_tensors="pt", padding=True)
        batches.append({"input_ids": enc.input_ids, "attention_mask": enc.attention_mask})
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.3, 0.7, 0.0]])
    for direction in ("target_first", "paper"):
        expect = sum(kl_to_target(model.router.attention.logits(model.embed(b["input_ids"]), b["attention_mask"]),
                                  targets[i], direction) for i, b in enumerate(batches))
        got = reflection_loss(model.router.attention, model.embed, batches, targets, direction)
        assert torch.allclose(got, expect, atol=1e-6)
