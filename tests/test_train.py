"""QLoRA training on a tiny random model: what the recipe promises, checked on CPU."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpp2py.config import from_dict, load_config
from cpp2py.errors import Cpp2PyError
from cpp2py.train import TrainConfig, build_trainer, load_records, merge_adapter, train

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
PAIRS = [
    ("int add(int a, int b) { return a + b; }", "def add(a, b):\n    return a + b"),
    ("for (int i = 0; i < n; i++) { cout << i << endl; }", "for i in range(n):\n    print(i)"),
    ("cout << \"hello\";", "print('hello', end='')"),
]


@pytest.fixture()
def data(tmp_path):
    rows = [{"id": f"ex{i}", "cpp": PAIRS[i % 3][0], "python": PAIRS[i % 3][1], "source": "test"} for i in range(16)]
    train_path, val_path = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    train_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    val_path.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    return train_path, val_path


def _cfg(model_dir, data, out, **over) -> TrainConfig:
    raw = {"model": str(model_dir), "data": {"train": str(data[0]), "val": None, "max_length": 512},
           "quantization": {"load_in_4bit": False}, "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
           "optim": {"lr": 5e-2, "optimizer": "adamw_torch", "warmup_ratio": 0.0},
           "batch": {"per_device_batch_size": 4, "grad_accum": 1}, "max_steps": 2, "save_steps": 100,
           "logging_steps": 1, "gradient_checkpointing": False, "output_dir": str(out), "report_to": []}
    for key, value in over.items():
        section, _, leaf = key.partition("__")
        if leaf:
            raw.setdefault(section, {})[leaf] = value
        else:
            raw[section] = value
    return from_dict(TrainConfig, raw)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_config_parses(path):
    cfg = load_config(TrainConfig, path)
    assert cfg.quantization.quant_type == "nf4" and cfg.quantization.double_quant
    assert cfg.optim.optimizer == "paged_adamw_32bit" and cfg.optim.scheduler == "cosine"
    # the Qwen recipes learn whole programs; the 8B reference recipe keeps the seed's 512
    assert cfg.data.max_length == (512 if "llama" in path.name else 1024)


def test_config_rejects_unknown_keys_and_wrong_types(tmp_path):
    assert len(CONFIGS) >= 3
    with pytest.raises(Cpp2PyError, match="unknown key"):
        load_config(TrainConfig, CONFIGS[0], ["lora.rank=8"])
    with pytest.raises(Cpp2PyError, match="expected an integer"):
        load_config(TrainConfig, CONFIGS[0], ["lora.r=big"])


def test_overlong_and_empty_examples_are_dropped_and_counted(tmp_path, tiny_model_dir):
    from cpp2py.generation.model import load_tokenizer

    rows = [{"id": "a", "cpp": "int x;", "python": "x = 0"}, {"id": "b", "cpp": "int y;" * 400, "python": "y = 0"},
            {"id": "c", "cpp": "int z;", "python": "  "}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recs, stats = load_records([str(path)], "chat", load_tokenizer(str(tiny_model_dir)), 256)
    assert [r["id"] for r in recs] == ["a"]
    assert stats["too_long"] == 1 and stats["empty"] == 1 and stats["kept"] == 1
    with pytest.raises(Cpp2PyError, match="no such data file"):
        load_records([str(tmp_path / "missing.jsonl")], "chat", None, 256)


@pytest.mark.parametrize("fixture", ["tiny_model_dir", "tiny_plain_model_dir"])
def test_eos_is_a_trained_label(request, fixture, data, tmp_path):
    model_dir = request.getfixturevalue(fixture)
    trainer, _, stats = build_trainer(_cfg(model_dir, data, tmp_path / "o"), tmp_path / "w")
    eos = trainer.processing_class.eos_token_id
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(3)])  # trl's tokenisation + collator
    assert stats["style"] == ("chat" if fixture == "tiny_model_dir" else "plain")
    for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist()):
        trained = [i for i, lab in enumerate(labels) if lab != -100]
        eos_positions = [i for i in trained if ids[i] == eos]
        assert eos_positions, "EOS is never a trained label"
        assert labels[eos_positions[-1]] == eos
        assert trained[0] > 5  # the prompt is not trained


def test_qlora_quantises_and_training_moves_only_lora(tiny_model_dir, data, tmp_path):
    import bitsandbytes as bnb
    import torch

    cfg = _cfg(tiny_model_dir, data, tmp_path / "o", quantization={"load_in_4bit": True},
               optim={"lr": 5e-2, "optimizer": "paged_adamw_32bit", "warmup_ratio": 0.0})
    trainer, _, _ = build_trainer(cfg, tmp_path / "w")
    layers = [m for m in trainer.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers and all(l.weight.quant_state.quant_type == "nf4" and l.weight.quant_state.nested for l in layers)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    lora = [n for n in before if "lora_B" in n]
    assert lora and all(not torch.equal(before[n], after[n]) for n in lora)
    base = [n for n in before if "lora_" not in n]
    assert base and all(torch.equal(before[n], after[n].detach()) for n in base)


class _Crash(Exception):
    pass


def test_resume_continues_the_step_count_and_output_is_atomic(tiny_model_dir, data, tmp_path):
    from transformers import TrainerCallback

    class CrashAt3(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise _Crash()

    out = tmp_path / "adapter"
    cfg = _cfg(tiny_model_dir, data, out, max_steps=4, save_steps=2)
    with pytest.raises(_Crash):
        train(cfg, callbacks=[CrashAt3()])
    assert not out.exists() and (tmp_path / "adapter.partial" / "checkpoint-2").is_dir()
    train(cfg, resume=True)
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["steps"] == 4 and metrics["resumed"] and metrics["trainer_runtime_s"] > 0
    assert [p["step"] for p in metrics["loss_curve"]] == [1, 2, 3, 4]  # the curve spans both sessions
    for name in ("adapter_model.safetensors", "adapter_config.json", "prompt.json", "train_config.yaml",
                 "tokenizer_config.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_model_dir)
    with pytest.raises(Cpp2PyError, match="already exists"):
        train(cfg)


def test_nan_guard_skips_the_step_and_names_the_batch(tiny_model_dir, data, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file
    from trl import SFTTrainer

    original = SFTTrainer.compute_loss

    def poisoned(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = original(self, model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        if model.training and self.state.global_step == 1:
            return loss * float("nan")
        return loss

    monkeypatch.setattr(SFTTrainer, "compute_loss", poisoned)
    out = tmp_path / "adapter"
    train(_cfg(tiny_model_dir, data, out, max_steps=3))
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["skipped_nonfinite_steps"] == [2]
    logged = [json.loads(l) for l in (out / "nonfinite_batches.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [2] and logged[0]["nonfinite_loss"]
    assert all(i.startswith("ex") for i in logged[0]["batches"][0]["ids"]) and logged[0]["batches"][0]["lengths"]
    assert all(torch.isfinite(t).all() for t in load_file(str(out / "adapter_model.safetensors")).values())


def test_nan_guard_log_is_per_rank(tiny_model_dir, data, tmp_path, monkeypatch):
    from cpp2py import ranks

    cfg = _cfg(tiny_model_dir, data, tmp_path / "o")
    _, guard, _ = build_trainer(cfg, tmp_path / "w")
    assert guard.log_path == tmp_path / "w" / "nonfinite_batches.jsonl"
    # under DDP every rank appends its own batches; one shared file would interleave their lines
    monkeypatch.setattr(ranks, "rank", lambda: 1)
    _, guard, _ = build_trainer(cfg, tmp_path / "w")
    assert guard.log_path == tmp_path / "w" / "nonfinite_batches.rank1.jsonl"


def test_merge_matches_base_plus_adapter(tiny_model_dir, data, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from peft import PeftModel

    from cpp2py.generation.model import load_adapter_model

    adapter = train(_cfg(tiny_model_dir, data, tmp_path / "adapter", adapter_dtype="fp32"))
    _, tok, style = load_adapter_model(adapter, quantization="none", dtype="fp32")
    assert style == "chat"
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(adapter))
    merged_dir = merge_adapter(adapter, tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
    assert (merged_dir / "prompt.json").is_file()
    ids = tok("def add(a, b):\n    return a + b", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        want, got = peft_model(ids).logits, merged(ids).logits
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)(ids).logits
    assert not torch.allclose(want, base, atol=1e-3)  # the adapter does something
    assert torch.allclose(want, got, atol=0.05, rtol=0.02)  # merged in bf16


def test_sft_config_is_strict_and_receives_the_speed_options(tiny_model_dir, data, tmp_path):
    from dataclasses import dataclass

    from cpp2py.train.sft import sft_config, strict_init

    cfg = _cfg(tiny_model_dir, data, tmp_path / "o", liger_kernel=True, torch_compile=True,
               batch={"per_device_batch_size": 4, "grad_accum": 1, "packing": True, "padding_free": True},
               optim={"lr": 1e-3, "warmup_ratio": 0.1})
    args = sft_config(cfg, tmp_path / "w", has_eval=False, on_gpu=False)
    assert args.use_liger_kernel and args.torch_compile and args.padding_free and args.packing
    assert args.warmup_steps == 0.1  # transformers 5 has no warmup_ratio; the ratio must not be dropped

    @dataclass
    class Narrow:
        known: int = 0

    assert strict_init(Narrow, {"known": 1}).known == 1
    with pytest.raises(Cpp2PyError, match="no field lost_option"):
        strict_init(Narrow, {"known": 1, "lost_option": 2})


def test_speed_options_refuse_what_cannot_work(tiny_model_dir, data, tmp_path):
    import importlib.util

    with pytest.raises(Cpp2PyError, match="needs padding-free batches"):
        build_trainer(_cfg(tiny_model_dir, data, tmp_path / "o", attn_implementation="cpp2py_varlen"), tmp_path / "w")
    if importlib.util.find_spec("liger_kernel") is None:
        with pytest.raises(Cpp2PyError, match="liger-kernel"):
            build_trainer(_cfg(tiny_model_dir, data, tmp_path / "o", liger_kernel=True), tmp_path / "w")


def _eval_loss(trainer, n: int = 6) -> float:
    import torch

    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(n)])
    batch.pop("cpp2py_ids"), batch.pop("cpp2py_lengths")
    trainer.model.eval()
    with torch.no_grad():
        return float(trainer.compute_loss(trainer.model, batch))


@pytest.mark.parametrize("batch, attn", [({"padding_free": True}, "cpp2py_varlen"), ({"padding_free": True}, None),
                                         ({"packing": True}, "cpp2py_varlen")])
def test_padding_free_loss_equals_padded_loss(tiny_model_dir, data, tmp_path, batch, attn):
    base = {"per_device_batch_size": 4, "grad_accum": 1, "group_by_length": False}
    padded = build_trainer(_cfg(tiny_model_dir, data, tmp_path / "o", batch=base), tmp_path / "w1")[0]
    flat = build_trainer(_cfg(tiny_model_dir, data, tmp_path / "o", batch={**base, **batch},
                              attn_implementation=attn), tmp_path / "w2")[0]
    assert flat.model.config._attn_implementation == (attn or "sdpa")
    if "packing" not in batch:
        assert "position_ids" in flat.data_collator([flat.train_dataset[0], flat.train_dataset[1]])
        assert _eval_loss(flat) == pytest.approx(_eval_loss(padded), rel=1e-5)
    else:  # packed rows hold other examples than the padded batch: compare each with its own padded loss
        assert flat.train_dataset[0]["seq_lengths"] and len(flat.train_dataset) < len(padded.train_dataset)
        assert _eval_loss(flat, 2) == pytest.approx(_loss_of_packed_examples(padded, flat, 2), rel=1e-5)


def _loss_of_packed_examples(padded, packed, rows: int) -> float:
    """The padded trainer's loss over the examples that the first ``rows`` packed rows hold."""
    import torch

    wanted = [ids for r in range(rows) for ids in _split(packed.train_dataset[r])]
    by_ids = {tuple(ex["input_ids"]): ex for ex in padded.train_dataset}
    batch = padded.data_collator([by_ids[tuple(ids)] for ids in wanted])
    batch.pop("cpp2py_ids"), batch.pop("cpp2py_lengths")
    padded.model.eval()
    with torch.no_grad():
        return float(padded.compute_loss(padded.model, batch))


def _split(row):
    out, start = [], 0
    for n in row["seq_lengths"]:
        out.append(row["input_ids"][start:start + n])
        start += n
    return out


def test_token_metrics_off_keeps_the_loss_and_logs_no_metrics(tiny_model_dir, data, tmp_path):
    from transformers import TrainerCallback

    on = build_trainer(_cfg(tiny_model_dir, data, tmp_path / "o"), tmp_path / "w1")[0]
    logged: list[dict] = []

    class Logs(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            logged.append(dict(logs or {}))

    cfg = _cfg(tiny_model_dir, data, tmp_path / "adapter", token_metrics=False, eval_steps=1, data__val=str(data[1]))
    off = build_trainer(cfg, tmp_path / "w2")[0]
    assert _eval_loss(off) == pytest.approx(_eval_loss(on), rel=1e-6)
    out = train(cfg, callbacks=[Logs()])
    assert any("loss" in entry for entry in logged) and any("eval_loss" in entry for entry in logged)
    assert not any("entropy" in k or "token_accuracy" in k for entry in logged for k in entry)
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert 0 < metrics["eval_time_s"] < metrics["wall_time_s"]
    # the share comes from the unrounded times; the two times are recorded to 0.01 s (a tiny run's are tenths)
    e, w, half = metrics["eval_time_s"], metrics["wall_time_s"], 0.005
    assert (e - half) / (w + half) - 1e-4 <= metrics["eval_share_of_wall"] <= (e + half) / (w - half) + 1e-4


def test_checkpoint_layers_keeps_the_recompute_to_a_share_of_layers(tiny_model_dir, data, tmp_path):
    from transformers import TrainerCallback
    from transformers.modeling_layers import GradientCheckpointingLayer

    seen: list[list[bool]] = []

    class Look(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kw):
            seen.append([m.gradient_checkpointing for m in model.modules() if isinstance(m, GradientCheckpointingLayer)])

    cfg = _cfg(tiny_model_dir, data, tmp_path / "o", gradient_checkpointing=True, checkpoint_layers=0.5, max_steps=1)
    trainer, _, _ = build_trainer(cfg, tmp_path / "w", callbacks=[Look()])
    trainer.train()
    assert seen == [[True, False]]  # the tiny model's two layers: the first recomputes, the second keeps
    with pytest.raises(Cpp2PyError, match="checkpoint_layers"):
        build_trainer(_cfg(tiny_model_dir, data, tmp_path / "o", checkpoint_layers=0.0), tmp_path / "w")
    with pytest.raises(Cpp2PyError, match="warmup_ratio"):
        build_trainer(_cfg(tiny_model_dir, data, tmp_path / "o", optim={"warmup_ratio": 3.0}), tmp_path / "w")


@pytest.mark.parametrize("upcast", [True, False])
def test_upcast_fp32_decides_what_norms_and_embeddings_are_stored_as(tiny_model_dir, data, upcast):
    import torch

    from cpp2py.train.qlora import build_model_and_tokenizer

    cfg = _cfg(tiny_model_dir, data, "unused", quantization={"load_in_4bit": True, "compute_dtype": "bf16"},
               upcast_fp32=upcast)
    model, _ = build_model_and_tokenizer(cfg)
    dtypes = {n: p.dtype for n, p in model.named_parameters() if p.is_floating_point()}
    base = {d for n, d in dtypes.items() if "lora_" not in n}
    assert base == {torch.float32 if upcast else torch.bfloat16}
    assert {d for n, d in dtypes.items() if "lora_" in n} == {torch.float32}  # the adapters stay fp32 either way
