"""Scaling out: the accelerate launcher and its configs, rank helpers under a real gloo process group,
and sharded translation that merges in input order and loses nothing when a shard is rerun."""
from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from cpp2py import ranks
from cpp2py.jobs import sharding
from cpp2py.train import launch
from cpp2py.errors import Cpp2PyError
from cpp2py.files import JsonlAppender, read_jsonl, write_jsonl

REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------ launcher + configs
@pytest.mark.parametrize("strategy,config", [("ddp", "ddp.yaml"), ("fsdp", "fsdp-qlora.yaml")])
def test_accelerate_command_for_n_gpus(strategy, config):
    cmd = launch.accelerate_command(4, strategy, ["--config", "c.yaml", "lora.r=8", "--resume"])
    assert cmd[:2] == ["accelerate", "launch"]
    cfg_path = Path(cmd[cmd.index("--config_file") + 1])
    assert cfg_path == REPO / "configs" / "accelerate" / config and cfg_path.is_file()
    assert cmd[cmd.index("--num_processes") + 1] == "4"
    # the training command and its arguments follow the module flag untouched
    assert cmd[cmd.index("-m") + 1:] == ["cpp2py", "train", "--config", "c.yaml", "lora.r=8", "--resume"]


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
@pytest.mark.parametrize("n", [2, 8])
def test_accelerate_accepts_the_command_and_n_overrides_the_config(strategy, n):
    """Feed the launch arguments to accelerate's own parser, and the config they name to its own loader."""
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    cmd = launch.accelerate_command(n, strategy, ["--config", "c.yaml"])
    args = launch_command_parser().parse_args(cmd[2:])
    assert args.num_processes == n  # the command line, whatever the file says
    assert args.module and args.training_script == "cpp2py"
    loaded = load_config_from_file(args.config_file)
    assert loaded.mixed_precision == "bf16"
    if strategy == "fsdp":
        assert loaded.distributed_type.value == "FSDP"
        assert loaded.fsdp_config["fsdp_use_orig_params"] is False
        assert loaded.fsdp_config["fsdp_cpu_ram_efficient_loading"] is True
        assert loaded.fsdp_config["fsdp_sync_module_states"] is True
        assert loaded.fsdp_config["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    else:
        assert loaded.distributed_type.value == "MULTI_GPU"


def test_config_files_have_what_accelerate_needs():
    from accelerate.commands.config.config_args import load_config_from_file

    for name, kind in [("ddp.yaml", "MULTI_GPU"), ("fsdp-qlora.yaml", "FSDP")]:
        path = REPO / "configs" / "accelerate" / name
        raw = yaml.safe_load(path.read_text())
        for key in ("compute_environment", "distributed_type", "num_machines", "num_processes", "mixed_precision"):
            assert key in raw, f"{name}: {key}"
        loaded = load_config_from_file(str(path))  # rejects unknown keys
        assert loaded.distributed_type.value == kind and loaded.mixed_precision == "bf16"
    fsdp = yaml.safe_load((REPO / "configs/accelerate/fsdp-qlora.yaml").read_text())["fsdp_config"]
    assert fsdp["fsdp_sharding_strategy"] == "FULL_SHARD"
    assert fsdp["fsdp_state_dict_type"] == "SHARDED_STATE_DICT"


def test_bad_launch_options_are_clear_errors():
    with pytest.raises(Cpp2PyError, match="--strategy"):
        launch.accelerate_command(2, "zero3", [])
    with pytest.raises(Cpp2PyError, match="at least 1"):
        launch.accelerate_command(0, "ddp", [])


def test_launch_options_are_stripped_for_the_launched_processes():
    argv = ["--config", "c.yaml", "--num-gpus", "2", "lora.r=8", "--strategy=fsdp", "--resume"]
    assert launch.strip_launch_options(argv) == ["--config", "c.yaml", "lora.r=8", "--resume"]


def test_launch_training_execs_accelerate_with_multicast_off(monkeypatch):
    import torch

    seen = {}
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("NCCL_NVLS_ENABLE", raising=False)
    monkeypatch.setattr(launch.os, "execv", lambda exe, cmd: seen.update(exe=exe, cmd=cmd))
    launch.launch_training(2, "ddp", ["--config", "c.yaml"])
    assert seen["cmd"][-4:] == ["cpp2py", "train", "--config", "c.yaml"]
    assert "--num_processes" in seen["cmd"] and os.environ["NCCL_NVLS_ENABLE"] == "0"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    seen.clear()
    with pytest.raises(Cpp2PyError, match="this machine has 1 GPU"):
        launch.launch_training(2, "ddp", ["--config", "c.yaml"])
    assert not seen  # nothing launched


# ------------------------------------------------------------------------------------------- rank helpers
def test_placement_follows_the_launch(monkeypatch):
    import torch

    for var in ("WORLD_SIZE", "LOCAL_RANK", "RANK", "ACCELERATE_USE_FSDP"):
        monkeypatch.delenv(var, raising=False)
    assert ranks.strategy() == "single" and ranks.device_map_for_rank() is None and ranks.quantization_overrides() == {}
    assert ranks.is_main_process() and ranks.world_size() == 1

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("RANK", "1")
    assert ranks.strategy() == "ddp" and not ranks.is_main_process()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ranks.device_map_for_rank() == {"": 1}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ranks.device_map_for_rank() is None  # DDP on CPU: nothing to pin

    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ranks.strategy() == "fsdp" and ranks.device_map_for_rank() is None
    assert ranks.quantization_overrides() == {"bnb_4bit_quant_storage": torch.bfloat16}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gloo_worker(rank: int, port: int, out: str) -> None:
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        out_dir = Path(out)
        torch.manual_seed(rank)  # ranks hold different weights, so the saved file shows who wrote it
        model = torch.nn.Linear(4, 2)

        @ranks.main_process_only
        def save(tag: str) -> str:
            with (out_dir / "writers.log").open("a") as f:
                f.write(f"{ranks.rank()}\n")
            torch.save(model.state_dict(), out_dir / "adapter.pt")
            (out_dir / "metrics.json").write_text(json.dumps({"tag": tag}))
            return tag

        # every rank contributes tokens; the total is the whole job's
        tokens = ranks.reduce_sum(100 + rank)
        peak = ranks.reduce_max(rank * 10)
        result = save("done")
        # after the decorated call returns, the output is complete for every rank to read
        saved = torch.load(out_dir / "adapter.pt")
        (out_dir / f"rank{rank}.json").write_text(json.dumps(
            {"rank": ranks.rank(), "world": ranks.world_size(), "main": ranks.is_main_process(), "result": result,
             "tokens": tokens, "peak": peak, "bias": saved["bias"].tolist()}))
    finally:
        dist.destroy_process_group()


def test_only_rank0_writes_under_gloo(tmp_path):
    import torch
    import torch.multiprocessing as mp

    mp.spawn(_gloo_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    assert (tmp_path / "writers.log").read_text().split() == ["0"]  # one writer, rank 0
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(r["rank"], r["world"], r["main"], r["result"]) for r in reports] == [
        (0, 2, True, "done"), (1, 2, False, None)]
    assert all(r["tokens"] == 201 and r["peak"] == 10 for r in reports)
    torch.manual_seed(0)
    rank0_bias = torch.nn.Linear(4, 2).bias.tolist()
    assert all(r["bias"] == pytest.approx(rank0_bias) for r in reports)  # rank 0's weights, read by both


def _tiny_recipe(tmp_path: Path, model_dir: Path, **over) -> dict:
    pairs = [("int add(int a, int b) { return a + b; }", "def add(a, b):\n    return a + b"),
             ("cout << \"hi\";", "print('hi', end='')")]
    data = tmp_path / "train.jsonl"
    write_jsonl(data, [{"id": f"ex{i}", "cpp": pairs[i % 2][0] + " " * i, "python": pairs[i % 2][1]}
                       for i in range(8)])
    return {"model": str(model_dir), "data": {"train": str(data), "val": None},
            "quantization": {"load_in_4bit": False}, "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
            "optim": {"optimizer": "adamw_torch"}, "batch": {"per_device_batch_size": 2, "grad_accum": 1},
            "max_steps": 2, "logging_steps": 1, "gradient_checkpointing": False, "report_to": [], **over}


def _write_recipe(path: Path, recipe: dict) -> Path:
    path.write_text(yaml.safe_dump(recipe))
    return path


def _train_in_two_cpu_processes(config: Path, *args: str) -> str:
    """`cpp2py train` as accelerate/torchrun would start it on 2 GPUs, here 2 CPU processes over gloo."""
    import subprocess

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", **ranks.SAFE_NCCL_ENV}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", str(_free_port()), "-m", "cpp2py", "train", "--config", str(config),
                           *args], capture_output=True, text=True, env=env, cwd=config.parent, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_real_training_in_two_gloo_processes_writes_once_and_counts_every_rank(tmp_path, tiny_model_dir):
    """`cpp2py train` in 2 CPU processes (gloo) on the tiny model: one adapter, written by rank 0 alone,
    evaluation on the way, and tokens/s over the tokens of both ranks (the same data one process sees)."""
    from cpp2py.config import load_config
    from cpp2py.train import TrainConfig, train

    recipe = _tiny_recipe(tmp_path, tiny_model_dir, eval_steps=1, output_dir=str(tmp_path / "ddp"))
    recipe["data"]["val"] = recipe["data"]["train"]
    stdout = _train_in_two_cpu_processes(_write_recipe(tmp_path / "recipe.yaml", recipe))
    assert stdout.count("adapter written to") == 1  # rank 1 trains but neither writes nor reports
    out = tmp_path / "ddp"
    assert (out / "adapter_model.safetensors").is_file() and not (tmp_path / "ddp.partial").exists()
    ddp = json.loads((out / "train_metrics.json").read_text())
    assert ddp["steps"] == 2 and 0 < ddp["trainer_runtime_s"] <= ddp["wall_time_s"] + 1
    assert [v["step"] for v in ddp["val_curve"]] == [1, 2] and ddp["final_val_loss"] > 0  # eval split over ranks

    # One process with the same global batch (2 x 2 = 4) sees the same 8 examples in its 2 steps.
    recipe.update(batch={"per_device_batch_size": 4, "grad_accum": 1}, output_dir=str(tmp_path / "one"))
    one = json.loads((train(load_config(TrainConfig, _write_recipe(tmp_path / "one.yaml", recipe)))
                      / "train_metrics.json").read_text())
    assert ddp["tokens_seen"] == one["tokens_seen"] > 0


def test_a_run_interrupted_on_one_process_resumes_on_two(tmp_path, tiny_model_dir):
    """--resume under DDP: every rank reloads the last checkpoint and the step count goes on from it."""
    from transformers import TrainerCallback

    from cpp2py.config import load_config
    from cpp2py.train import TrainConfig, train

    class Interrupted(Exception):
        pass

    class StopAt3(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise Interrupted

    out = tmp_path / "adapter"
    recipe = _tiny_recipe(tmp_path, tiny_model_dir, max_steps=4, save_steps=2, output_dir=str(out),
                          batch={"per_device_batch_size": 4, "grad_accum": 1})
    with pytest.raises(Interrupted):
        train(load_config(TrainConfig, _write_recipe(tmp_path / "one.yaml", recipe)), callbacks=[StopAt3()])
    assert (tmp_path / "adapter.partial" / "checkpoint-2").is_dir() and not out.exists()

    recipe["batch"] = {"per_device_batch_size": 2, "grad_accum": 1}  # the same global batch on 2 processes
    stdout = _train_in_two_cpu_processes(_write_recipe(tmp_path / "two.yaml", recipe), "--resume")
    assert stdout.count("adapter written to") == 1
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["steps"] == 4 and metrics["resumed"]
    assert [p["step"] for p in metrics["loss_curve"]] == [1, 2, 3, 4]  # the curve spans both runs


# --------------------------------------------------------------------------------- sharded translation
def test_shards_are_dealt_round_robin_and_cover_everything():
    items = list(range(11))
    shards = [sharding.shard_items(items, 3, s) for s in range(3)]
    assert shards[0] == [0, 3, 6, 9] and shards[2] == [2, 5, 8]
    assert sorted(x for s in shards for x in s) == items
    assert sharding.parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0", "-1/2"):
        with pytest.raises(Cpp2PyError, match="--shard"):
            sharding.parse_shard(bad)


def _bench(tmp_path: Path, n: int) -> Path:
    # lengths vary so any order other than the input's would show
    return _write(tmp_path / "bench.jsonl", [{"id": f"item-{i}", "cpp": "x" * ((i * 7) % 5 + 1)} for i in range(n)])


def _write(path: Path, records) -> Path:
    write_jsonl(path, records)
    return path


def fake_translate(device: str, input_path: Path, output_path: Path, cfg) -> None:
    """A stand-in for translate_jsonl: appends one result per item, skips done ids, can crash midway."""
    log = Path(cfg.log)
    with JsonlAppender(output_path, resume=cfg.resume) as out:
        # finish in a different order than the input (longest first), as length-sorted batching does
        for n, item in enumerate(sorted(read_jsonl(input_path), key=lambda r: -len(r["cpp"]))):
            if item["id"] in out.done_ids:
                continue
            if cfg.crash_device == device and n >= cfg.crash_after:
                raise RuntimeError(f"simulated crash on device {device}")
            with log.open("a") as f:
                f.write(item["id"] + "\n")
            out.write({"id": item["id"], "prediction": f"# {item['cpp']}", "device": device})


def _cfg(tmp_path, **kw):
    return SimpleNamespace(resume=True, log=str(tmp_path / "translated.log"), crash_device=None, crash_after=0, **kw)


def test_sharded_translation_merges_in_input_order_and_resumes(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    bench, preds = _bench(tmp_path, 13), tmp_path / "out" / "predictions.jsonl"
    ids = [r["id"] for r in read_jsonl(bench)]

    crashing = _cfg(tmp_path)
    crashing.crash_device, crashing.crash_after = "1", 2
    with pytest.raises(Cpp2PyError, match="shard 1/3: RuntimeError: simulated crash"):
        sharding.translate_sharded(bench, preds, crashing, 3, worker=fake_translate)
    assert not preds.exists()  # nothing merged that looks complete
    first_run = (tmp_path / "translated.log").read_text().split()
    assert len(first_run) == 13 - (len(ids[1::3]) - 2)  # shard 1 stopped after 2 items, others finished

    sharding.translate_sharded(bench, preds, _cfg(tmp_path), 3, worker=fake_translate)
    merged = list(read_jsonl(preds))
    assert [r["id"] for r in merged] == ids  # input order, each id once
    assert all(r["device"] == str(ids.index(r["id"]) % 3) for r in merged)
    translated = (tmp_path / "translated.log").read_text().split()
    assert sorted(translated) == sorted(ids)  # the rerun only did what was missing: nothing twice
    assert not sharding.shard_dir(preds).exists()


def test_resume_from_finished_predictions_with_another_gpu_count(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    bench, preds = _bench(tmp_path, 7), tmp_path / "predictions.jsonl"
    sharding.translate_sharded(bench, preds, _cfg(tmp_path), 2, worker=fake_translate)
    before = preds.read_text()
    sharding.translate_sharded(bench, preds, _cfg(tmp_path), 3, worker=fake_translate)
    assert preds.read_text() == before
    assert len((tmp_path / "translated.log").read_text().split()) == 7  # nothing redone


def test_visible_devices_are_respected(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    bench, preds = _bench(tmp_path, 4), tmp_path / "predictions.jsonl"
    sharding.translate_sharded(bench, preds, _cfg(tmp_path), 2, worker=fake_translate)
    assert [r["device"] for r in read_jsonl(preds)] == ["5", "7", "5", "7"]
    with pytest.raises(Cpp2PyError, match="names only 2"):
        sharding.translate_sharded(bench, preds, _cfg(tmp_path), 3, worker=fake_translate)


def test_more_gpus_than_the_machine_has_is_a_clear_error(tmp_path, monkeypatch):
    import torch

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    bench = tmp_path / "b.jsonl"
    write_jsonl(bench, [{"id": "a", "cpp": "int f();"}])
    ran = []
    worker = lambda device, inp, out, cfg: ran.append(device)  # noqa: E731
    with pytest.raises(Cpp2PyError, match="this machine has 1 GPU"):
        sharding.translate_sharded(bench, tmp_path / "p.jsonl", SimpleNamespace(resume=True, device="auto"), 2, worker=worker)
    assert not ran and not (tmp_path / "p.jsonl").exists()


def test_merge_refuses_when_ids_are_missing(tmp_path):
    bench = _bench(tmp_path, 5)
    part0 = _write(tmp_path / "s0.jsonl", [{"id": "item-0", "prediction": "a"}, {"id": "item-2", "prediction": "c"}])
    part1 = _write(tmp_path / "s1.jsonl", [{"id": "item-3", "prediction": "d"}])
    preds = tmp_path / "predictions.jsonl"
    with pytest.raises(Cpp2PyError, match=r"2 of 5 items have no result: item-1, item-4"):
        sharding.merge_shards(bench, [part0, part1], preds)
    assert not preds.exists()


def test_merge_takes_the_rerun_line_and_ignores_strangers(tmp_path):
    bench = _bench(tmp_path, 2)
    part = _write(tmp_path / "s.jsonl", [{"id": "item-1", "prediction": "old"}, {"id": "zzz", "prediction": "?"},
                                         {"id": "item-0", "prediction": "a"}, {"id": "item-1", "prediction": "new"}])
    out = sharding.merge_shards(bench, [part], tmp_path / "p.jsonl")
    assert [(r["id"], r["prediction"]) for r in read_jsonl(out)] == [("item-0", "a"), ("item-1", "new")]


def test_benchmark_without_ids_or_with_duplicates_is_refused(tmp_path):
    for records, msg in [([{"cpp": "a"}], "needs an \"id\""), ([{"id": 1, "cpp": "a"}] * 2, "appears twice")]:
        bench = _write(tmp_path / "b.jsonl", records)
        with pytest.raises(Cpp2PyError, match=msg):
            sharding.translate_sharded(bench, tmp_path / "p.jsonl", _cfg(tmp_path), 2, worker=fake_translate)


# ------------------------------------------------------------------------------------------ CLI wiring
def test_train_num_gpus_relaunches_under_accelerate(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from cpp2py.cli import app

    for var in ("LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    argv = ["train", "--config", "c.yaml", "--num-gpus", "2", "--strategy", "fsdp", "lora.r=8"]
    monkeypatch.setattr(sys, "argv", ["cpp2py", *argv])
    seen = {}

    def fake_exec(exe, cmd):
        seen["cmd"] = cmd
        raise SystemExit(0)

    monkeypatch.setattr(launch.os, "execv", fake_exec)
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    cmd = seen["cmd"]
    assert cmd[cmd.index("--config_file") + 1].endswith("fsdp-qlora.yaml")
    assert cmd[cmd.index("-m") + 1:] == ["cpp2py", "train", "--config", "c.yaml", "lora.r=8"]



@pytest.mark.parametrize("visible, expected", [(None, "0"), ("2,3", "2"), ("1", "1")])
def test_plain_train_sees_one_gpu(monkeypatch, visible, expected):
    # Without this, transformers' Trainer would wrap the model in nn.DataParallel on a multi-GPU host,
    # which trl's SFTTrainer refuses (found on a 2-GPU machine).
    for var in ("LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    launch.use_one_gpu()
    assert launch.os.environ["CUDA_VISIBLE_DEVICES"] == expected


def test_launched_train_keeps_its_gpus(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    launch.use_one_gpu()
    assert launch.os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"
