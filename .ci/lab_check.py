"""The notebooks as a researcher meets them: JupyterLab in a real (headless Chromium) browser, Run All.

    make lab-check                                  # == .venv/bin/python .ci/lab_check.py --profile quick
    .venv/bin/python .ci/lab_check.py --profile quick --browser /usr/bin/chromium --timeout 1200

Not part of `make test` or CI (it needs Chromium: `apt-get install chromium`, and minutes of CPU).
It copies the study's notebooks to results/lab-check/notebooks/ with the parameters cell set to the
profile and results_dir=results/lab-check/run, starts JupyterLab on a free local port, opens each
copy in Chromium (driven by Playwright's Python package, pointed at the system browser), runs all
cells, saves the notebook, and writes screenshots to results/lab-check/screenshots/ (git-ignored).
It fails (exit 1) when any cell errors or writes to stderr (warnings included), and says which.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from mmlib.runner.study import NOTEBOOKS  # noqa: E402

OUT = REPO / "results" / "lab-check"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDGET = "application/vnd.jupyter.widget-view+json"

STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const out = {cells: 0, done: 0, running: 0, errors: [], stderr: [], widgets: 0,
               kernel: panel.sessionContext.session?.kernel?.status ?? 'none'};
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    out.cells += 1;
    const prompt = cell.node.querySelector('.jp-InputPrompt')?.textContent ?? '';
    if (prompt.includes('*')) out.running += 1;
    else if (cell.model.executionCount !== null) out.done += 1;
    for (const o of cell.model.outputs.toJSON()) {
      if (o.output_type === 'error') out.errors.push(`cell ${out.cells}: ${o.ename}: ${o.evalue}`);
      if (o.output_type === 'stream' && o.name === 'stderr') out.stderr.push(`cell ${out.cells}: ${[].concat(o.text).join('')}`);
      if (o.data && o.data['%s']) out.widgets += 1;
    }
  }
  return out;
}""" % WIDGET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(profile: str) -> list[Path]:
    """Copies of the notebooks whose parameters cell runs the given profile into results/lab-check/run."""
    folder = OUT / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        params.source += f'\nprofile = "{profile}"  # lab-check\nresults_dir = "results/lab-check/run"  # lab-check'
        nbformat.write(nb, folder / f"{name}.ipynb")
        copies.append(folder / f"{name}.ipynb")
    return copies


def start_lab(port: int, token: str, home: Path) -> subprocess.Popen:
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                           "checkForUpdates": False}))
    env = {**os.environ, "PYTHONPATH": str(REPO), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    env.pop("MPLBACKEND", None)  # the kernel's own inline backend, as for a user
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--ServerApp.token={token}", f"--ServerApp.root_dir={REPO}", "--LabApp.expose_app_in_browser=True",
           "--ServerApp.open_browser=False", *(["--allow-root"] if os.geteuid() == 0 else [])]
    log = open(OUT / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"JupyterLab exited ({proc.returncode}); see {OUT / 'jupyterlab.log'}")
            time.sleep(1)
    proc.terminate()
    raise SystemExit(f"JupyterLab did not answer on port {port} in 120 s; see {OUT / 'jupyterlab.log'}")


def run_notebook(page, url: str, name: str, timeout: float) -> dict:
    page.goto(url)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                           "window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel?.status === 'idle'",
                           timeout=180_000)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    t0, state = time.time(), {}
    while time.time() - t0 < timeout:
        time.sleep(2)
        state = page.evaluate(STATE_JS)
        if state["errors"] or (state["done"] == state["cells"] and not state["running"] and state["kernel"] == "idle"):
            break
    else:
        state["errors"].append(f"not finished after {timeout:.0f} s ({state.get('done')}/{state.get('cells')} cells)")
    state["seconds"] = round(time.time() - t0, 1)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    shots = OUT / "screenshots"
    state["widget_bars_in_page"] = page.locator(".widget-progress").count()  # cells near the top are rendered
    page.evaluate("async () => { const nb = window.jupyterapp.shell.currentWidget.content;"
                  " await nb.scrollToCell(nb.widgets[0]); }")
    time.sleep(1)
    page.screenshot(path=str(shots / f"{name}-top.png"))
    page.evaluate("async () => { const nb = window.jupyterapp.shell.currentWidget.content;"
                  " await nb.scrollToCell(nb.widgets[nb.widgets.length - 1]); }")
    time.sleep(2)
    page.screenshot(path=str(shots / f"{name}-end.png"))
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    page.evaluate("() => window.jupyterapp.shell.currentWidget.dispose()")  # saved above: nothing to ask
    return state


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick")
    p.add_argument("--browser", default="/usr/bin/chromium")
    p.add_argument("--timeout", type=float, default=1200, help="seconds per notebook")
    p.add_argument("--notebooks", nargs="*", default=list(NOTEBOOKS), help="a prefix of the study's order")
    args = p.parse_args()
    if not Path(args.browser).exists():
        raise SystemExit(f"{args.browser} not found: apt-get install chromium (or pass --browser)")
    from playwright.sync_api import sync_playwright

    (OUT / "screenshots").mkdir(parents=True, exist_ok=True)
    copies = [c for c in prepare(args.profile) if c.stem in args.notebooks]
    port, token = free_port(), secrets.token_hex(16)
    failures, report = [], {}
    with tempfile.TemporaryDirectory(prefix="lab-check-") as home:
        lab = start_lab(port, token, Path(home))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.browser, args=FLAGS, headless=True)
                page = browser.new_page(viewport={"width": 1400, "height": 1800})
                for nb in copies:
                    rel = nb.relative_to(REPO).as_posix()
                    print(f"[lab-check] {nb.stem}: Run All in JupyterLab", flush=True)
                    state = run_notebook(page, f"http://127.0.0.1:{port}/lab/tree/{rel}?token={token}", nb.stem,
                                         args.timeout)
                    report[nb.stem] = state
                    print(f"[lab-check] {nb.stem}: {state['done']}/{state['cells']} cells in {state['seconds']} s, "
                          f"{len(state['errors'])} error(s), {len(state['stderr'])} stderr output(s), "
                          f"{state['widgets']} widget output(s)", flush=True)
                    failures += [f"{nb.stem} {e}" for e in state["errors"] + state["stderr"]]
                    if state["errors"]:
                        break  # later notebooks read what this one should have written
                browser.close()
        finally:
            lab.terminate()
            lab.wait(timeout=30)
    (OUT / "report.json").write_text(json.dumps(report, indent=2))
    print("[lab-check] screenshots in results/lab-check/screenshots/, report in results/lab-check/report.json")
    if failures:
        print("[lab-check] FAILED:\n  " + "\n  ".join(f[:500] for f in failures), file=sys.stderr)
        return 1
    print("[lab-check] passed: no errors, no stderr output")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
