"""Which precision document batches run in: on a CPU int8 through the model's ONNX export, else
bf16 where the CPU multiplies bf16 natively, else fp32; fp16/bf16 on a CUDA GPU;
`QA_EMBED_PRECISION` overrides. Detected, never assumed: CPUs differ from one machine to the next.

    >>> resolve_precision("fp32", "cpu")
    'fp32'
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Precision of document batches (`Embedder.precision`). Short calls (questions) stay fp32.
# int8 runs the model's int8 ONNX export (`ModelSpec.quantized`) instead of torch, on the CPU.
FP32, BF16, FP16, INT8 = "fp32", "bf16", "fp16", "int8"
CPU, CUDA = "cpu", "cuda"
PRECISION_VARIABLE = "QA_EMBED_PRECISION"  # fp32, bf16 or int8 (fp16 too on a CUDA GPU)
# CPU features with native bf16 matrix products, as torch.cpu.get_capabilities() and
# /proc/cpuinfo name them. oneDNN uses them under autocast; without them torch emulates bf16,
# which is slower than fp32, so such CPUs stay in fp32.
NATIVE_BF16_FEATURES = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (AMX-BF16 or AVX512-BF16).

    Asks torch (`torch.cpu.get_capabilities`, in recent torch), else reads the Linux cpuinfo flags;
    anything else (macOS, Windows on older torch, ARM) counts as no: fp32 is the safe default.
    """
    import torch

    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is not None:
        found = capabilities()
        return any(bool(found.get(feature)) for feature in NATIVE_BF16_FEATURES)
    try:
        flags = set(CPUINFO.read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return False
    return any(feature in flags for feature in NATIVE_BF16_FEATURES)


# Where a Linux kernel shows a GPU driver: NVIDIA's, or AMD's compute driver (torch's ROCm
# builds answer torch.cuda too). Without either torch cannot see a GPU.
GPU_DRIVER_PATHS = (Path("/proc/driver/nvidia"), Path("/dev/kfd"))


def gpu_ruled_out() -> bool:
    """True when this machine surely has no GPU torch could use, known without importing torch
    (~5 s): Linux with no GPU driver loaded. Elsewhere (macOS, Windows) only torch can tell."""
    return sys.platform.startswith("linux") and not any(path.exists() for path in GPU_DRIVER_PATHS)


THREADS_VARIABLE = "OMP_NUM_THREADS"  # what torch's own thread count follows, when set


def cpu_threads() -> int:
    """Threads for int8 document batches when torch, which would otherwise pick, is not loaded:
    $OMP_NUM_THREADS where it is a positive number, else the CPUs this process may run on
    (logical ones: on a CPU with two threads a core, twice torch's default)."""
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def default_device() -> str:
    """"cuda" when torch sees a CUDA GPU, else "cpu"; imports torch only when a GPU may be there."""
    if gpu_ruled_out():
        return CPU
    import torch

    return CUDA if torch.cuda.is_available() else CPU


def resolve_precision(requested: str | None, device: str, int8: bool = False) -> str:
    """The precision for document batches: `requested`, else $QA_EMBED_PRECISION, else detected.

    Detected: on CUDA bf16 where the GPU supports it, else fp16; on CPU int8 where the model has
    an int8 export (`int8`), else bf16 where `cpu_has_native_bf16()`, else fp32.
    A value that is not fp32/bf16/int8 (fp16 and not int8 on CUDA) is a ValueError naming where
    it came from.

        >>> resolve_precision("fp32", "cpu")
        'fp32'
    """
    requested, source = requested_precision(requested)
    if requested is None:
        return _detected_precision(device, int8)
    allowed = (FP32, BF16, FP16) if device == "cuda" else (FP32, BF16, INT8)
    value = requested.strip().lower()
    if value not in allowed:
        raise ValueError(
            f"{source} must be one of {', '.join(allowed)} on {device}, got {requested!r}"
        )
    return value


def check_precision_name(requested: str | None) -> None:
    """ValueError unless `requested`, else $QA_EMBED_PRECISION, is unset or a precision some
    device runs (fp32, bf16, fp16). Checked when an `Embedder` is made, so a typo fails at once
    rather than at the first document batch, when the model loads and `resolve_precision` checks
    the value against the device; this check needs no torch."""
    requested, source = requested_precision(requested)
    if requested is not None and requested.strip().lower() not in (FP32, BF16, FP16, INT8):
        raise ValueError(f"{source} must be one of {FP32}, {BF16}, {FP16}, {INT8}, got {requested!r}")


def requested_precision(requested: str | None) -> tuple[str | None, str]:
    """The precision asked for (the argument, else $QA_EMBED_PRECISION, else None) and where
    it came from, for error messages."""
    if requested is not None:
        return requested, "precision"
    return os.environ.get(PRECISION_VARIABLE, "").strip() or None, PRECISION_VARIABLE


def _detected_precision(device: str, int8: bool) -> str:
    if device == "cuda":
        import torch

        return BF16 if torch.cuda.is_bf16_supported() else FP16
    # int8 is the fast path on both kinds of CPU measured, with or without bf16 units: 600 SQuAD
    # paragraphs built in 0.44x of a plain fp32 encode against 0.70x in bf16 (AVX512-BF16) and
    # 1.09x in fp32, at R@1 .840 against .842 (benchmarks/README.md, "int8 documents"). Its
    # integer products are exact, so every CPU makes the same vectors.
    if int8:
        return INT8
    return BF16 if cpu_has_native_bf16() else FP32
