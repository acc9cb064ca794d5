"""The runner: the notebooks' session, the study (papermill), the report, the recipe, the CLI."""
