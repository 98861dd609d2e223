"""Proxies on any PyTorch model: each proxy's value for one network and a batch of images.

Why a module of its own: most people who use zero-cost proxies score their own networks,
not NB201 cells (zero-cost-nas's ``find_measures``). ``measure`` hands the network to the
registry's proxy functions in place of a cell (proxies registered with ``models=True``), so
a model goes through the code that scores cells, never a second implementation:

- each proxy scores a copy of the model (its weights as given, train mode, the images'
  device, ``channels_last``); the model itself is never changed;
- proxies scored together share one pass, as in the engine (``with_together``);
- random draws (SWAP's and AZ-NAS's re-initialisations, Zen-NAS's weights and inputs) come
  from generators seeded by (``seed``, proxy), so the same call gives the same values; an
  ``NB201Net`` built with a cell is seeded as the engine seeds that cell, so its values are
  the engine's for that cell on the same images;
- a proxy that needs what a plain model lacks (a supernet, a cell's edges, a layer kind) is
  refused with one line (:class:`~proxybench.proxies.ModelError`).
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import ProxybenchError
from ..proxies import (
    ModelError,
    ProxySpec,
    ScoreContext,
    model_refusal,
    parse_specs,
    result_values,
    with_together,
)

Data = tuple[Tensor, Tensor] | Iterable


def images_needed(specs: Sequence[ProxySpec]) -> int:
    """Images the proxies read: each data proxy its ``batch_size`` x ``batches`` (the
    first of the batch, as in the engine); data-free ones read only the input shape."""
    return max([1] + [s.options.get("batch_size", 1) * s.options.get("batches", 1)
                      for s in specs if "data" in s.proxy.needs])


def batch_of(data: Data, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """(images, labels) from a tensor pair (as given) or from the first batches of a
    DataLoader (up to ``n`` images; a shuffling loader draws its order from the global RNG,
    seeded here by ``seed`` inside ``fork_rng``, so the global RNG is left as it was)."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(
            isinstance(t, Tensor) for t in data):
        x, y = data
    else:
        if not isinstance(data, Iterable):
            raise ProxybenchError(f"data should be an (images, labels) pair of tensors or "
                                  f"a DataLoader of such pairs, got {type(data).__name__}")
        xs, ys, got = [], [], 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for batch in data:
                if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
                    raise ProxybenchError("the DataLoader should yield (images, labels) batches")
                xs.append(batch[0])
                ys.append(batch[1])
                got += len(batch[0])
                if got >= n:
                    break
        if not xs:
            raise ProxybenchError("the DataLoader yielded no batch; give it some images")
        x, y = torch.cat(xs)[:n], torch.cat(ys)[:n]
    if len(x) != len(y) or len(x) == 0:
        raise ProxybenchError(f"data holds {len(x)} images and {len(y)} labels; give one "
                              f"label per image (and at least one image)")
    if y.dtype.is_floating_point or y.dim() != 1:
        raise ProxybenchError("labels should be a 1-D tensor of class indices (integers)")
    return x, y


def _on(device: torch.device, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """The batch on ``device``, images in ``channels_last`` as the engine keeps them."""
    x = x.to(device)
    if x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(device)


def _outputs(model: nn.Module, x: Tensor) -> int:
    """The width of the model's output on one image (on a copy): the classes it predicts."""
    import copy
    net = copy.deepcopy(model).to(x.device).eval()
    try:
        with torch.no_grad():
            out = net(x[:1])
    except Exception as exc:  # noqa: BLE001 - the user's model or data: one line
        raise ModelError(f"the model failed on the data: {type(exc).__name__}: {exc}"
                         ) from exc
    if not isinstance(out, Tensor) or out.dim() != 2:
        raise ModelError(f"the model should return logits [batch, classes], got "
                         f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}")
    return int(out.shape[1])


def measure(model: nn.Module, data: Data, proxies: str | Sequence[ProxySpec], *,
            num_classes: int | None = None, seed: int = 0,
            device: str | torch.device = "auto") -> dict[str, float]:
    """{column: value} of each proxy on ``model`` and ``data`` (an (images, labels) pair or
    a DataLoader; the first images the proxies need are read). ``num_classes`` defaults to
    the width of the model's output. Raises ModelError naming the proxy when one cannot
    score the model or fails on it."""
    from ..run.presets import get_preset
    from ..run.train import resolve_device
    if not isinstance(model, nn.Module):
        raise ModelError(f"model should be a torch.nn.Module, got {type(model).__name__}")
    specs = parse_specs(proxies) if isinstance(proxies, str) else list(proxies)
    for s in specs:
        why = model_refusal(s.proxy)
        if why:
            raise ModelError(why)
    dev = resolve_device(str(device)) if not isinstance(device, torch.device) else device
    x, y = _on(dev, *batch_of(data, images_needed(specs), seed))
    classes = num_classes if num_classes is not None else _outputs(model, x)
    # the preset only builds cells' networks, which a given model replaces; it is unused
    ctx = with_together(ScoreContext(seed=seed, preset=get_preset("paper"),
                                     num_classes=classes, input_size=int(x.shape[-1]),
                                     bn_batch=(x, y)), specs)
    values: dict[str, float] = {}
    for s in specs:
        try:
            got = result_values(s, s.proxy.fn(ctx, model, **s.options))
        except ModelError as exc:     # what the proxy needs and the model lacks
            raise ModelError(f"proxy {s.column} {exc}") from None
        except ProxybenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - one line naming the proxy, as the engine
            raise ModelError(f"proxy {s.column} failed on the model: {type(exc).__name__}: "
                             f"{exc}".replace("\n", " ")) from exc
        if not math.isfinite(got[s.column]):
            raise ModelError(f"proxy {s.column} is not finite ({got[s.column]}) on the model")
        values.update(got)
    return values


def load_model(spec: str, num_classes: int | None = None) -> nn.Module:
    """The network that FUNCTION in FILE.py returns (``spec`` = "FILE.py:FUNCTION");
    FUNCTION is called with ``num_classes`` when it takes that argument, else with none."""
    path_text, colon, name = spec.rpartition(":")
    if not colon or not path_text or not name.isidentifier():
        raise ModelError(f"--network {spec!r} should be FILE.py:FUNCTION, e.g. "
                         f"models.py:resnet (FUNCTION returns the torch.nn.Module)")
    path = Path(path_text)
    if not path.is_file():
        raise ModelError(f"--network: {path} not found; give the Python file that defines "
                         f"{name}")
    module_name = f"proxybench_user_model_{abs(hash(str(path.resolve())))}"
    loader = importlib.util.spec_from_file_location(module_name, path)
    if loader is None or loader.loader is None or path.suffix != ".py":
        raise ModelError(f"--network: {path} is not a Python file; give FILE.py:FUNCTION")
    module = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = module
    try:
        loader.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's file: one line
        raise ModelError(f"--network: importing {path} failed: {type(exc).__name__}: {exc}; "
                         f"fix the file") from exc
    fn = getattr(module, name, None)
    if not callable(fn):
        defined = sorted(k for k, v in vars(module).items() if inspect.isfunction(v)
                         and v.__module__ == module_name)
        raise ModelError(f"--network: {path} defines no function {name!r}; its functions: "
                         f"{', '.join(defined) or 'none'}")
    takes = "num_classes" in inspect.signature(fn).parameters
    try:
        net = fn(num_classes=num_classes) if takes and num_classes is not None else fn()
    except Exception as exc:  # noqa: BLE001 - the user's function: one line
        raise ModelError(f"--network: {path}:{name}() raised {type(exc).__name__}: {exc}"
                         ) from exc
    if not isinstance(net, nn.Module):
        raise ModelError(f"--network: {path}:{name}() returned {type(net).__name__}, not a "
                         f"torch.nn.Module; make it return the network")
    return net


def dataset_batch(dataset: str, data_dir: str, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` images of the dataset's search-train split, the ones `score` gives zero-cost
    proxies with the same seed (its fixed BN batch starts with them), so ``measure`` on an
    NB201 cell's network gives what `score` gives for that cell."""
    from ..run import data as D
    from ..run.train import load_search_data, resolve_validation
    if not Path(data_dir).is_dir():
        raise ProxybenchError(f"--data-dir {data_dir} does not exist; point it at the folder "
                              f"that holds the dataset (e.g. cifar-10-batches-py/)")
    train, _ = load_search_data(dataset, data_dir, None, seed,
                                resolve_validation("nb201", dataset, None, None))
    return D.fixed_batch(train, min(n, len(train)), seed + 1)


def dataset_classes(dataset: str) -> int:
    """Classes of a dataset proxybench reads (the head a model needs)."""
    from ..nets.nb201 import DATASET_SHAPES
    return DATASET_SHAPES[dataset][0]

