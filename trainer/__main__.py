"""Command line: ``python -m trainer {train,fine-tune,evaluate,export,synth} ...``.

Keras is imported only once a command runs, so ``--help`` is instant. The Keras backend is
chosen with the ``KERAS_BACKEND`` environment variable (tensorflow, jax or torch).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trainer.quiet import import_keras_quietly
from trainer.synth import cli as synth_cli

EPILOG = "See docs/training.md for the data layout, multi-GPU / multi-worker training and JAX."


def _add_data_args(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="DIR",
        required=required,
        help="folder with input/ (rough) and target/ (clean) images matched by file name; "
        "repeat for several folders",
    )
    p.add_argument(
        "--synthetic",
        type=int,
        default=0,
        metavar="N",
        help="also stream N synthetic pairs per epoch from trainer.synth, no files written "
        "(%(default)s)",
    )


def _add_threshold_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target-threshold",
        default="mean",
        help="binarise targets at their mean (the original rule), 'otsu', or a fixed level in "
        "(0, 1); use otsu/0.5 for scanned targets with paper texture or JPEG noise "
        "(%(default)s)",
    )


def _add_training_args(p: argparse.ArgumentParser, *, lr: float, epochs: int, patience: int):
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory (created)")
    p.add_argument("--epochs", type=int, default=epochs, help="epochs (%(default)s)")
    p.add_argument("--batch-size", type=int, default=4, help="batch size per device (%(default)s)")
    p.add_argument(
        "--accum-steps",
        type=int,
        default=1,
        metavar="K",
        help="gradient accumulation: apply the averaged gradient of K batches (%(default)s)",
    )
    p.add_argument(
        "--patch", type=int, default=424, help="training size, a multiple of 8 (%(default)s)"
    )
    p.add_argument("--lr", type=float, default=lr, help="Adam learning rate (%(default)s)")
    p.add_argument(
        "--lr-schedule",
        choices=("plateau", "cosine", "constant"),
        default="plateau",
        help="halve the LR when val loss plateaus, cosine decay, or constant (%(default)s)",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="MINUTES",
        help="train for this much wall-clock time (all resumes together), stopping at the "
        "first epoch end past it; --epochs becomes an upper bound and a cosine schedule "
        "decays over the time rather than over the steps (for a leased GPU)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=1,
        metavar="N",
        help="checkpoint every N epochs, and after the last (%(default)s)",
    )
    p.add_argument(
        "--keep-checkpoints",
        type=int,
        default=3,
        metavar="K",
        help="keep the newest K checkpoints (%(default)s)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=patience,
        help="early stopping after this many epochs without improvement; the best weights "
        "are restored (%(default)s)",
    )
    p.add_argument(
        "--mixed-precision",
        nargs="?",
        const="float16",
        choices=("float16", "bfloat16"),
        default=None,
        help="mixed precision: float16 (with loss scaling; the value when the flag has none) "
        "or bfloat16 (default: float32)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (%(default)s)")
    p.add_argument(
        "--val-split",
        type=float,
        default=0.1,
        help="fraction of file pairs kept for validation (%(default)s)",
    )
    p.add_argument(
        "--steps-per-epoch",
        type=int,
        default=None,
        metavar="N",
        help="cap the batches per epoch (default: the whole training set)",
    )
    p.add_argument("--no-augment", action="store_true", help="disable data augmentation")
    loaders = p.add_mutually_exclusive_group()
    loaders.add_argument(
        "--loader-threads",
        type=int,
        default=0,
        metavar="N",
        help="threads that load and augment batches (default 0: min(4, CPUs))",
    )
    loaders.add_argument(
        "--loader-processes",
        type=int,
        default=0,
        metavar="N",
        help="load and augment batches in N processes instead of threads",
    )
    p.add_argument("--cache", action="store_true", help="keep decoded images in memory")
    _add_threshold_arg(p)
    p.add_argument(
        "--loss-alpha",
        type=float,
        default=0.5,
        help="recall weight of each class in the PMI/GMI loss; below 0.5 an inked paper pixel "
        "costs more than a missed line pixel, which gives thinner lines (%(default)s)",
    )
    resume = p.add_mutually_exclusive_group()
    resume.add_argument(
        "--resume",
        action="store_true",
        help="require a checkpoint in RUN_DIR and resume from it (resuming is automatic "
        "whenever RUN_DIR has checkpoints)",
    )
    resume.add_argument(
        "--no-resume", action="store_true", help="refuse to start if RUN_DIR has checkpoints"
    )
    p.add_argument(
        "--multi-worker",
        action="store_true",
        help="several machines: MultiWorkerMirroredStrategy configured by TF_CONFIG "
        "(TensorFlow backend)",
    )
    p.add_argument(
        "--devices",
        default=None,
        help="comma-separated devices for MirroredStrategy, e.g. /gpu:0,/gpu:1 (default: all)",
    )
    p.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard logs")
    p.add_argument(
        "--jit",
        choices=("auto", "on", "off"),
        default="auto",
        help="XLA/JIT compilation (%(default)s)",
    )
    p.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=None,
        help="Keras fit verbosity (default: a progress bar on a terminal, else 2: one line "
        "per epoch)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer",
        description="Train, fine-tune, evaluate and export the sketch-cleanup U-Net, and "
        "write synthetic training pairs.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "train",
        help="train from scratch (or resume a run)",
        description="Train the U-Net on paired folders and/or streamed synthetic pairs. "
        "Rerunning the same command after a crash or kill resumes from the newest checkpoint.",
        epilog=EPILOG,
    )
    _add_data_args(p, required=False)
    _add_training_args(p, lr=1e-3, epochs=100, patience=10)
    p.add_argument(
        "--model-preset",
        choices=("default", "small", "tiny"),
        default="default",
        help="model size: default (the original design, 8.3M parameters), small (0.7M), "
        "tiny (23k, for tests) (%(default)s)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "fine-tune",
        help="adapt the shipped model to a studio's own drawings",
        description="Continue training from an exported model on a (small) studio data set, "
        "with a lower learning rate and fewer epochs.",
        epilog=EPILOG,
    )
    _add_data_args(p, required=True)
    _add_training_args(p, lr=1e-4, epochs=20, patience=5)
    p.add_argument(
        "--base", default="models/sketch-unet.keras", help="model to start from (%(default)s)"
    )
    p.add_argument(
        "--freeze-encoder",
        action="store_true",
        help="train only the decoder (encoder weights and BN statistics stay fixed)",
    )
    p.set_defaults(func=cmd_fine_tune)

    p = sub.add_parser(
        "evaluate",
        help="metrics, comparison sheets and training curves",
        description="Evaluate a model on paired folders at the training patch size.",
    )
    p.add_argument("--model", required=True, metavar="MODEL.keras", help="model to evaluate")
    _add_data_args(p, required=False)
    p.add_argument("--out", required=True, metavar="EVAL_DIR", help="report folder (created)")
    p.add_argument("--run", default=None, metavar="RUN_DIR", help="plot this run's log.csv")
    p.add_argument("--patch", type=int, default=424, help="evaluation size (%(default)s)")
    p.add_argument("--batch-size", type=int, default=4, help="batch size (%(default)s)")
    p.add_argument("--sheets", type=int, default=2, help="comparison sheets to write (%(default)s)")
    p.add_argument("--per-sheet", type=int, default=4, help="samples per sheet (%(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic pairs (%(default)s)")
    _add_threshold_arg(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "export",
        help="write the backend's .keras file and its model card",
        description="Export a checkpoint as models/NAME.keras (float32 compute, no optimizer) "
        "plus models/NAME.json, the model card the backend reads.",
    )
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="CKPT.keras",
        help="a run's final.keras or checkpoints/epoch-NNNN.keras",
    )
    p.add_argument("--out", required=True, metavar="models/NAME.keras", help="model file to write")
    p.add_argument(
        "--float16", action="store_true", help="store the weights as float16 (half the size)"
    )
    p.add_argument(
        "--run",
        default=None,
        metavar="RUN_DIR",
        help="run directory (default: the one holding the checkpoint)",
    )
    p.add_argument("--name", default=None, help="card name (default: the file stem)")
    p.add_argument("--version", default="1", help="card version (%(default)s)")
    p.add_argument(
        "--stroke-width",
        type=float,
        default=None,
        help="override the median stroke width (px) recorded by training",
    )
    p.add_argument(
        "--metrics",
        default=None,
        metavar="EVAL_DIR/metrics.json",
        help="metrics for the card (default: the run's best validation epoch)",
    )
    p.add_argument(
        "--licence",
        default="MIT",
        help="licence of the weights; mind the training data's (%(default)s)",
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "synth",
        help="write synthetic (rough, clean) pairs",
        description="Write synthetic (rough, clean) sketch pairs (docs/synthetic.md).",
    )
    synth_cli.add_arguments(p)
    p.set_defaults(func=synth_cli.run)
    return parser


def _train_config(args: argparse.Namespace, **command_options):
    from trainer.config import TrainConfig

    return TrainConfig(
        out=args.out,
        data=list(args.data),
        synthetic=args.synthetic,
        epochs=args.epochs,
        batch_size=args.batch_size,
        accum_steps=args.accum_steps,
        patch=args.patch,
        lr=args.lr,
        lr_schedule=args.lr_schedule,
        time_budget_minutes=args.time_budget,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        patience=args.patience,
        mixed_precision=args.mixed_precision,
        seed=args.seed,
        val_split=args.val_split,
        steps_per_epoch=args.steps_per_epoch,
        augment=not args.no_augment,
        workers=args.loader_processes or args.loader_threads,
        use_multiprocessing=args.loader_processes > 0,
        cache=args.cache,
        target_threshold=args.target_threshold,
        loss_alpha=args.loss_alpha,
        resume="always" if args.resume else ("never" if args.no_resume else "auto"),
        multi_worker=args.multi_worker,
        devices=[d for d in args.devices.split(",") if d] if args.devices else None,
        tensorboard=not args.no_tensorboard,
        jit_compile=args.jit,
        verbose=args.verbose,
        **command_options,
    )


def cmd_train(args: argparse.Namespace) -> int:
    import_keras_quietly()
    return _run_training(_train_config(args, model_preset=args.model_preset))


def cmd_fine_tune(args: argparse.Namespace) -> int:
    import_keras_quietly()
    config = _train_config(args, init_from=args.base, freeze_encoder=args.freeze_encoder)
    return _run_training(config)


def _run_training(config) -> int:
    from trainer.train import train

    result = train(config)
    print(
        f"done: {result.epochs_done} epochs, {result.iterations} steps, "
        f"{result.seconds:.0f} s; model: {result.final_model}",
        flush=True,
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    if not args.data and not args.synthetic:
        print("evaluate: give --data DIR (or --synthetic N)", file=sys.stderr)
        return 2
    import_keras_quietly()
    from trainer.evaluate import evaluate

    res = evaluate(
        args.model,
        args.data,
        args.out,
        patch=args.patch,
        batch_size=args.batch_size,
        synthetic=args.synthetic,
        seed=args.seed,
        run_dir=args.run,
        sheets=args.sheets,
        per_sheet=args.per_sheet,
        target_threshold=args.target_threshold,
    )
    shown = ", ".join(f"{k} {v:.4f}" for k, v in res["metrics"].items())
    print(f"{res['samples']} samples: {shown}\nreport: {args.out}/metrics.json", flush=True)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import_keras_quietly()
    from trainer.export import export

    export(
        args.checkpoint,
        args.out,
        float16=args.float16,
        run_dir=args.run,
        name=args.name,
        version=args.version,
        stroke_width_px=args.stroke_width,
        metrics=args.metrics,
        licence=args.licence,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
