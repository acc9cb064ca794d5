"""Command line: thin wrappers over the library.

    mmlib synth --profile quick --out data/synth-quick          # write the synthetic IEMOCAP tree
    mmlib features --profile quick                              # extract (or reuse) cached features
    mmlib features --profile paper --data-root /data/IEMOCAP_full_release --on-error skip
    mmlib study --profile default                               # the notebooks -> results/default/
    mmlib study -p secondary_seeds "[42, 43, 44]" -p sweep_levels "[0.0, 0.25, 0.5, 0.75]"   # notebook parameters (README)
    mmlib study --profile paper --data-root /data/IEMOCAP_full_release
    mmlib study --profile paper --data-root /shared/IEMOCAP --data-dir /shared/mmlib-data --ray-address auto
    mmlib recipe --profile default                              # the training recipe, chosen on validation data
    mmlib curve --profile default                               # learning curve over corpus size (validation)
    mmlib report                                                # REPORT.md + README's bottom line from results/default/
                                                                # (and results/claim1/, claim2/ when present)
    mmlib compare results/default results/rerun                 # same verdicts, estimates? exit 0 / 1
    mmlib ceilings --profile cremad --data-root /data/CREMA-D --out ceilings.csv   # human raters' WA / UA
    mmlib ceilings --profile iemocap --data-root /data/IEMOCAP_full_release        # evaluator agreement (4-class)
    mmlib transfer --source cremad --source-root /data/CREMA-D --target ravdess --target-root /data/RAVDESS

`-o key=value` overrides any config field (`-o train.max_epochs=5 -o video.crop=haar`); `-p name value`
sets a notebook parameter (a YAML value) in every notebook that declares it (`mmlib study --list-parameters`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import yaml


def _overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"override {pair!r} must look like section.key=value")
        out[key] = yaml.safe_load(value)
    return out


def _config(args):
    from mmlib.config import load_config, paths

    overrides = _overrides(args.override)
    if getattr(args, "data_root", None):
        overrides["data.root"] = args.data_root
    if getattr(args, "data_dir", None):
        overrides["data.data_dir"] = args.data_dir
    if getattr(args, "ray_address", None):
        overrides["run.ray_address"] = args.ray_address
    cfg = load_config(args.profile, overrides)
    # relative folders are taken from the repository root, whichever directory the command runs in
    root = None if cfg.data.root is None else str(paths.resolve(cfg.data.root, "--data-root", may_leave=True))
    return cfg.with_overrides({"data.data_dir": str(paths.resolve(cfg.data.data_dir, "--data-dir")), "data.root": root})


def cmd_synth(args) -> None:
    from mmlib.data.synthetic import SYNTH_PROFILES, generate_corpus

    cfg = SYNTH_PROFILES[args.profile]
    if args.seed is not None:
        cfg = replace(cfg, seed=args.seed)
    root = generate_corpus(args.out, cfg, progress=not args.quiet)
    print(root)


def cmd_features(args) -> None:
    from mmlib.config import paths
    from mmlib.data.corpus import require_labelled
    from mmlib.data.features import extract_features
    from mmlib.data.loaders import prepare_corpus

    cfg = _config(args)
    table = prepare_corpus(cfg, progress=not args.quiet)
    rows = table if args.all_rows and len(table) else require_labelled(table, cfg.data)
    cache_dir = paths.resolve(args.cache_dir or f"{cfg.data.data_dir}/cache", "--cache-dir")
    feats = extract_features(rows, cfg, cache_dir=cache_dir,
                             on_error=args.on_error, progress=not args.quiet, workers=args.workers)
    print(json.dumps({"utterances": len(rows), "stats": feats.stats, "skipped": feats.skipped,
                      "face_fallbacks": feats.fallbacks}, indent=2))


def _parameters(pairs: list[list[str]]) -> dict:
    return {name: yaml.safe_load(value) for name, value in pairs or []}


def cmd_study(args) -> None:
    from mmlib.runner.study import notebook_parameters, run_study, select_notebooks

    notebooks = select_notebooks(args.notebooks)
    if args.list_parameters:
        for nb, params in notebook_parameters(notebooks).items():
            print(f"{nb}: " + (", ".join(f"{k} = {v}" for k, v in params.items()) or "(none)"))
        return
    cfg = _config(args)
    run_study(cfg, run_name=args.run or args.profile, results_dir=args.results_dir,
              overrides=_overrides(args.override), data_root=args.data_root,
              retrain=args.retrain, progress=not args.quiet, parameters=_parameters(args.parameter),
              notebooks=notebooks)


def cmd_recipe(args) -> None:
    from mmlib.config import paths
    from mmlib.runner import recipe
    from mmlib.runner.session import open_session

    out = paths.resolve(args.out or f"results/recipe-{args.profile}{'' if args.grid == 'first' else '-' + args.grid}",
                        "--out")
    session = open_session(args.profile, data_dir=args.data_dir or "data", results_dir=str(out),
                           overrides=_overrides(args.override), progress=not args.quiet)
    record = recipe.select(session, recipe.GRIDS[args.grid], recipe.TOLERANCE.get(args.grid, 0.0))
    recipe.write(record, out, args.profile, args.grid)
    print(record["summary"].to_string(index=False))
    print(f"chosen: {record['choice']} -> {paths.shown(out)}")


def cmd_curve(args) -> None:
    from mmlib.config import paths
    from mmlib.runner import curve

    out = paths.resolve(args.out or f"results/curve-{args.profile}", "--out")
    record = curve.measure(args.profile, dialogs=args.dialogs or curve.DIALOGS, data_dir=args.data_dir or "data",
                           results_dir=out, overrides=_overrides(args.override), progress=not args.quiet,
                           on_size=lambda r: curve.write(r, out, args.profile))
    print(curve.table(curve.summarize(record["scores"])).to_string())
    print(f"-> {paths.shown(out)}")


def cmd_report(args) -> None:
    from mmlib.runner.report import quoted_runs, update_readme, update_report

    runs = [Path(args.run), *dict.fromkeys(other for other, _ in quoted_runs(Path(args.run)).values())]
    done = [(run / "REPORT.md", update_report(run, check=args.check)) for run in runs]
    done.append((Path(args.readme), update_readme(args.run, args.readme, check=args.check)))
    stale = [str(f) for f, ok in done if not ok]
    if args.check and stale:
        print(f"mmlib report: {' and '.join(stale)} do(es) not match {', '.join(map(str, runs))}: run `mmlib report`",
              file=sys.stderr)
        raise SystemExit(1)
    for f, ok in done:
        print(f"{f} {'is up to date with' if ok else 'written from'} its run")


def cmd_compare(args) -> None:
    from mmlib.runner.compare import main as compare

    code = compare(args.run_a, args.run_b)
    if code:
        raise SystemExit(code)


def cmd_ceilings(args) -> None:
    from mmlib.analysis.ceilings import ceilings
    from mmlib.config import PROFILES, paths

    if args.profile not in PROFILES and args.profile == "iemocap":  # a corpus without a profile of its own:
        # the default profile's protocol and folds on it
        args = argparse.Namespace(**{**vars(args), "profile": "default",
                                      "override": [f"data.dataset={args.profile}", *args.override]})
    cfg = _config(args)
    table = ceilings(cfg, csv=args.csv, progress=not args.quiet)
    what = ("raters' recognition of the intended emotion (processedResults/summaryTable.csv)"
            if cfg.data.dataset == "cremad" else "evaluator agreement, 4 classes (EmoEvaluation C-E lines)")
    overall = table[table["fold"] == "all"].drop(columns="fold")
    print(f"{cfg.data.dataset}: human {what}, every scored clip")
    print(overall.to_string(index=False, float_format="%.4f"))
    print(f"per fold ({cfg.data.protocol}, test speakers)")
    print(table[table["fold"] != "all"].to_string(index=False, float_format="%.4f"))
    if args.out:
        out = paths.resolve(args.out, "--out")
        out.parent.mkdir(parents=True, exist_ok=True)
        overall.to_csv(out, index=False)
        folds = out.with_name(f"{out.stem}_folds{out.suffix}")
        table.to_csv(folds, index=False)
        print(f"-> {paths.shown(out)} (per fold: {paths.shown(folds)})")


def cmd_transfer(args) -> None:
    from mmlib.config import paths
    from mmlib.runner.transfer import transfer

    out = args.out or f"results/transfer-{args.source}-{args.target}"
    result = transfer(args.source, args.target, args.source_root, args.target_root, heads=args.heads,
                      overrides=_overrides(args.override), data_dir=args.data_dir or "data", results_dir=out,
                      progress=not args.quiet)
    print(result.summary.to_string(index=False, float_format="%.4f"))
    left_out = ", ".join(f"{r.corpus} {r.label} ({r.clips} clips)" for r in result.excluded.itertuples()) or "none"
    print(f"left out (outside the shared emotions): {left_out}")
    print(f"-> {paths.shown(result.results_dir)}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="mmlib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("synth", help="write the synthetic IEMOCAP-layout corpus")
    s.add_argument("--profile", default="default", choices=["quick", "default"])
    s.add_argument("--out", required=True, help="output folder (IEMOCAP_full_release/ is created inside)")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_synth)

    for name, fn, hlp in (("features", cmd_features, "extract features into the cache"),
                          ("study", cmd_study, "run the study's notebooks with papermill")):
        c = sub.add_parser(name, help=hlp)
        c.add_argument("--profile", default="default")
        c.add_argument("--data-root", default=None, help="corpus root (e.g. .../IEMOCAP_full_release); default: synthetic")
        c.add_argument("--data-dir", default=None, help="where corpora, caches and checkpoints go (default data/)")
        c.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
        c.add_argument("--quiet", action="store_true")
        c.set_defaults(fn=fn)
        if name == "features":
            c.add_argument("--cache-dir", default=None)
            c.add_argument("--on-error", choices=["raise", "skip"], default=None)
            c.add_argument("--workers", type=int, default=None)
            c.add_argument("--all-rows", action="store_true", help="also rows outside the label set")
        else:
            c.add_argument("--run", default=None, help="results/<run>/ (default: the profile name)")
            c.add_argument("--results-dir", default="results")
            c.add_argument("--retrain", action="store_true",
                           help="retrain every model this run uses (each once), even if checkpoints exist")
            c.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                           help="a notebook parameter (YAML value), e.g. -p secondary_seeds '[42, 43, 44]'")
            c.add_argument("--list-parameters", action="store_true", help="list the notebooks' parameters and exit")
            c.add_argument("--notebooks", nargs="+", default=None, metavar="NAME",
                           help="run only these notebooks, in the study's order (prefixes: 01 02 03 04)")
            c.add_argument("--ray-address", default=None,
                           help="run the trainings on an existing Ray cluster ('auto' or host:port); default: a local Ray")

    c = sub.add_parser("recipe", help="choose the training recipe on validation speakers (record in results/)")
    c.add_argument("--profile", default="default")
    c.add_argument("--data-dir", default=None)
    c.add_argument("--out", default=None, help="record folder (default results/recipe-<profile>[-<grid>])")
    c.add_argument("--grid", default="first", choices=["first", "wide", "precision"],
                   help="the candidates: the first grid, the wide one (a value beyond every edge winner), or "
                        "bf16 autocast against fp32 (bf16 kept unless fp32 is better by more than 1 point)")
    c.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(fn=cmd_recipe)

    c = sub.add_parser("curve", help="learning curve: validation UA of models and references against corpus size")
    c.add_argument("--profile", default="default")
    c.add_argument("--dialogs", type=int, nargs="+", default=None,
                   help="dialogs per session at each size (default 6 12 24 48: ~52 to ~416 labelled per speaker)")
    c.add_argument("--data-dir", default=None)
    c.add_argument("--out", default=None, help="record folder (default results/curve-<profile>)")
    c.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(fn=cmd_curve)

    r = sub.add_parser("report", help="write <run>/REPORT.md and README.md's bottom line from a run's tables")
    r.add_argument("--run", default="results/default")
    r.add_argument("--readme", default="README.md")
    r.add_argument("--check", action="store_true", help="only compare; exit 1 on a mismatch")
    r.set_defaults(fn=cmd_report)

    c = sub.add_parser("compare", help="does a rerun reproduce a run's verdicts and estimates? (exit 0 / 1)")
    c.add_argument("run_a", metavar="RUN_DIR_A", help="the reference run folder, e.g. results/default")
    c.add_argument("run_b", metavar="RUN_DIR_B", help="the rerun's folder")
    c.set_defaults(fn=cmd_compare)

    c = sub.add_parser("ceilings", help="human reference scores: CREMA-D raters, IEMOCAP / synthetic evaluator agreement")
    c.add_argument("--profile", default="default", help="a profile (cremad, default, ...) or iemocap")
    c.add_argument("--data-root", default=None, help="corpus root; default: the synthetic corpus")
    c.add_argument("--data-dir", default=None, help="where the synthetic corpus is (default data/)")
    c.add_argument("--csv", default=None, help="CREMA-D's summaryTable.csv (default: processedResults/ under the root)")
    c.add_argument("--out", default=None, help="write the overall table here (per fold: <name>_folds.csv beside it)")
    c.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(fn=cmd_ceilings)

    c = sub.add_parser("transfer", help="train on one acted corpus, test on the other (shared emotions)")
    c.add_argument("--source", required=True, choices=["cremad", "ravdess"])
    c.add_argument("--source-root", required=True)
    c.add_argument("--target", required=True, choices=["cremad", "ravdess"])
    c.add_argument("--target-root", required=True)
    c.add_argument("--heads", nargs="+", default=["audio", "video", "concat", "matchmap"])
    c.add_argument("--data-dir", default=None, help="feature caches and checkpoints (default data/)")
    c.add_argument("--out", default=None, help="results folder (default results/transfer-<source>-<target>)")
    c.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(fn=cmd_transfer)

    args = p.parse_args(argv)
    from mmlib.data.faces import DetectorUnavailable
    from mmlib.data.features import BadMediaError
    from mmlib.runner.study import StudyError

    try:
        args.fn(args)
    except (StudyError, BadMediaError, DetectorUnavailable) as err:
        print(f"mmlib {args.cmd}: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    except (KeyError, ValueError, FileNotFoundError) as err:
        print(f"mmlib {args.cmd}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
