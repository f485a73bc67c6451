"""Train the reader on a lent GPU machine (the `device` tool), in three steps.

Why a separate path: that machine gets this repository's working tree (~48 MB of it tracked, the
two shipped ONNX files) plus at most 64 MiB in all, and has torch, transformers, onnx and
tokenizers but none of qa's dependencies and not the base model's 87 MB of weights. So the
examples are made here and packed small (~8 MB), the run starts from the shipped int8 reader,
which travels anyway (dequantised, as `train_reader.py --init` does), and the trained weights
come back as fp16 in parts of at most 15 MiB (the tool returns files of 16 MiB at most).

    python scripts/reader_device.py pack build/device --seed 20261220 --described 1.0 --negations 0.1 --antonyms 0.3 --swaps 0 --retrieved 0  # the shipped (thirteenth) run's examples; its ranking loss is not in the device loop
    # device: run(command="python3 scripts/reader_device.py train build/device $OUT --steps 30000 --max-minutes 8",
    #             carry=["build/device"])
    python scripts/reader_device.py unpack FILES_AT build/reader/reader.pt
    python scripts/train_reader.py --export-only --quantiser block --seed 20261210 --swaps 0.25 --retrieved 0.3 --negations 0.15 --antonyms 0.6

The last command exports, quantises, verifies against the unpacked model and chooses the
operating points on held-out train, as after a CPU run. The weights back are the GPU model's
rounded to fp16; that rounded model is the one the int8 file is verified against.
"""

from __future__ import annotations

import argparse
import json
import lzma
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.reader_training import encode, load_int8, make_model, tokenizer, train  # noqa: E402  (no qa imports: runs on the GPU machine)

EXAMPLES = "examples.json.xz"
SETTINGS = "pack.json"
MODEL = "model"  # the base model's config.json and tokenizer.json, no weights
START = ROOT / "qa" / "models" / "reader.onnx"  # tracked, so it travels with the working tree
PART_BYTES = 15 * 2**20
STATE = "state.safetensors.part"
MODEL_FILES = ("config.json", "tokenizer.json")


def pack(
    folder: Path, seed: int, negatives: float, swaps: float, retrieved: float, data: Path | None = None,
    *, negations: float = 0.0, antonyms: float = 0.0, bridges: float = 0.0, described: float = 0.0,
) -> None:
    """Here: the training examples (each window stored once), the base model's config and
    tokenizer, and the map from torch parameters to `START`'s initializers."""
    from scripts import train_reader as tr
    from scripts.reader_training import base_model_dir

    articles, _held = tr.split_articles(tr.load_articles(data or tr.TRAIN_JSON))
    examples = tr.build_examples(
        articles, seed, negatives, swaps, retrieved, negations=negations, antonyms=antonyms, bridges=bridges, described=described,
    )
    contexts: dict[str, int] = {}
    rows = [(e.question, contexts.setdefault(e.context, len(contexts)), e.answer_start, e.answer_end) for e in examples]
    folder.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"contexts": list(contexts), "rows": rows}, ensure_ascii=False).encode("utf-8")
    (folder / EXAMPLES).write_bytes(lzma.compress(payload, preset=9))
    (folder / MODEL).mkdir(exist_ok=True)
    for name in MODEL_FILES:
        shutil.copy(base_model_dir() / name, folder / MODEL / name)
    names = tr.int8_names(make_model(), folder)
    (folder / "base-fp32.onnx").unlink()  # 87 MB, needed only to name the parameters
    settings = {"seed": seed, "negatives": negatives, "swaps": swaps, "retrieved": retrieved,
                "negations": negations, "antonyms": antonyms, "bridges": bridges, "described": described,
                "examples": len(rows), "start": str(START.relative_to(ROOT)), "names": names}
    (folder / SETTINGS).write_text(json.dumps(settings, indent=1), encoding="utf-8")
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
    print(f"packed {len(rows)} examples ({len(contexts)} windows) into {folder}: {size:.1f} MiB")


def load_pack(folder: Path):
    """(settings, encoded examples) of a pack, tokenized here with the packed tokenizer."""
    settings = json.loads((folder / SETTINGS).read_text(encoding="utf-8"))
    raw = json.loads(lzma.decompress((folder / EXAMPLES).read_bytes()))
    contexts = raw["contexts"]
    rows = [(question, contexts[c], start, end) for question, c, start, end in raw["rows"]]
    encoded = [e for e in encode(tokenizer(folder / MODEL), rows) if e is not None]
    return settings, encoded


def train_packed(folder: Path, out: Path, steps: int, lr: float, max_minutes: float | None, device: str, limit: int | None) -> None:
    """On the GPU machine: start from `START` dequantised, train, and write the weights (fp16)
    in parts into `out`."""
    import torch

    started = time.time()
    settings, encoded = load_pack(folder)
    encoded = encoded[:limit] if limit else encoded
    print(f"{len(encoded)} examples encoded in {time.time() - started:.0f} s; device {device}", flush=True)
    torch.manual_seed(settings["seed"])
    model = make_model(folder / MODEL, pretrained=False)
    loaded = load_int8(model, ROOT / settings["start"], {k: tuple(v) for k, v in settings["names"].items()})
    print(f"start: {loaded} of {len(model.state_dict())} tensors from {settings['start']}", flush=True)
    autocast = device.startswith("cuda") or device == "cpu-bf16"
    device = "cpu" if device == "cpu-bf16" else device
    max_seconds = None if max_minutes is None else max_minutes * 60
    with tempfile.TemporaryDirectory() as scratch:  # fp32 checkpoints (87 MB) stay out of `out`, which comes back
        run = train(model, encoded, steps, lr, autocast, 200, Path(scratch) / "checkpoint.pt", settings["seed"], device, max_seconds)
    print(f"trained {run.steps} steps in {run.seconds / 60:.1f} min, {run.tokens / run.seconds:.0f} tokens/s", flush=True)
    write_parts(model.cpu().state_dict(), out)


def write_parts(state: dict, out: Path) -> list[Path]:
    """The state dict as one fp16 safetensors blob, cut into files of at most PART_BYTES."""
    import torch
    from safetensors.torch import save

    blob = save({k: v.detach().to(torch.float16).contiguous() for k, v in state.items()})
    parts = []
    for number, begin in enumerate(range(0, len(blob), PART_BYTES)):
        parts.append(out / f"{STATE}{number}")
        parts[-1].write_bytes(blob[begin : begin + PART_BYTES])
    print(f"wrote {len(parts)} parts, {len(blob) / 2**20:.1f} MiB", flush=True)
    return parts


def read_parts(folder: Path) -> dict:
    """The fp32 state dict from `write_parts`'s files in `folder`."""
    import torch
    from safetensors.torch import load

    parts = sorted(folder.glob(f"{STATE}*"), key=lambda p: int(p.name.removeprefix(STATE)))
    if not parts:
        raise SystemExit(f"no {STATE}N files in {folder}")
    state = load(b"".join(p.read_bytes() for p in parts))
    return {k: v.to(torch.float32) for k, v in state.items()}


def unpack(folder: Path, checkpoint: Path) -> None:
    """Here: the returned parts as a torch checkpoint that `train_reader.py --export-only` reads."""
    import torch

    state = read_parts(folder)
    make_model().load_state_dict(state)  # fails loudly on a missing or misshapen tensor
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, checkpoint)
    print(f"{len(state)} tensors -> {checkpoint}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pack", help="here: make and pack the examples")
    p.add_argument("folder", type=Path)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--negatives", type=float, default=0.5)
    p.add_argument("--swaps", type=float, default=0.25)
    p.add_argument("--retrieved", type=float, default=0.3)
    p.add_argument("--negations", type=float, default=0.0)
    p.add_argument("--antonyms", type=float, default=0.0)
    p.add_argument("--bridges", type=float, default=0.0, help="as train_reader.py --bridges")
    p.add_argument("--described", type=float, default=0.0, help="as train_reader.py --described (the eleventh run's counterweight)")
    p.add_argument("--data", type=Path, help="SQuAD-format training JSON (default: SQuAD v1.1 train)")
    t = commands.add_parser("train", help="on the GPU machine: train and write the weights into OUT")
    t.add_argument("folder", type=Path)
    t.add_argument("out", type=Path)
    t.add_argument("--steps", type=int, required=True)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--max-minutes", type=float, help="stop early (the schedule is not then finished)")
    t.add_argument("--device", default="cuda", help="cuda, or cpu / cpu-bf16 for a dry run")
    t.add_argument("--limit", type=int, help="train on the first N examples only (a dry run)")
    u = commands.add_parser("unpack", help="here: the returned parts to a torch checkpoint")
    u.add_argument("folder", type=Path)
    u.add_argument("checkpoint", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pack":
        pack(args.folder, args.seed, args.negatives, args.swaps, args.retrieved, args.data,
             negations=args.negations, antonyms=args.antonyms, bridges=args.bridges, described=args.described)
    elif args.command == "train":
        args.out.mkdir(parents=True, exist_ok=True)
        train_packed(args.folder, args.out, args.steps, args.lr, args.max_minutes, args.device, args.limit)
    else:
        unpack(args.folder, args.checkpoint)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
