"""Training: QLoRA fine-tuning (qlora.py; the SFTTrainer pieces in sft.py) and its multi-GPU launch (launch.py).
Run as: cpp2py train -c RECIPE"""
from cpp2py.train.qlora import TrainConfig, build_trainer, load_records, merge_adapter, train

__all__ = ["TrainConfig", "build_trainer", "load_records", "merge_adapter", "train"]
