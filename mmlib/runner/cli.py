"""Command line: thin wrappers over the library.

    mmlib synth --profile quick --out data/synth-quick          # write the synthetic IEMOCAP tree
    mmlib features --profile quick                              # extract (or reuse) cached features
    mmlib features --profile paper --data-root /data/IEMOCAP_full_release --on-error skip
    mmlib study --profile default                               # the notebooks -> results/default/
    mmlib study -p secondary_seeds "[42, 43, 44]" -p sweep_levels "[0.0, 0.25, 0.5, 0.75]"   # notebook parameters (README)
    mmlib study --profile paper --data-root /data/IEMOCAP_full_release
    mmlib study --profile paper --data-root /shared/IEMOCAP --data-dir /shared/mmlib-data --ray-address auto
    mmlib recipe --profile default                              # the training recipe, chosen on validation data
    mmlib report                                                # README's results block from results/default/

`-o key=value` overrides any config field (`-o train.max_epochs=5 -o video.crop=haar`); `-p name value`
sets a notebook parameter (a YAML value) in every notebook that declares it (`mmlib study --list-parameters`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

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
    from mmlib.runner.study import notebook_parameters, run_study

    if args.list_parameters:
        for nb, params in notebook_parameters().items():
            print(f"{nb}: " + (", ".join(f"{k} = {v}" for k, v in params.items()) or "(none)"))
        return
    cfg = _config(args)
    run_study(cfg, run_name=args.run or args.profile, results_dir=args.results_dir,
              overrides=_overrides(args.override), data_root=args.data_root,
              retrain=args.retrain, progress=not args.quiet, parameters=_parameters(args.parameter))


def cmd_recipe(args) -> None:
    from mmlib.config import paths
    from mmlib.runner import recipe
    from mmlib.runner.session import open_session

    out = paths.resolve(args.out or f"results/recipe-{args.profile}", "--out")
    session = open_session(args.profile, data_dir=args.data_dir or "data", results_dir=str(out),
                           overrides=_overrides(args.override), progress=not args.quiet)
    record = recipe.select(session)
    recipe.write(record, out, args.profile)
    print(record["summary"].to_string(index=False))
    print(f"chosen: {record['choice']} -> {paths.shown(out)}")


def cmd_report(args) -> None:
    from mmlib.runner.report import update_readme

    fresh = update_readme(args.run, args.readme, check=args.check)
    if args.check and not fresh:
        print(f"mmlib report: {args.readme} does not match {args.run}: run `mmlib report`", file=sys.stderr)
        raise SystemExit(1)
    print(f"{args.readme} {'is up to date with' if fresh else 'rewritten from'} {args.run}")


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
            c.add_argument("--ray-address", default=None,
                           help="run the trainings on an existing Ray cluster ('auto' or host:port); default: a local Ray")

    c = sub.add_parser("recipe", help="choose the training recipe on validation speakers (record in results/)")
    c.add_argument("--profile", default="default")
    c.add_argument("--data-dir", default=None)
    c.add_argument("--out", default=None, help="record folder (default results/recipe-<profile>)")
    c.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(fn=cmd_recipe)

    r = sub.add_parser("report", help="rewrite README.md's results block from a run's tables")
    r.add_argument("--run", default="results/default")
    r.add_argument("--readme", default="README.md")
    r.add_argument("--check", action="store_true", help="only compare; exit 1 on a mismatch")
    r.set_defaults(fn=cmd_report)

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
