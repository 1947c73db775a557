#!/usr/bin/env bash
# Checks deploy/prometheus/ and deploy/grafana/: the rules and the config parse (promtool check),
# every alert and recording rule passes its unit tests (promtool test rules), and every PromQL of
# the dashboard parses and names only metrics the code exports (or the rules record).
# Installs promtool when it is missing (scripts/install-promtool.sh). Run from anywhere; needs node.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v promtool >/dev/null || bash scripts/install-promtool.sh
promtool check rules deploy/prometheus/ctp-etl.rules.yml
promtool check config deploy/prometheus/prometheus.yml
promtool test rules deploy/prometheus/*.test.yml

# The dashboard's queries as recording rules, for promtool to parse; then every ctp_etl_ name they
# and the rules use must be a name src/ spells out (a histogram's _bucket/_count/_sum are its own).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node - "$work/dashboard.rules.yml" <<'JS'
const fs = require('node:fs');
const dashboard = JSON.parse(fs.readFileSync('deploy/grafana/ctp-etl-dashboard.json', 'utf8'));
const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
const rules = exprs.map((expr, i) => `      - record: dashboard_query_${i}\n        expr: ${JSON.stringify(expr)}`);
fs.writeFileSync(process.argv[2], `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
const used = new Set(
  [fs.readFileSync('deploy/prometheus/ctp-etl.rules.yml', 'utf8'), ...exprs]
    .join('\n')
    .match(/\bctp_etl_[a-z_]+/g)
    .map((name) => name.replace(/_(bucket|count|sum)$/, '')),
);
const source = require('node:child_process').execFileSync('grep', ['-rhoE', "'ctp_etl_[a-z_]+'", 'src'], { encoding: 'utf8' });
const exported = new Set([...source.matchAll(/'(ctp_etl_[a-z_]+)'/g)].map((match) => match[1]));
const unknown = [...used].filter((name) => !exported.has(name));
if (unknown.length > 0) {
  console.error(`deploy/: metrics no code in src/ exports: ${unknown.join(', ')}`);
  process.exit(1);
}
console.log(`dashboard: ${exprs.length} queries; ${used.size} metric names, each exported by src/`);
JS
promtool check rules "$work/dashboard.rules.yml" >/dev/null
echo "dashboard queries parse"
