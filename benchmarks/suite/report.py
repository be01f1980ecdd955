"""The tables bench.py prints: every section of a full run, or the quick run's headline
numbers."""

from __future__ import annotations

from .training import SIDES


def print_tables(results: dict) -> None:
    """The machine, when each section was measured, and a table per section run."""
    print(f"\nmachine: {results['cpus']} CPUs, {results['gpus']} GPUs")
    for section, when in results.get("measured", {}).items():
        print(
            f"{section}: {when['date']} at {when['commit'] or 'an unrecorded commit'}, matmul peak "
            f"{when['matmul_peak_gflops']} GFLOP/s"
        )
    if results.get("training"):
        print(
            "\n| max_len | side | reviews/s (median; each round) | epochs run (best) "
            "| validation accuracy per epoch | test accuracy | padding | useful FLOP/s % of peak |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for r in results["training"]:
            for side in SIDES:
                x = r[side]
                print(
                    f"| {r['max_len']} | {side} | {x['reviews_per_s']} ({', '.join(map(str, x['reviews_per_s_runs']))}) "
                    f"| {x['epochs_run']} ({x['best_epoch']}) | {', '.join(map(str, x['val_accuracy']))} "
                    f"| {x['test_accuracy']} | {x['padding_share']:.1%} | {x['useful_flops_pct_of_peak']} |"
                )
        print(
            "\n| max_len | speedup over the tutorial (median; each round) | over the tutorial at our batch size |"
        )
        print("|---|---|---|")
        for r in results["training"]:
            print(
                f"| {r['max_len']} | {r['speedup']}x ({', '.join(f'{x}x' for x in r['speedup_runs'])}) "
                f"| {r['speedup_over_tutorial_our_batch']}x |"
            )
        for r in results["training"]:
            if "stalled_sides" in r:
                print(f"max_len {r['max_len']}:" + training_spread_line(r))
    if results.get("settings"):
        print(
            "\n| batch_size | jit_compile | thread pools (inter, intra) | reviews/s (default model; each round) |"
        )
        print("|---|---|---|---|")
        for r in results["settings"]:
            print(
                f"| {r['batch_size']} | {r['jit_compile']} | {r['threads']} "
                f"| {r['reviews_per_s']} ({', '.join(map(str, r['reviews_per_s_runs']))}) |"
            )
    if results.get("stages"):
        print("\n| stage | wall s | peak MiB |")
        print("|---|---|---|")
        for r in results["stages"]:
            label = f"{r['stage']} ({r['epochs']} epoch)" if "epochs" in r else r["stage"]
            print(f"| {label} | {r['seconds']} | {r['peak_mib']} |")
    if results.get("pinning"):
        k = results["pinning"]
        print(
            f"\npinning ({k['reviews']} reviews, {k['epochs']} epochs, {k['rounds']} rounds): "
            f"training {k['pinned']['train_reviews_per_s']} reviews/s pinned vs "
            f"{k['native']['train_reviews_per_s']} native ({k['train_speed_ratio']}x); SVD "
            f"{k['pinned']['svd_seconds']} s on one BLAS thread vs {k['native']['svd_seconds']} s "
            f"({k['svd_time_ratio']}x)"
        )
    if results.get("ingest"):
        g = results["ingest"]
        print(
            f"\ningest (full archive, {g['rounds']} fresh processes): {g['seconds']} s, "
            f"{g['peak_mib']} MiB peak (rounds: {g['seconds_runs']} s; {g['peak_mib_runs']} MiB)"
        )
    if results.get("cold_start"):
        c = results["cold_start"]
        print(
            f"\none review from a cold CLI ({c['rounds']} rounds): {c['seconds']} s, "
            f"{c['peak_mib']} MiB peak (rounds: {c['seconds_runs']} s); max |CLI - evaluate| "
            f"over {c['identity_reviews']} test reviews {c['max_abs_diff_vs_evaluate']:.1e}"
        )
    if results.get("inference"):
        i = results["inference"]
        print(
            f"\ninference (default model, {i['reviews']} test reviews): {i['batch_reviews_per_s']} "
            f"reviews/s batched (best of {i['rounds']} processes scoring the CLI's way: "
            f"{i['batch_reviews_per_s_runs']}; one batch at a time on default thread pools: "
            f"{i['default_threads_1_worker_reviews_per_s_runs']}); "
            f"single review p50 {i['single_p50_ms']} ms, "
            f"p99 {i['single_p99_ms']} ms ({i['single_reviews']} calls)"
        )


def print_quick(q: dict) -> None:
    """The quick run's headline numbers, a line each."""
    t, c, g, i = q["training"], q["cold_start"], q["ingest"], q["inference"]
    print(f"\nquick bench, {q['date']}, {q['cpus']} CPUs, {q['gpus']} GPUs, {q['minutes']} min")
    print(
        f"ingest (full archive): {g['seconds']} s, {g['peak_mib']} MiB peak "
        f"(rounds: {g['seconds_runs']} s; {g['peak_mib_runs']} MiB)"
    )
    print(
        f"one review, cold CLI: {c['seconds']} s, {c['peak_mib']} MiB peak (rounds: "
        f"{c['seconds_runs']} s); {c['identity_reviews']} test reviews: max |CLI - evaluate| "
        f"{c['max_abs_diff_vs_evaluate']:.1e}"
    )
    print(
        f"batch scoring: {i['batch_reviews_per_s']} reviews/s (best of {i['batch_reviews_per_s_runs']})"
    )
    print(
        f"training at max_len {t['max_len']} ({t['reviews']} reviews, {t['max_epochs']} epochs): "
        f"{t['speedup']}x the tutorial (rounds {t['speedup_runs']}), "
        f"{t['speedup_over_tutorial_our_batch']}x at the same batch size"
        + (f" (rounds {t['speedup_our_batch_runs']})" if "speedup_our_batch_runs" in t else "")
        + f"; test accuracy {t['pipeline']['test_accuracy']} vs {t['tutorial']['test_accuracy']}"
    )
    if "stalled_sides" in t:
        print(training_spread_line(t))
    f = q["profile"]
    print(
        f"where a training epoch goes ({f['reviews']} reviews, max_len {f['max_len']}, "
        f"{f['batches']} batches of {f['batch_size']}): {f['epoch_seconds']} s = sequence layers "
        f"{f['sequence_seconds']} s + per-step {f['per_step_seconds']} s + rest "
        f"{f['rest_seconds']} s; input pipeline alone {f['input_pipeline_seconds']} s; one token "
        f"{f['per_token_ms']} ms = {f['token_gflops']} GFLOP/s of "
        f"{f['matmul_peak_gflops']} peak; a step of one token {f['per_step_ms']} ms"
    )


def training_spread_line(t: dict) -> str:
    """Each side's reviews/s over the rounds, and which sides stalled (an epoch over 1.5x its
    run's median), which makes that round's ratio a measure of the machine."""
    spreads = ", ".join(
        f"{side} {t[side]['spread'][0]}-{t[side]['spread'][1]}"
        for side in ("pipeline", "tutorial", "tutorial_our_batch")
    )
    stalls = ", ".join(t["stalled_sides"]) or "none"
    return f"  reviews/s over the rounds: {spreads}; sides that stalled: {stalls}"
