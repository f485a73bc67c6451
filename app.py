"""The web chat and JSON API on the default corpus:
`python app.py [--host 127.0.0.1] [--port 7860] [--index DIR] [--share] [--read-only]`.

Same as `qa serve`: the chat at /, `POST /api/ask` beside it (qa/serving/api.py); see qa/serving/web.py for
the environment variables (login, upload limit). A busy port is one line and exit 1.
"""

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

# Gradio regenerates its components' type stubs (.pyi files, already shipped in its wheel) at
# every import, parsing each component's source with `ast`: ~1.4 of the ~3.4 CPU seconds
# `import gradio` takes on 2 cores, a third of the app's start (benchmarks/HISTORY.md,
# "Start-up"). A server never needs them rewritten, so the app skips that step.
GRADIO_STUB_MODULE = "gradio.component_meta"
GRADIO_STUB_WRITER = "create_or_modify_pyi"


def _keep_shipped_stubs(*_args: object, **_kwargs: object) -> None:
    """Stands in for Gradio's stub writer: the installed stubs stay as shipped."""


class SkipGradioStubWriting(importlib.abc.MetaPathFinder):
    """Imports `gradio.component_meta` as usual, then swaps its stub writer for a no-op.

    One use: the finder leaves `sys.meta_path` at that import. Where Gradio moves or renames
    either, nothing changes but the lost second and a half.
    """

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name != GRADIO_STUB_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            run = spec.loader.exec_module

            def exec_module(module: ModuleType) -> None:
                run(module)
                if callable(getattr(module, GRADIO_STUB_WRITER, None)):
                    setattr(module, GRADIO_STUB_WRITER, _keep_shipped_stubs)

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if __name__ == "__main__":
    if "gradio" not in sys.modules:
        sys.meta_path.insert(0, SkipGradioStubWriting())
    from qa.cli import main

    sys.exit(main(["serve", *sys.argv[1:]]))
