"""The terminal dashboard (`rollout dashboard`): a Textual app over `rollout.api.RolloutsAPI`,
the facade the CLI uses, live from list-then-watch streams.

Layout: `app.py` (the app: watches, flush, actions), `screens/` (list, detail, confirmation,
help; each with its `.tcss`), `widgets/` (one widget per file, by screen region), and the
facts they show, without Textual: `rows.py` (list rows), `detail.py`, `analysis.py`,
`actions.py`, `store.py`, `watch.py`. `grafana/` holds Grafana dashboards (JSON).
"""
