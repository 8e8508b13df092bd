"""Command line of the backend: serve, worker, broker, keys, clean, info."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys

from backend import __version__, defaults, keys
from sketch_kit import protocol as proto
from sketch_kit.client import Client

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter

EPILOG = """examples:
  python -m backend serve                      # listen on tcp://127.0.0.1:5571
  python -m backend clean scans/ -o clean/     # clean a folder in-process
  python -m backend clean a.png -o out --format png,svg   # and trace it to SVG strokes
  python -m backend clean a.png -o out --server tcp://127.0.0.1:5571
  python -m backend keys ~/.sketch-cleanup/keys
  python -m backend serve --bind tcp://0.0.0.0:5571 --curve-secret KEYS/server.key_secret
  python -m backend broker &  python -m backend worker   # one worker per GPU
See docs/protocol.md for the wire protocol."""


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model, runtime and tiling")
    group.add_argument(
        "--model",
        help="the default .keras file; every NAME.keras beside it is a model requests may name "
        "(default: $SKETCH_CLEANUP_MODEL, a file or folder, else models/: sketch-unet.keras "
        "on a GPU, sketch-unet-small.keras on a CPU)",
    )
    group.add_argument(
        "--loaded-models",
        type=int,
        default=defaults.LOADED_MODELS,
        metavar="N",
        help="models held in memory at once; others load on their next job (%(default)s)",
    )
    group.add_argument(
        "--runtime",
        choices=defaults.RUNTIMES,
        default=defaults.RUNTIME,
        help="what runs the network: openvino (fast on a CPU), keras (TensorFlow, JAX or "
        "PyTorch; use it on a GPU) or auto, which picks between them (%(default)s)",
    )
    group.add_argument(
        "--tile",
        type=int,
        default=defaults.TILE,
        help="largest tile side in working px; smaller images run whole (%(default)s)",
    )
    group.add_argument(
        "--overlap",
        type=int,
        default=defaults.OVERLAP,
        help="overlap blended at each inner tile edge, px (%(default)s)",
    )
    group.add_argument(
        "--batch", type=int, default=defaults.BATCH, help="tiles per network call (%(default)s)"
    )


def _add_limit_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("limits")
    group.add_argument(
        "--max-side", type=int, default=defaults.MAX_SIDE, help="px a side (%(default)s)"
    )
    group.add_argument(
        "--max-pixels", type=int, default=defaults.MAX_PIXELS, help="pixels per image (%(default)s)"
    )
    group.add_argument(
        "--max-queue", type=int, default=defaults.MAX_QUEUE, help="jobs held (%(default)s)"
    )
    group.add_argument(
        "--max-queued-bytes",
        type=int,
        default=defaults.MAX_QUEUED_BYTES,
        help="pixel bytes held by those jobs; past it new jobs are told `busy` (%(default)s)",
    )


def _add_clean_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output (same as the editors' dialog)")
    group.add_argument(
        "--style",
        choices=proto.STYLES,
        default="white",
        help="transparent layer, lines on white, or soft gray (%(default)s)",
    )
    group.add_argument(
        "--color", default=proto.CleanOptions.color, help="line colour (%(default)s)"
    )
    group.add_argument(
        "--threshold",
        default=proto.CleanOptions.threshold,
        help="otsu, mean, none (soft) or a level in (0, 1) (%(default)s)",
    )
    group.add_argument(
        "--scale",
        default=proto.CleanOptions.scale,
        help="working resolution: auto or a factor in [{:g}, {:g}] (%(default)s)".format(
            *proto.SCALE_RANGE
        ),
    )
    low, high = proto.LINE_WIDTH_RANGE
    group.add_argument(
        "--flatten",
        action="store_true",
        help="even out uneven light and tinted paper before the network (phone photos)",
    )
    group.add_argument(
        "--line-width",
        default=proto.CleanOptions.line_width,
        metavar="auto|model|PX",
        help="redraw every line this wide, centred: auto (thin lines bolder than one pencil "
        "pass of the sketch, 2-4 px, down to it), model (as the network draws them) or a "
        f"width in px in [{low:g}, {high:g}] (%(default)s)",
    )


def _add_vector_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("files written (docs/vector.md)")
    group.add_argument(
        "--format",
        default="png",
        metavar="png|svg|png,svg",
        help="PNG raster, SVG vector lines traced from it, or both side by side (%(default)s)",
    )
    group.add_argument(
        "--vector",
        choices=("centreline", "outline"),
        default="centreline",
        help="SVG lines as strokes along the line centres, each with its width (editable "
        "paths; solid blobs filled), or as filled outlines that keep every swell and taper "
        "of inked lines (%(default)s)",
    )
    group.add_argument(
        "--tolerance",
        type=float,
        default=0.75,
        metavar="PX",
        help="centreline: how far a fitted curve may stray from the traced centre line; "
        "larger is smoother with fewer nodes (%(default)s)",
    )


def _formats(value: str) -> tuple[str, ...]:
    from backend.batch import FORMATS

    formats = tuple(dict.fromkeys(f.strip().lower() for f in value.split(",") if f.strip()))
    if not formats or any(f not in FORMATS for f in formats):
        raise SystemExit(f"error: --format must be png, svg or png,svg (got {value!r})")
    return formats


def _number_or_word(value: str):
    try:
        return float(value)
    except ValueError:
        return value


def _models(args):
    """The models folder of --model, its default model loaded (SystemExit if it cannot be)."""
    from backend.catalog import ModelCatalog
    from backend.model import default_model_path
    from backend.pipeline import Settings
    from backend.runtime import RuntimeUnavailable

    settings = Settings(tile=args.tile, overlap=args.overlap, batch=args.batch)
    path = args.model or default_model_path()
    try:
        return ModelCatalog(path, args.runtime, settings, args.loaded_models)
    except (FileNotFoundError, RuntimeUnavailable, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None


def _limits(args):
    from backend.server import Limits

    return Limits(
        max_side=args.max_side,
        max_pixels=args.max_pixels,
        max_queue=args.max_queue,
        max_queued_bytes=args.max_queued_bytes,
    )


def _stop_on_signals(service) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())


def _bind_or_exit(run, endpoint: str) -> int:
    """Run `run()`; if its address is taken, say so plainly and exit EXIT_ADDRESS_IN_USE."""
    import zmq

    try:
        run()
    except zmq.ZMQError as exc:
        if exc.errno != zmq.EADDRINUSE:
            raise
        logging.getLogger("backend").error(
            "%s is already in use, probably by another Sketch Cleanup backend: not starting a "
            "second one",
            endpoint,
        )
        return proto.EXIT_ADDRESS_IN_USE
    return 0


def cmd_serve(args) -> int:
    from backend.server import Service

    secret = keys.require_keys_for(args.bind, args.curve_secret)
    service = Service(_models(args), _limits(args), idle_exit=args.idle_exit)
    auth = keys.authorize_clients(service.context, args.authorized_keys)
    _stop_on_signals(service)
    try:
        return _bind_or_exit(lambda: service.serve(args.bind, secret), args.bind)
    finally:
        if auth:
            auth.stop()


def cmd_worker(args) -> int:
    from backend.server import Service

    server_key = keys.load_public(args.server_key) if args.server_key else None
    service = Service(_models(args), _limits(args))
    _stop_on_signals(service)
    service.work(args.connect, server_key)
    return 0


def cmd_broker(args) -> int:
    from backend.broker import Broker

    secret = keys.require_keys_for(args.bind, args.curve_secret)
    if not keys.is_local(args.workers):
        secret = secret or keys.require_keys_for(args.workers, None)
    broker = Broker(_limits(args))
    _stop_on_signals(broker)
    run = lambda: broker.run(args.bind, args.workers, secret)  # noqa: E731
    return _bind_or_exit(run, f"{args.bind} or {args.workers}")


def cmd_keys(args) -> int:
    try:
        public, secret = keys.create(args.directory, args.name, force=args.force)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"public key (give to clients): {public}\nsecret key (keep private):    {secret}")
    return 0


def cmd_info(args) -> int:
    server_key = keys.load_public(args.server_key) if args.server_key else None
    with Client(args.server, server_key=server_key) as client:
        try:
            print(json.dumps(client.info(timeout=args.timeout), indent=2))
        except proto.BackendError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
    return 0


def cmd_clean(args) -> int:
    from backend import batch

    try:
        options = proto.CleanOptions(
            style=args.style,
            color=args.color,
            threshold=_number_or_word(args.threshold),
            scale=_number_or_word(args.scale),
            line_width=_number_or_word(args.line_width),
            flatten=args.flatten,
        )
    except proto.ProtocolError as exc:
        raise SystemExit(f"error: {exc.message}") from None
    formats = _formats(args.format)
    if not 0 < args.tolerance <= 10:
        raise SystemExit("error: --tolerance must be in (0, 10] px")
    files = batch.plan(args.inputs, args.output, formats)  # refuse clashes before the model
    server_key = keys.load_public(args.server_key) if args.server_key else None
    try:
        failures = batch.run(
            files,
            args.output,
            options,
            cleaner=None if args.server else _models(args),
            endpoint=args.server,
            server_key=server_key,
            formats=formats,
            vector={"mode": args.vector}
            if args.vector == "outline"
            else {"mode": args.vector, "tolerance": args.tolerance},
        )
    except proto.BackendUnavailable as exc:
        raise SystemExit(f"error: {exc.message}") from None
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m backend",
        description="Sketch Cleanup backend: turns rough sketches "
        "into clean line art for Krita, GIMP and the command line.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the cleanup service for editors")
    serve.add_argument("--bind", default=proto.DEFAULT_ENDPOINT, help="endpoint (%(default)s)")
    serve.add_argument("--curve-secret", help="server.key_secret: required beyond loopback")
    serve.add_argument("--authorized-keys", help="folder of client public keys allowed in")
    serve.add_argument(
        "--idle-exit",
        type=float,
        default=0,
        metavar="SECONDS",
        help="exit after this long without requests (0: never; editors that "
        "start the backend themselves use this)",
    )
    _add_model_args(serve)
    _add_limit_args(serve)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="serve a broker's clients (one per GPU)")
    worker.add_argument(
        "--connect",
        default=proto.DEFAULT_WORKER_ENDPOINT,
        help="broker's worker endpoint (%(default)s)",
    )
    worker.add_argument("--server-key", help="the broker's server.key when it uses CURVE")
    _add_model_args(worker)
    _add_limit_args(worker)
    worker.set_defaults(func=cmd_worker)

    broker = sub.add_parser("broker", help="put several workers behind one address")
    broker.add_argument(
        "--bind", default=proto.DEFAULT_ENDPOINT, help="client endpoint (%(default)s)"
    )
    broker.add_argument(
        "--workers", default=proto.DEFAULT_WORKER_ENDPOINT, help="worker endpoint (%(default)s)"
    )
    broker.add_argument("--curve-secret", help="server.key_secret: required beyond loopback")
    _add_limit_args(broker)
    broker.set_defaults(func=cmd_broker)

    keys_cmd = sub.add_parser("keys", help="create a CURVE key pair for remote serving")
    keys_cmd.add_argument("directory", help="folder to write NAME.key and NAME.key_secret to")
    keys_cmd.add_argument("--name", default="server", help="file name stem (%(default)s)")
    keys_cmd.add_argument(
        "--force", action="store_true", help="replace an existing pair (old clients lose access)"
    )
    keys_cmd.set_defaults(func=cmd_keys)

    info = sub.add_parser("info", help="ask a running backend what it is")
    info.add_argument("--server", default=proto.DEFAULT_ENDPOINT, help="endpoint (%(default)s)")
    info.add_argument("--server-key", help="server.key when the backend uses CURVE")
    info.add_argument("--timeout", type=float, default=3.0, help="seconds (%(default)s)")
    info.set_defaults(func=cmd_info)

    clean = sub.add_parser(
        "clean",
        help="clean image files or folders",
        description="Clean files or folders (animation frames, scans) into "
        "PNGs with the same pipeline as the editors, and/or SVGs traced from them.",
    )
    clean.add_argument("inputs", nargs="+", help="image files or folders")
    clean.add_argument("-o", "--output", required=True, help="output folder")
    clean.add_argument(
        "--server", help="use a running backend at this endpoint instead of loading the model here"
    )
    clean.add_argument("--server-key", help="server.key when the backend uses CURVE")
    _add_clean_options(clean)
    _add_vector_options(clean)
    _add_model_args(clean)
    clean.set_defaults(func=cmd_clean)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO
        if args.verbose or args.command in ("serve", "worker", "broker")
        else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
