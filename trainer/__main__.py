"""Command line: ``python -m trainer {train,fine-tune,evaluate,export} ...``.

Keras is imported only once a command runs, so ``--help`` is instant. The Keras backend is
chosen with the ``KERAS_BACKEND`` environment variable (tensorflow, jax or torch).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
        help="also stream N synthetic pairs per epoch from trainer.synth (no files written)",
    )


def _add_threshold_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target-threshold",
        default="mean",
        help="binarise targets at their mean (the original rule, default), 'otsu', or a fixed "
        "level in (0, 1); use otsu/0.5 for scanned targets with paper texture or JPEG noise",
    )


def _add_training_args(p: argparse.ArgumentParser, *, lr: float, epochs: int, patience: int):
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory (created)")
    p.add_argument("--epochs", type=int, default=epochs, help=f"epochs (default {epochs})")
    p.add_argument("--batch-size", type=int, default=4, help="batch size per device (default 4)")
    p.add_argument(
        "--accum-steps",
        type=int,
        default=1,
        help="gradient accumulation: apply the averaged gradient of this many batches",
    )
    p.add_argument("--patch", type=int, default=424, help="training size, multiple of 8 (424)")
    p.add_argument("--lr", type=float, default=lr, help=f"Adam learning rate (default {lr})")
    p.add_argument(
        "--lr-schedule",
        choices=("plateau", "cosine", "constant"),
        default="plateau",
        help="halve the LR when val loss plateaus (default), cosine decay, or constant",
    )
    p.add_argument(
        "--checkpoint-every", type=int, default=1, metavar="N", help="checkpoint every N epochs"
    )
    p.add_argument(
        "--keep-checkpoints", type=int, default=3, metavar="K", help="keep the newest K (3)"
    )
    p.add_argument(
        "--patience",
        type=int,
        default=patience,
        help=f"early stopping patience in epochs (default {patience}); best weights restored",
    )
    p.add_argument(
        "--mixed-precision",
        nargs="?",
        const="float16",
        choices=("float16", "bfloat16"),
        default=None,
        help="mixed precision: float16 (with loss scaling, the default when given without a "
        "value) or bfloat16",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--val-split", type=float, default=0.1, help="fraction of file pairs kept for validation"
    )
    p.add_argument("--steps-per-epoch", type=int, default=None, help="cap the batches per epoch")
    p.add_argument("--no-augment", action="store_true", help="disable data augmentation")
    p.add_argument("--workers", type=int, default=0, help="data loading workers (0: min(4, CPUs))")
    p.add_argument(
        "--multiprocessing",
        action="store_true",
        help="load data in processes instead of threads",
    )
    p.add_argument("--cache", action="store_true", help="keep decoded images in memory")
    _add_threshold_arg(p)
    p.add_argument(
        "--loss-alpha",
        type=float,
        default=0.5,
        help="recall weight of each class in the PMI/GMI loss (default 0.5); below 0.5 an inked "
        "paper pixel costs more than a missed line pixel, which gives thinner lines",
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
        "--jit", choices=("auto", "on", "off"), default="auto", help="XLA/JIT compilation"
    )
    p.add_argument(
        "--verbose", type=int, choices=(0, 1, 2), default=None, help="Keras fit verbosity"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer",
        description="Train, fine-tune, evaluate and export the sketch-cleanup U-Net. "
        "`python -m trainer synth --help`: the synthetic rough-sketch pair generator.",
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
        "tiny (23k, for tests)",
    )

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
        "--base",
        default="models/sketch-unet.keras",
        help="model to start from (default models/sketch-unet.keras)",
    )
    p.add_argument(
        "--freeze-encoder",
        action="store_true",
        help="train only the decoder (encoder weights and BN statistics stay fixed)",
    )

    p = sub.add_parser(
        "evaluate",
        help="metrics, comparison sheets and training curves",
        description="Evaluate a model on paired folders at the training patch size.",
    )
    p.add_argument("--model", required=True, help="model (.keras) to evaluate")
    _add_data_args(p, required=False)
    p.add_argument("--out", required=True, metavar="EVAL_DIR", help="report folder")
    p.add_argument("--run", default=None, metavar="RUN_DIR", help="plot this run's log.csv")
    p.add_argument("--patch", type=int, default=424, help="evaluation size (default 424)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--sheets", type=int, default=2, help="comparison sheets to write (2)")
    p.add_argument("--per-sheet", type=int, default=4, help="samples per sheet (4)")
    p.add_argument("--seed", type=int, default=0)
    _add_threshold_arg(p)

    p = sub.add_parser(
        "export",
        help="write the backend's .keras file and its model card",
        description="Export a checkpoint as models/NAME.keras (float32 compute, no optimizer) "
        "plus models/NAME.json, the model card the backend reads.",
    )
    p.add_argument("--checkpoint", required=True, metavar="CKPT.keras")
    p.add_argument("--out", required=True, metavar="models/NAME.keras")
    p.add_argument(
        "--float16", action="store_true", help="store the weights as float16 (half the size)"
    )
    p.add_argument("--run", default=None, metavar="RUN_DIR", help="run dir (default: guessed)")
    p.add_argument("--name", default=None, help="card name (default: file stem)")
    p.add_argument("--version", default="1", help="card version (default 1)")
    p.add_argument(
        "--stroke-width",
        type=float,
        default=None,
        help="override the median stroke width (px) recorded by training",
    )
    p.add_argument(
        "--metrics", default=None, metavar="EVAL_DIR/metrics.json", help="metrics for the card"
    )
    p.add_argument(
        "--licence", default="MIT", help="licence of the weights (mind the training data's)"
    )
    return parser


def _train_config(args, fine_tune: bool):
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
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        patience=args.patience,
        mixed_precision=args.mixed_precision,
        model_preset="default" if fine_tune else args.model_preset,
        seed=args.seed,
        val_split=args.val_split,
        steps_per_epoch=args.steps_per_epoch,
        augment=not args.no_augment,
        workers=args.workers,
        use_multiprocessing=args.multiprocessing,
        cache=args.cache,
        target_threshold=args.target_threshold,
        loss_alpha=args.loss_alpha,
        resume="always" if args.resume else ("never" if args.no_resume else "auto"),
        multi_worker=args.multi_worker,
        devices=[d for d in args.devices.split(",") if d] if args.devices else None,
        tensorboard=not args.no_tensorboard,
        jit_compile=args.jit,
        init_from=args.base if fine_tune else None,
        freeze_encoder=bool(getattr(args, "freeze_encoder", False)),
        verbose=args.verbose,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["synth"]:  # the synthetic pair generator has its own command line
        from trainer.synth.cli import main as synth_main

        return synth_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command in ("train", "fine-tune"):
        from trainer.train import train

        result = train(_train_config(args, fine_tune=args.command == "fine-tune"))
        print(
            f"done: {result.epochs_done} epochs, {result.iterations} steps, "
            f"{result.seconds:.0f} s; model: {result.final_model}",
            flush=True,
        )
        return 0
    if args.command == "evaluate":
        from trainer.evaluate import evaluate

        if not args.data and not args.synthetic:
            print("evaluate: give --data DIR (or --synthetic N)", file=sys.stderr)
            return 2
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
    if args.command == "export":
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
    raise AssertionError(args.command)  # pragma: no cover - argparse rejects others


if __name__ == "__main__":
    sys.exit(main())
