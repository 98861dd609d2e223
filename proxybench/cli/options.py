"""Every option that more than one command takes, defined once: one name, one meaning, one
default everywhere (tests/test_cli_options.py walks all commands and checks it)."""

from __future__ import annotations

import click

from ..checks import RULES, Number
from ..errors import OptionError
from ..spaces.nb201 import DATASETS


class Checked(click.ParamType):
    """An option's value checked by its rule in :data:`proxybench.checks.RULES`: the CLI
    and the API refuse the same values with the same words."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        number = RULES[rule]
        self.name = (("integer" if number.integer else "float")
                     if isinstance(number, Number) else "text")

    def convert(self, value, param, ctx):
        if value is None:
            return None
        try:
            name = param.opts[0] if param is not None and param.opts else self.rule
            return RULES[self.rule](name, value)
        except OptionError as exc:
            self.fail(str(exc), param, ctx)


def checked(rule: str) -> Checked:
    return Checked(rule)


def split(text: str | None) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']: an option's comma-separated list."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def ints(text: str | None, what: str, rule: str | None = None) -> list[int] | None:
    """'10,20,50' -> [10, 20, 50] (None stays None), checked by ``rule`` of
    :data:`proxybench.checks.RULES` when given, or one line naming the option."""
    if text is None:
        return None
    try:
        values = [int(t) for t in split(text)]
    except ValueError:
        raise click.ClickException(f"{what} takes whole numbers separated by commas, e.g. "
                                   f"10,20,50; got {text!r}") from None
    if rule is not None:
        try:
            values = RULES[rule](what, values)
        except OptionError as exc:
            raise click.ClickException(str(exc)) from None
    return values

SPACE = click.option("--space", type=click.Choice(["nb201", "darts"]), default="nb201",
                     show_default=True, help="Search space.")
DATASET = click.option("--dataset", type=click.Choice(list(DATASETS)), default="cifar10",
                       show_default=True,
                       help="Dataset: the images trained/scored on and the ground-truth "
                            "column.")
DATA_DIR = click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                        help="Folder holding the dataset (e.g. DIR/cifar-10-batches-py); "
                             "without it, synthetic images where a command allows them.")
PRESET = click.option("--preset", type=click.Choice(["paper", "cpu", "cpu-fewshot", "tiny"]),
                      default="paper", show_default=True,
                      help="Named settings: paper (the paper's networks and budgets; NB201's "
                           "C=16, N=5; a GPU job), cpu (a 2-core CPU in minutes), "
                           "cpu-fewshot (cpu, then split on edge 0 into 5 sub-supernets of "
                           "6 epochs: the best-ranking CPU setting measured; NB201), tiny "
                           "(tests). A training run given with --run keeps its own settings.")
RUN = click.option("--run", "--run-dir", "run_dirs", type=click.Path(file_okay=False),
                   multiple=True,
                   help="Training run directory, or a seed group (`train --seeds`); ablate "
                        "budget takes one seed group per budget (repeat --run). Under "
                        "torchrun use the --run-dir spelling (torchrun claims --run).")
BN_IMAGES = click.option("--bn-images", type=checked("bn_images"), default=None,
                         help="Override the preset: images for BN recalibration.")
VAL_IMAGES = click.option("--val-images", type=checked("val_images"), default=None,
                          help="Override the preset: validation images.")
CHECKPOINT = click.option("--checkpoint", default=None,
                          help="Checkpoint inside --run (default final.pt; e.g. "
                               "epoch-10.pt).")
CELLS = click.option("--cells", "cells_opt", default="all", show_default=True,
                     help="Cells: 'all', a number N (a seeded sample of N cells; DARTS: N "
                          "random genotypes) or a file of NB201 indices, one per line.")
SEED = click.option("--seed", type=checked("seed"), default=None,
                    help="Seed of the command's randomness (cell sample, noise, images, "
                         "bootstrap, search); default: a training run's own seed where one "
                         "is given, else 0.")
PROXY = click.option("--proxy", "proxy_text", required=True,
                     help="A proxy: NAME or NAME:key=value,... (several joined by ';'); "
                          "`proxybench proxies` lists the names and options.")
GROUND_TRUTH = click.option("--ground-truth", type=click.Path(dir_okay=False), default=None,
                            help="NB201 table (CSV/CSV.gz, or the official .pth); default "
                                 "$PROXYBENCH_NB201, else the test-accuracy table shipped "
                                 "with proxybench.")
TRUTH_METRIC = click.option("--truth-metric", type=click.Choice(["test-200", "valid-200",
                                                                 "valid-12"]),
                             default="test-200", show_default=True,
                             help="Which NB201 accuracy is the truth: test after 200 epochs, or "
                                  "validation after 200 or 12 epochs (from the official .pth, "
                                  "or CSV columns like cifar10@valid-12).")
NDCG_K = click.option("--ndcg-k", "ndcg_k", type=click.IntRange(min=1), default=1000,
                      show_default=True,
                      help="nDCG looks at the proxy's top K cells (VKDNW's P; all cells "
                           "when there are fewer).")
BOOTSTRAP = click.option("--bootstrap", type=checked("n_boot"), default=1000,
                         show_default=True, help="Bootstrap resamples for 95% CIs (0: none).")
MISSING = click.option("--missing", type=click.Choice(["last", "drop"]), default="last",
                       show_default=True,
                       help="Cells whose score failed or is not finite: ranked last (NASLib's "
                            "and AZ-NAS's protocol; every proxy on the same cells) or left "
                            "out (Abdelfattah et al.'s).")
FORCE = click.option("--force", is_flag=True,
                     help="Replace what --out holds: an existing table (merge, cells, "
                          "combine), or runs trained with other settings, their checkpoints "
                          "deleted (train). Without it nothing is replaced.")
RESUME = click.option("--resume", is_flag=True,
                      help="Continue a stopped run into the same --out (finished work is "
                           "kept).")
RETRY = click.option("--retry-errors", is_flag=True,
                     help="Score again the cells whose error column is set in a table being "
                          "continued (score: with --resume; ablate continues its tables).")
THREADS = click.option("--threads", type=checked("threads"), default=None,
                       help="torch threads per process (default: the usable cores idle when the "
                            "command starts, at least one, or OMP_NUM_THREADS when set; "
                            "`score`: one per worker process).")
WORKERS = click.option("--workers", type=checked("workers"), default=None,
                       help="Scoring processes, each with --threads torch threads (default: "
                            "one per usable CPU core, each with one thread, which gives the "
                            "one-thread table bit for bit; one on a GPU).")
DEVICE = click.option("--device", default="auto", show_default=True,
                      help="auto (a GPU if there is one), cpu, cuda or cuda:N.")
QUIET = click.option("--quiet", "-q", is_flag=True,
                     help="Print only results and errors (no progress bars or notes).")
EPOCHS = click.option("--epochs", type=checked("epochs"), default=None,
                      help="Override the preset's epochs.")
BATCH_SIZE = click.option("--batch-size", type=checked("batch_size"), default=None,
                          help="Images per batch: override the preset's batch size "
                               "(measure: the images measured; default: as many as the "
                               "proxies read).")
CHANNELS = click.option("--channels", type=checked("channels"), default=None,
                        help="Override the preset's channels C (width of the first stage).")
LAYERS = click.option("--layers", type=checked("layers"), default=None,
                      help="Override the preset's number of cells (NB201 and train/score: cells "
                           "per stage; DARTS and retrain: all cells).")
TRAIN_IMAGES = click.option("--train-images", type=checked("train_images"), default=None,
                            help="Override the preset's training images (0 = all).")
TARGET_MFLOPS = click.option("--target-mflops", type=checked("target_mflops"), default=None,
                             help="FLOPs budget (M multiply-adds) to size a DARTS network "
                                  "for.")


def out_file(help_text: str) -> click.Option:
    """--out of commands that write one table (CSV; its settings go beside it as .json)."""
    return click.option("--out", required=True, type=click.Path(dir_okay=False),
                        help=help_text + " (a .csv; its settings go to the same name with "
                                         ".json).")


def out_dir(help_text: str) -> click.Option:
    """--out of commands that write a folder of results."""
    return click.option("--out", required=True, type=click.Path(file_okay=False),
                        help=help_text + " (a folder).")
GAMMA = click.option("--gamma", type=checked("gamma"), default=1.0, show_default=True,
                     help="GeNAS Eq. (5)'s gamma in S + gamma*beta*F (combine: with --method "
                          "linear; search: when --proxy names two proxies "
                          "'angle;flatness:...').")
SCORES = click.option("--scores", "tables", multiple=True, type=click.Path(dir_okay=False),
                      help="Score table(s) to read proxy columns from (repeat the option).")
COLUMNS = click.option("--column", "columns", multiple=True,
                       help="Score column(s) to use (repeat; default: every proxy column).")
POPULATION = click.option("--population", type=checked("population"), default=100,
                          show_default=True, help="Evolution's population size.")
MUTATION_PROB = click.option("--mutation-prob", type=checked("mutation_prob"),
                             default=0.1, show_default=True,
                             help="Evolution: probability of re-drawing each choice.")
REPEATS = click.option("--repeats", type=checked("repeats"), default=1, show_default=True,
                       help="Search seeds seed..seed+R-1 (search-pool: 0..R-1); mean ± sd of "
                            "what they find.")
