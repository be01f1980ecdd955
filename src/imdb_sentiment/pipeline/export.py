"""Stage 5, export: the end-to-end model as a TensorFlow SavedModel for TensorFlow Serving.

The SavedModel's `serving_default` signature takes a batch of raw review
strings (input "text", shape [None]) and returns {"probability": P(positive)}.
TensorFlow Serving loads numbered version directories, so the model is written
to <out>/<version>/ and <out> is what the server mounts as its model base path.
The whole <out> directory is replaced atomically, and the same model always
gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from imdb_sentiment.core.artifacts import atomic_path
from imdb_sentiment.core.errors import PipelineError, WriteError, exit_on_error

SIGNATURE = "serving_default"
INPUT_NAME = "text"
OUTPUT_NAME = "probability"


def export_saved_model(model_path: str | Path, out: str | Path, version: int = 1) -> Path:
    """Write the model at `model_path` to <out>/<version>/ as a SavedModel; returns that path."""
    import keras
    import tensorflow as tf

    from imdb_sentiment.inference.scoring import load_model

    # Loading draws the dropout layers' seed states, which the SavedModel stores.
    keras.utils.set_random_seed(0)
    model = load_model(model_path)
    archive = keras.export.ExportArchive()
    archive.track(model)
    keep_variables_in_name_order(archive)

    # A named output dict makes the REST/gRPC response say what the number is.
    def serve(text):
        return {OUTPUT_NAME: model(text, training=False)}

    archive.add_endpoint(
        name=SIGNATURE,
        fn=serve,
        input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)],
    )
    out = Path(out)
    # TensorFlow writes through its own file system layer: a full disk, a file too large
    # or a forbidden place come back as these, not as OSError
    write_failures = (
        tf.errors.ResourceExhaustedError,
        tf.errors.OutOfRangeError,
        tf.errors.PermissionDeniedError,
        tf.errors.UnavailableError,
    )
    with atomic_path(out, directory=True) as tmp:
        tmp.mkdir()
        try:
            archive.write_out(str(tmp / str(version)), verbose=False)
            stamp_fingerprint_from_content(tmp / str(version))
        except write_failures as err:  # "<temporary file>; No space left on device"
            reason = err.message.rsplit("; ", 1)[-1]
            raise WriteError(f"cannot write {out}: {reason}") from None
    return out / str(version)


def keep_variables_in_name_order(archive) -> None:
    """Make `archive` write its variables sorted by name: Keras lists them in an order that
    changes from process to process, and the SavedModel's bytes follow that order."""
    track_resources = archive._filter_and_track_resources

    def track_resources_in_name_order():
        track_resources()
        trackable = archive._tf_trackable
        trackable._all_variables = sorted(
            trackable._all_variables, key=lambda variable: variable.name
        )

    archive._filter_and_track_resources = track_resources_in_name_order


def stamp_fingerprint_from_content(saved_model_dir: Path) -> None:
    """Replace the random uuid TensorFlow writes into fingerprint.pb with one derived from the
    fingerprint's content hashes, so that the same model gives the same file."""
    from tensorflow.core.protobuf import fingerprint_pb2

    path = saved_model_dir / "fingerprint.pb"
    fingerprint = fingerprint_pb2.FingerprintDef.FromString(path.read_bytes())
    fingerprint.ClearField("uuid")
    digest = hashlib.sha256(fingerprint.SerializeToString(deterministic=True)).digest()
    fingerprint.uuid = str(int.from_bytes(digest[:16], "big"))
    path.write_bytes(fingerprint.SerializeToString(deterministic=True))


@exit_on_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="end-to-end .keras model")
    parser.add_argument(
        "--out",
        required=True,
        help="TF Serving model base path; the SavedModel goes to OUT/VERSION",
    )
    parser.add_argument("--version", type=int, default=1, help="model version directory name")
    args = parser.parse_args(argv)
    if not 1 <= args.version <= 2**31 - 1:
        raise PipelineError(f"--version must be an integer in [1, {2**31 - 1}], got {args.version}")

    path = export_saved_model(args.model, args.out, args.version)
    print(
        f"export: {args.model} -> {path} (signature {SIGNATURE!r}: "
        f"{INPUT_NAME} string[None] -> {OUTPUT_NAME} float[None])",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
