// Reads the conformance suite's results (one server-<scenario>-<timestamp>/checks.json per
// scenario) and compares two runs check for check.
//
//   node checks.mjs triples <results-dir>             (scenario, check id, status), one a line, sorted
//   node checks.mjs explain <direct-dir> <gateway-dir> the (scenario, check id) pairs whose statuses
//                                                      differ, with what each side reported
//   node checks.mjs audit <caddy-log>                 mcp_auth's refusals in Caddy's JSON log, counted
//
// The triples are a multiset: a scenario may report one check id several times (for example one
// per header it tries), so duplicates are kept and counted.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const DIR_RE = /^server-(.+)-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/;

function load(dir) {
  const checks = [];
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  if (entries.length === 0) throw new Error(`${dir}: no scenario results`);
  for (const e of entries) {
    const m = DIR_RE.exec(e.name);
    if (!m) throw new Error(`${dir}/${e.name}: not a server scenario result directory`);
    const file = join(dir, e.name, 'checks.json');
    if (!existsSync(file)) throw new Error(`${file}: missing`);
    const list = JSON.parse(readFileSync(file, 'utf8'));
    if (!Array.isArray(list)) throw new Error(`${file}: not an array`);
    for (const c of list) {
      if (typeof c.id !== 'string' || typeof c.status !== 'string') {
        throw new Error(`${file}: a check without id or status`);
      }
      checks.push({ scenario: m[1], ...c });
    }
  }
  return checks;
}

const line = (c) => `${c.scenario}\t${c.id}\t${c.status}`;

function groupByKey(checks) {
  const by = new Map();
  for (const c of checks) {
    const k = `${c.scenario}\t${c.id}`;
    if (!by.has(k)) by.set(k, []);
    by.get(k).push(c);
  }
  return by;
}

function summary(c) {
  const parts = [c.status];
  if (c.errorMessage) parts.push(`error: ${c.errorMessage}`);
  if (c.details !== undefined) {
    let d = JSON.stringify(c.details);
    if (d.length > 600) d = `${d.slice(0, 600)}…`;
    parts.push(`details: ${d}`);
  }
  return parts.join(' | ');
}

const [cmd, a, b] = process.argv.slice(2);
if (cmd === 'triples' && a) {
  const out = load(a).map(line).sort();
  process.stdout.write(out.length ? `${out.join('\n')}\n` : '');
} else if (cmd === 'explain' && a && b) {
  const direct = groupByKey(load(a));
  const gateway = groupByKey(load(b));
  const keys = [...new Set([...direct.keys(), ...gateway.keys()])].sort();
  let n = 0;
  for (const k of keys) {
    const d = direct.get(k) ?? [];
    const g = gateway.get(k) ?? [];
    const ds = d.map((c) => c.status).sort().join(',');
    const gs = g.map((c) => c.status).sort().join(',');
    if (ds === gs) continue;
    n++;
    const [scenario, id] = k.split('\t');
    console.log(`* ${scenario} / ${id}: direct ${ds || '(absent)'}, gateway ${gs || '(absent)'}`);
    for (const c of d) console.log(`    direct:  ${summary(c)}`);
    for (const c of g) console.log(`    gateway: ${summary(c)}`);
  }
  console.log(`${n} (scenario, check) pair(s) differ`);
} else if (cmd === 'audit' && a) {
  const counts = new Map();
  for (const l of readFileSync(a, 'utf8').split('\n')) {
    if (!l.startsWith('{')) continue;
    let e;
    try {
      e = JSON.parse(l);
    } catch {
      continue;
    }
    if (e.logger !== 'http.handlers.mcp_auth.audit' || e.decision === 'allow') continue;
    const k = `${e.decision}, ${e.rule}, ${e.method ?? e.http_method}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  for (const [k, n] of [...counts].sort()) console.log(`  ${k}: ${n}`);
  if (counts.size === 0) console.log('  none');
} else {
  console.error('usage: node checks.mjs triples <dir> | explain <direct-dir> <gateway-dir> | audit <caddy-log>');
  process.exit(2);
}
