"""Train a SimPO-paper setting with TRL: the recipe `cargo xtask export simpo` writes.

    accelerate launch --config_file accelerate/deepspeed_zero3.yaml train.py recipe.json
    python train.py recipe.json                       # one process (CPU or one GPU)

`recipe.json` holds the trainer settings (the setting's β, γ/β, learning rate, schedule, batch,
seed, precision) and names `data/train.jsonl`: one preference pair per line as token ids,
`prompt_ids`, `chosen_ids`, `rejected_ids`, rendered and truncated exactly as the Rust trainer of
this project trains on them (the SimPO authors' prompt/response boundary: the assistant header
and end-of-turn token belong to the response; one BOS, one EOS). The texts beside the ids are
for reading only. TRL receives the ids unchanged:

- SimPO: TRL's `CPOTrainer` with `loss_type="simpo"`, `cpo_alpha=0` (no NLL term) and
  `simpo_gamma = β · γ/β` (TRL takes γ itself);
- DPO: TRL's `DPOTrainer` with `loss_type="sigmoid"` and the reference log-probs precomputed
  from the start model.

Every optimiser step's loss, gradient norm and learning rate go to `<output_dir>/metrics.jsonl`
(main process), so runs can be compared step by step with the Rust trainer's `metrics.csv`.
Several recipe files run one after the other in one process (the parity tests do that).

Pinned versions: requirements.txt.
"""

import json
import os
import sys

import torch
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback


class StepLog(TrainerCallback):
    """Writes loss, gradient norm and learning rate of every logged step to metrics.jsonl."""

    def __init__(self, path):
        self.path = path

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            open(self.path, "w").close()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs and "loss" in logs:
            row = {"step": state.global_step, "loss": logs["loss"], "grad_norm": logs.get("grad_norm"),
                   "learning_rate": logs.get("learning_rate")}
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")


class StopAfter(TrainerCallback):
    """Stops after `steps` optimiser steps while the schedule still spans the whole run (the Rust
    trainer's `max_steps`; Hugging Face's own `max_steps` would shorten the schedule too)."""

    def __init__(self, steps):
        self.steps = steps

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.steps:
            control.should_training_stop = True


def load_pairs(recipe, base, out):
    # An on-disk dataset (cached under the output folder), so that every process of a distributed
    # run finds the same cache files (DPO's precomputed reference log-probs are cached there).
    data = load_dataset("json", data_files=os.path.join(base, recipe["data"]), split="train", cache_dir=os.path.join(out, "datasets-cache"))
    if recipe.get("max_pairs"):
        data = data.select(range(min(recipe["max_pairs"], len(data))))
    return data


def accumulation(recipe):
    """Gradient accumulation that keeps the recipe's global batch on this many processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per = recipe["per_device_train_batch_size"]
    if recipe["global_batch"] % (per * world):
        sys.exit(f"global batch {recipe['global_batch']} is not a multiple of per-device batch {per} x {world} processes")
    return recipe["global_batch"] // (per * world)


def common_args(recipe, out):
    """The Hugging Face TrainingArguments every method shares."""
    return dict(
        output_dir=out,
        learning_rate=recipe["learning_rate"],
        lr_scheduler_type=recipe["lr_scheduler_type"],
        # transformers 5: a float below 1 is a ratio, ceil(ratio · total steps) warm-up steps.
        warmup_steps=recipe["warmup_ratio"],
        num_train_epochs=recipe["num_train_epochs"],
        per_device_train_batch_size=recipe["per_device_train_batch_size"],
        gradient_accumulation_steps=accumulation(recipe),
        optim="adamw_torch",
        weight_decay=recipe["weight_decay"],
        max_grad_norm=recipe["max_grad_norm"],
        seed=recipe["seed"],
        data_seed=recipe["seed"],
        train_sampling_strategy="random" if recipe["shuffle"] else "sequential",
        bf16=recipe["bf16"],
        gradient_checkpointing=recipe["gradient_checkpointing"],
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
    )


def simpo_trainer(recipe, model, tok, data, out):
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    class PretokenizedCPOTrainer(CPOTrainer):
        """CPOTrainer on ids that are already rendered, truncated and split."""

        def tokenize_row(self, feature, model=None):
            p, c, r = feature["prompt_ids"], feature["chosen_ids"], feature["rejected_ids"]
            return {
                "prompt_input_ids": p,
                "prompt_attention_mask": [1] * len(p),
                "chosen_input_ids": p + c,
                "chosen_attention_mask": [1] * (len(p) + len(c)),
                "chosen_labels": [-100] * len(p) + c,
                "rejected_input_ids": p + r,
                "rejected_attention_mask": [1] * (len(p) + len(r)),
                "rejected_labels": [-100] * len(p) + r,
            }

    beta = recipe["beta"]
    args = CPOConfig(
        loss_type="simpo",
        beta=beta,
        simpo_gamma=beta * recipe["gamma_beta_ratio"],
        cpo_alpha=0.0,
        label_smoothing=recipe.get("label_smoothing", 0.0),
        remove_unused_columns=False,
        **common_args(recipe, out),
    )
    return PretokenizedCPOTrainer(model=model, args=args, train_dataset=data, processing_class=tok)


def dpo_trainer(recipe, model, tok, data, out):
    from trl import DPOConfig, DPOTrainer

    class PretokenizedDPOTrainer(DPOTrainer):
        """DPOTrainer on ids that are already rendered, truncated and split."""

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset.select_columns(["prompt_ids", "chosen_ids", "rejected_ids"])

    args = DPOConfig(
        loss_type=["sigmoid"],
        beta=recipe["beta"],
        precompute_ref_log_probs=True,
        max_length=None,
        **common_args(recipe, out),
    )
    return PretokenizedDPOTrainer(model=model, args=args, train_dataset=data, processing_class=tok)


def run(recipe_path):
    with open(recipe_path) as f:
        recipe = json.load(f)
    base = os.path.dirname(os.path.abspath(recipe_path))
    out = os.path.join(base, recipe["output_dir"])
    os.makedirs(out, exist_ok=True)
    # None: the stored weights as fp32 (the authors' torch_dtype: null), trained under bf16 mixed precision.
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, None: torch.float32}[recipe.get("torch_dtype")]
    model_path = recipe["model"]
    if os.path.isdir(os.path.join(base, model_path)):
        model_path = os.path.join(base, model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, attn_implementation=recipe.get("attn_implementation"))
    tok = AutoTokenizer.from_pretrained(model_path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token  # padding is masked out; any id would do
    data = load_pairs(recipe, base, out)
    make = {"simpo": simpo_trainer, "dpo": dpo_trainer}[recipe["method"]]
    trainer = make(recipe, model, tok, data, out)
    trainer.add_callback(StepLog(os.path.join(out, "metrics.jsonl")))
    if recipe.get("stop_after_steps"):
        trainer.add_callback(StopAfter(recipe["stop_after_steps"]))
    trainer.train()
    if recipe.get("save_model", True):
        trainer.save_model(out)
    trainer.accelerator.wait_for_everyone()


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: train.py recipe.json [recipe.json ...]")
    for path in sys.argv[1:]:
        run(path)


if __name__ == "__main__":
    main()
