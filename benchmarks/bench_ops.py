"""Average pooling (PyTorch's kernels vs proxybench's depthwise-conv forms) and path copies,
one run.

    python benchmarks/bench_ops.py [--run RUN] [--cells 20]

Two poolings run as depthwise convolutions: the cells' 3x3 pooling (``AvgPool3x3``) and the
reductions' 2x2 shortcut pooling (``AvgPool2x2``, bit-identical to ``nn.AvgPool2d(2, 2)``).

1. Each op alone at the NB201 feature-map shapes (chunks of 128 images, channels_last), for
   C=8 (the ``cpu`` preset) and C=16 (``paper``).
2. With ``--run``: copying a cell's path out of the supernet, the way ``extract`` did before
   (build the network, which initialises it randomly, load the tensors, move it) and as
   shipped (built on the meta device and handed clones), interleaved, at the run's size
   and at the paper's (C=16, N=5); then the validation-loss evaluation that flatness
   repeats for every sigma, over the recalibrated paths of the same sampled cells, three
   ways, interleaved: both poolings PyTorch's again, only the 2x2 one PyTorch's again, and
   as shipped. Prints the seconds per cell of each, the ratios, and checks the losses (the
   2x2 form must give the same loss bit for bit).
3. With ``--run --compile``: the same evaluation under ``torch.compile`` for 2 cells: the
   first call (compilation) and a second call, against eager. Every distinct cell is a new
   graph, so a scoring run would pay the compilation once per cell.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from torch import nn

from proxybench.nets.nb201 import evaluate
from proxybench.nets.ops import AvgPool2x2, AvgPool3x3


def _time_pair(a, b, repeats: int = 15) -> tuple[float, float]:
    """Mean seconds of a() and b(), interleaved so that load changes hit both alike."""
    a()
    b()
    ta = tb = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        ta, tb = ta + t1 - t0, tb + time.perf_counter() - t1
    return ta / repeats, tb / repeats


def _with_pytorch_pool(net: nn.Module, three: bool = True) -> nn.Module:
    """A copy of ``net`` whose AvgPool2x2 (and with ``three`` AvgPool3x3) ops are PyTorch's
    pooling modules again."""
    net = copy.deepcopy(net)
    for module in list(net.modules()):
        for name, child in module.named_children():
            if three and isinstance(child, AvgPool3x3):
                setattr(module, name, nn.AvgPool2d(3, stride=child.stride, padding=1,
                                                   count_include_pad=False))
            elif isinstance(child, AvgPool2x2):
                setattr(module, name, nn.AvgPool2d(2, stride=2))
    return net


def _copy_via_host(supernet: nn.Module, cell) -> nn.Module:
    """How ``extract`` copied a path before ``standalone_copy``: build it (random init),
    load the supernet's tensors into it, move it to the device, channels_last."""
    from proxybench.nets.nb201 import NB201Net
    cfg = supernet.config
    sub = NB201Net(cfg["channels"], cfg["layers"], cfg["num_classes"], cell=cell,
                   affine_cells=cfg["affine_cells"])
    full = supernet.state_dict()
    sub.load_state_dict({k: full[k].clone() for k in sub.state_dict()})
    return sub.to(next(supernet.parameters()).device, memory_format=torch.channels_last)


def copy_paths(supernet: nn.Module, cells: list) -> None:
    """Seconds per path copy, the old way and ``extract`` (meta device, no init), interleaved;
    the copies must hold the same tensors."""
    old = new = 0.0
    for cell in cells:
        t0 = time.perf_counter()
        a = _copy_via_host(supernet, cell)
        t1 = time.perf_counter()
        b = supernet.extract(cell)
        old, new = old + t1 - t0, new + time.perf_counter() - t1
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    n = len(cells)
    print(f"path copy of {n} cells: build + load + move {old / n * 1e3:.2f} ms, extract (meta "
          f"device, no init) {new / n * 1e3:.2f} ms, {old / new:.2f}x; same tensors")
    from proxybench.nets.nb201 import NB201Net
    cfg = {**supernet.config, "channels": 16, "layers": 5}
    big = NB201Net(cfg["channels"], cfg["layers"], cfg["num_classes"], affine_cells=False)
    old = new = 0.0
    for cell in cells:
        t0 = time.perf_counter()
        _copy_via_host(big, cell)
        t1 = time.perf_counter()
        big.extract(cell)
        old, new = old + t1 - t0, new + time.perf_counter() - t1
    print(f"path copy at the paper's size (C=16, N=5): build + load + move "
          f"{old / n * 1e3:.2f} ms, extract {new / n * 1e3:.2f} ms, {old / new:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None)
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    print(f"torch threads {torch.get_num_threads()}")
    for c in (8, 16):
        for ch, size in ((c, 32), (2 * c, 16), (4 * c, 8)):
            x = torch.randn(128, ch, size, size).contiguous(memory_format=torch.channels_last)
            ref = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
            ours = AvgPool3x3()
            t_ref, t_ours = _time_pair(lambda: ref(x), lambda: ours(x))  # noqa: B023
            print(f"pool 3x3 {ch:3d}x{size:2d}x{size:2d}: pytorch {1e3 * t_ref:6.2f} ms, "
                  f"depthwise {1e3 * t_ours:6.2f} ms, {t_ref / t_ours:4.1f}x")
        for ch, size in ((c, 32), (2 * c, 16)):   # the two reductions' inputs
            x = torch.randn(128, ch, size, size).contiguous(memory_format=torch.channels_last)
            ref, ours = nn.AvgPool2d(2, stride=2), AvgPool2x2()
            with torch.no_grad():            # as evaluations run (with autograd it is ref)
                assert torch.equal(ref(x), ours(x))
                t_ref, t_ours = _time_pair(lambda: ref(x), lambda: ours(x))  # noqa: B023
            print(f"pool 2x2 {ch:3d}x{size:2d}x{size:2d}: pytorch {1e3 * t_ref:6.2f} ms, "
                  f"depthwise {1e3 * t_ours:6.2f} ms, {t_ref / t_ours:4.1f}x (bit-identical)")
    if args.run is None:
        return
    from proxybench.engine.score import context_from_run
    from proxybench.proxies import parse_specs
    from proxybench.proxies.performance import prepared_subnet
    from proxybench.spaces import nb201
    spec = parse_specs("flatness")[0]
    ctx, _ = context_from_run(args.run, [spec])
    cells = [nb201.prune(nb201.cell_at(i)) for i in nb201.sample_cells(args.cells, 0)]
    copy_paths(ctx.supernet, cells)
    nets = [prepared_subnet(ctx, c) for c in cells if not nb201.is_disconnected(c)]
    ways = {"both pytorch": [_with_pytorch_pool(n) for n in nets],
            "2x2 pytorch": [_with_pytorch_pool(n, three=False) for n in nets],
            "shipped": nets}
    x, y = ctx.val_batch
    chunk = ctx.preset.chunk
    seconds = dict.fromkeys(ways, 0.0)
    losses: dict[str, list] = {w: [] for w in ways}
    for k in range(len(nets)):     # interleaved, so load changes hit every way alike
        for way, variants in ways.items():
            t0 = time.perf_counter()
            losses[way].append(evaluate(variants[k], x, y, chunk)[0])
            seconds[way] += time.perf_counter() - t0
    n = len(nets)
    worst = max(abs(a - b) / abs(a) for a, b in zip(losses["both pytorch"], losses["shipped"],
                                                    strict=True))
    if losses["2x2 pytorch"] != losses["shipped"]:
        raise SystemExit("the 2x2 depthwise pooling changed a loss")
    print(f"validation evaluation of {n} recalibrated paths ({len(x)} images each): "
          + ", ".join(f"{w} {t / n:.4f} s/cell" for w, t in seconds.items())
          + f"; 2x2 lever {seconds['2x2 pytorch'] / seconds['shipped']:.3f}x (losses "
          f"identical), both {seconds['both pytorch'] / seconds['shipped']:.3f}x (max "
          f"relative loss difference {worst:.1e})")
    if args.compile:
        for net in nets[:2]:
            t0 = time.perf_counter()
            evaluate(net, x, y, chunk)
            t1 = time.perf_counter()
            compiled = torch.compile(net)
            evaluate(compiled, x, y, chunk)
            t2 = time.perf_counter()
            evaluate(compiled, x, y, chunk)
            t3 = time.perf_counter()
            print(f"torch.compile: eager {t1 - t0:.3f} s; compiled first call {t2 - t1:.1f} s "
                  f"(compilation), second call {t3 - t2:.3f} s")


if __name__ == "__main__":
    main()
