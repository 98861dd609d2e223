"""proxybench: which cheap proxy ranks NAS architectures like their true accuracy.

The Python API (:mod:`proxybench.api`) is exported here, loaded on first use so that
``import proxybench`` loads no torch::

    import proxybench as pb
    values = pb.measure(my_model, (images, labels), "synflow;meco")   # any nn.Module
    runs = pb.train("runs/c10", preset="cpu", data_dir="data", seeds=[0, 1])
    tables = [pb.score(r, ["flatness", ("val_loss", {})], cells=200) for r in runs]
    print(pb.correlate(tables, dataset="cifar10"))

Every user-fixable failure raises :class:`ProxybenchError`.
"""

from .errors import ProxybenchError

__version__ = "0.1.0"

_API = ("measure", "measure_files", "train", "score", "score_files", "correlate",
        "correlate_files", "combine", "merge", "cells", "arch", "ablate", "cross_dataset",
        "search", "search_pool", "retrain", "predict", "ensemble", "beyond", "list_proxies",
        "import_suite_zero", "export_suite_zero")
__all__ = ["ProxybenchError", *_API]


def __getattr__(name: str):
    if name == "api":       # `pb.api`, as the README names the module
        import importlib
        return importlib.import_module(".api", __name__)
    if name in _API:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'proxybench' has no attribute {name!r}")
