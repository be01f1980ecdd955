"""Other ways to run a recurrent layer's time steps on the CPU, against Keras' own loop.

    python benchmarks/kernels.py            # a table on stdout; about two minutes on 2 cores

One training step's recurrent part (forward and backward, gradients for the weights and the
inputs) is timed at 1 and at 300 time steps; the difference over 299 is the cost of one time
step. Each variant runs in a fresh process and the variants take turns, `--rounds` times.

- `keras_lstm`: Keras' LSTM(64), the benchmark's tutorial architecture, at batch 128;
- `lstm_halves`: the same layer on the two halves of the batch, as two loops the two cores
  can run at once;
- `lstm_fused`: the input projection of every step in one matrix product before the loop,
  and a hand-written backward loop (`tf.custom_gradient`) whose weight gradient is one
  product after it: fewer ops per step, but whole-sequence tensors to write and read;
- `keras_bigru`: Keras' GRU(32) both ways, the default network's recurrent part, as the
  train stage builds it (two loops);
- `bigru_one_loop`: both directions in one loop, batched products over the direction;
- `bigru_hoisted`: the train stage's `HoistedGRU` both ways (`src/imdb_sentiment/modeling/
  layers.py`): Keras' GRU weights, each direction's input projections of every step as one
  matrix product before its loop, TensorFlow's own gradient;
- `bigru_pieces`: Keras' GRU(32) both ways on each review cut into pieces of `PIECE` steps,
  side by side: a third of the sequential steps on a batch three times as large;
- `lstm_products_only`, `bigru_products_only`: not layers but bounds: per step only the
  layer's matrix products, as one product of [input, h] with the stacked weights, and one
  tanh. No way of running the layer's steps as TensorFlow ops does less per step, so their
  speed is the most any such way can reach.

Each row also gives the rate of the layer's matrix products (the same for every variant of
a layer) against this machine's matmul peak, measured in the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BATCH, FEATURES, LONG = 128, 64, 300
PIECE = 100
VARIANTS = (
    "keras_lstm",
    "lstm_halves",
    "lstm_fused",
    "keras_bigru",
    "bigru_one_loop",
    "bigru_hoisted",
    "bigru_pieces",
    "lstm_products_only",
    "bigru_products_only",
)


def fused_lstm(proj, recurrent_kernel):
    """h for every step (T, B, H) from proj = x @ kernel + bias (T, B, 4H), time-major.

    The candidate gate's columns arrive scaled by 2, so one sigmoid serves all four gates
    (tanh(z) = 2 sigmoid(2z) - 1)."""
    import tensorflow as tf

    def loop(n, body, carry):
        return tf.while_loop(lambda t, *_: t < n, body, carry, maximum_iterations=n)

    @tf.custom_gradient
    def run(proj, u):
        n, batch, units = tf.shape(proj)[0], tf.shape(proj)[1], tf.shape(u)[0]
        zeros = tf.zeros(tf.stack([batch, units]), proj.dtype)
        steps = tf.TensorArray(proj.dtype, size=n).unstack(proj)

        def forward(t, h, c, hs, cs, gates):
            i, f, g, o = tf.split(tf.sigmoid(steps.read(t) + tf.matmul(h, u)), 4, axis=-1)
            g = 2.0 * g - 1.0
            c = f * c + i * g
            h = o * tf.tanh(c)
            return (
                t + 1,
                h,
                c,
                hs.write(t, h),
                cs.write(t, c),
                gates.write(t, tf.concat([i, f, g, o], -1)),
            )

        def array():
            return tf.TensorArray(proj.dtype, size=n)

        _, _, _, hs, cs, gates = loop(n, forward, (0, zeros, zeros, array(), array(), array()))
        hs, cs, gates = hs.stack(), cs.stack(), gates.stack()

        def grad(dhs):
            tc = tf.tanh(cs)
            c_prev = tf.concat([tf.zeros_like(cs[:1]), cs[:-1]], 0)
            i, f, g, o = tf.split(gates, 4, axis=-1)
            slopes = tf.concat([i * (1 - i), f * (1 - f), (1 - g * g) * 0.5, o * (1 - o)], -1)
            saved = tf.TensorArray(proj.dtype, size=n).unstack(
                tf.concat([i, f, g, slopes, c_prev, tc, o * (1 - tc * tc)], -1)
            )
            incoming = tf.TensorArray(proj.dtype, size=n).unstack(dhs)
            u_t = tf.transpose(u)

            def backward(k, dh_next, dc_next, dzs):
                t = n - 1 - k
                i, f, g, slope, cp, tc_t, o_slope = tf.split(
                    saved.read(t), [units, units, units, 4 * units, units, units, units], axis=-1
                )
                dh = incoming.read(t) + dh_next
                dc = dc_next + dh * o_slope
                dz = tf.concat([dc * g, dc * cp, dc * i, dh * tc_t], -1) * slope
                return k + 1, tf.matmul(dz, u_t), dc * f, dzs.write(t, dz)

            _, _, _, dzs = loop(n, backward, (0, zeros, zeros, array()))
            dz = dzs.stack()
            h_prev = tf.concat([tf.zeros_like(hs[:1]), hs[:-1]], 0)
            return dz, tf.einsum("tbh,tbg->hg", h_prev, dz)

        return hs, grad

    return run(proj, recurrent_kernel)


def products_only(x, kernel):
    """h for every step (B, T, H): h = tanh of the first H columns of [x_t, h] @ kernel, whose
    rows are the F input features and then the H units."""
    import tensorflow as tf

    units = kernel.shape[0] - x.shape[-1]
    n = tf.shape(x)[1]
    steps = tf.TensorArray(x.dtype, size=n).unstack(tf.transpose(x, [1, 0, 2]))

    def body(t, h, out):
        h = tf.tanh(tf.matmul(tf.concat([steps.read(t), h], -1), kernel)[:, :units])
        return t + 1, h, out.write(t, h)

    h0 = tf.zeros(tf.stack([tf.shape(x)[0], units]), x.dtype)
    _, _, out = tf.while_loop(
        lambda t, *_: t < n, body, (0, h0, tf.TensorArray(x.dtype, size=n)), maximum_iterations=n
    )
    return tf.transpose(out.stack(), [1, 0, 2])


def bigru_one_loop(x, kernel, recurrent_kernel, bias):
    """Both directions of a GRU (reset after) in one loop; weights stacked on a first axis of 2."""
    import tensorflow as tf

    units = recurrent_kernel.shape[1]
    xs = tf.stack([x, tf.reverse(x, [1])])
    proj = tf.einsum("dbte,deg->tdbg", xs, kernel) + bias[:, 0][None, :, None, :]
    n = tf.shape(proj)[0]
    steps = tf.TensorArray(x.dtype, size=n).unstack(proj)
    recurrent_bias = bias[:, 1][:, None, :]

    def body(t, h, out):
        x_zr, x_h = tf.split(steps.read(t), [2 * units, units], axis=-1)
        i_zr, i_h = tf.split(
            tf.matmul(h, recurrent_kernel) + recurrent_bias, [2 * units, units], -1
        )
        z, r = tf.split(tf.sigmoid(x_zr + i_zr), 2, axis=-1)
        candidate = tf.tanh(x_h + r * i_h)
        h = z * h + (1 - z) * candidate
        return t + 1, h, out.write(t, h)

    h0 = tf.zeros(tf.stack([2, tf.shape(x)[0], units]), x.dtype)
    _, _, out = tf.while_loop(
        lambda t, *_: t < n, body, (0, h0, tf.TensorArray(x.dtype, size=n)), maximum_iterations=n
    )
    return out.stack()


def time_variant(variant: str) -> dict:
    """Per-time-step cost of one variant, in this process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf
    from suite.harness import matmul_peak_flops

    from imdb_sentiment.modeling.layers import HoistedGRU

    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    if "bigru" in variant:
        units = 32
        gru = HoistedGRU if variant == "bigru_hoisted" else keras.layers.GRU
        forward = gru(units, return_sequences=True)
        backward = gru(units, return_sequences=True)
        forward(tf.zeros((BATCH, 1, FEATURES)))
        backward(tf.zeros((BATCH, 1, FEATURES)))
        if variant == "bigru_products_only":
            variables = [
                tf.Variable(tf.concat([cell.kernel, cell.recurrent_kernel], 0))
                for cell in (forward.cell, backward.cell)
            ]

            def layer(x):
                ways = [products_only(xs, w) for xs, w in zip((x, tf.reverse(x, [1])), variables)]
                return tf.concat([ways[0], tf.reverse(ways[1], [1])], -1)
        elif variant in ("keras_bigru", "bigru_hoisted", "bigru_pieces"):
            variables = forward.trainable_variables + backward.trainable_variables

            def both_ways(x):
                return tf.concat([forward(x), tf.reverse(backward(tf.reverse(x, [1])), [1])], -1)

            def layer(x):
                if variant != "bigru_pieces" or x.shape[1] <= PIECE:
                    return both_ways(x)
                pieces = tf.reshape(x, (-1, PIECE, FEATURES))  # LONG is a whole number of pieces
                return tf.reshape(both_ways(pieces), (BATCH, x.shape[1], -1))
        else:  # the same weights, stacked on a first axis of 2
            weights = [
                tf.Variable(
                    np.stack(
                        [getattr(cell, name).numpy() for cell in (forward.cell, backward.cell)]
                    )
                )
                for name in ("kernel", "recurrent_kernel", "bias")
            ]
            variables = weights

            def layer(x):
                return bigru_one_loop(x, *weights)
    else:
        units = 64
        lstm = keras.layers.LSTM(units, return_sequences=True)
        lstm(tf.zeros((BATCH, 1, FEATURES)))
        variables = lstm.trainable_variables
        scale = tf.concat([tf.ones(2 * units), 2 * tf.ones(units), tf.ones(units)], 0)

        if variant == "lstm_products_only":
            stacked = tf.Variable(tf.concat([lstm.cell.kernel, lstm.cell.recurrent_kernel], 0))
            variables = [stacked]

        def layer(x):
            if variant == "lstm_products_only":
                return products_only(x, stacked)
            if variant == "lstm_halves":
                return tf.concat([lstm(half) for half in tf.split(x, 2, axis=0)], 0)
            if variant == "lstm_fused":
                cell = lstm.cell
                proj = tf.einsum("bte,eg->tbg", x, cell.kernel * scale) + cell.bias * scale
                return fused_lstm(proj, cell.recurrent_kernel * scale)
            return lstm(x)

    input_scale = tf.Variable(
        tf.ones((FEATURES,))
    )  # so the input gradient is needed, as in training

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x * input_scale)))
        return tape.gradient(loss, variables + [input_scale])

    ms = {}
    for length in (1, LONG):
        x = tf.random.normal((BATCH, length, FEATURES), seed=length)
        step(x)
        step(x)
        started = time.perf_counter()
        for _ in range(8):
            step(x)
        ms[length] = (time.perf_counter() - started) / 8 * 1000
    per_step_ms = (ms[LONG] - ms[1]) / (LONG - 1)
    # forward [input, h] @ kernel, backward twice that; both directions for the BiGRU
    gates, directions = (3 * units, 2) if "bigru" in variant else (4 * units, 1)
    flops = directions * 3 * 2 * BATCH * (FEATURES + units) * gates
    return {
        "variant": variant,
        "per_time_step_ms": per_step_ms,
        "gflops": flops / per_step_ms / 1e6,
        "peak_gflops": matmul_peak_flops() / 1e9,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(time_variant(args.child)))
        return
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            done = subprocess.run(
                [sys.executable, __file__, "--child", variant],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[variant].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        f"batch {BATCH}, {FEATURES} input features, forward + backward, "
        f"{args.rounds} rounds in fresh processes, sides alternated\n"
    )
    print(
        "| variant | ms per time step, median (rounds) | against Keras' loop "
        "| products' GFLOP/s, of the matmul peak |"
    )
    print("|---|---|---|---|")
    for variant in VARIANTS:
        base = "keras_bigru" if "bigru" in variant else "keras_lstm"
        ms = [run["per_time_step_ms"] for run in runs[variant]]
        median = statistics.median(ms)
        ratio = statistics.median(run["per_time_step_ms"] for run in runs[base]) / median
        gflops = statistics.median(run["gflops"] for run in runs[variant])
        peak = statistics.median(run["peak_gflops"] for run in runs[variant])
        print(
            f"| {variant} | {median:.3f} ({', '.join(f'{m:.3f}' for m in ms)}) "
            f"| {ratio:.2f}x as fast | {gflops:.1f} of {peak:.1f} ({gflops / peak:.0%}) |"
        )


if __name__ == "__main__":
    main()
