// A real client of trace_agg, as an ingestion service would be: node-postgres
// sends trace events to traces_null by COPY (pg-copy-streams) and by
// multi-row INSERT with parameters, then reads the finalized traces back.
// Connection from the PG* environment variables.  Exits non-zero on failure.
'use strict';
const { Client } = require('pg');
const { from: copyFrom } = require('pg-copy-streams');
const { pipeline } = require('stream/promises');
const { Readable } = require('stream');
const assert = require('assert');

const COLS = ['project_id', 'id', 'start_time', 'name', 'user_id', 'tags', 'observation_ids',
  'usage_details', 'cost_details', 'input', 'output', 'bookmarked', 'event_ts'];

function event(i, trace, kind) {
  const ts = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  const e = { project_id: 'p1', id: `t${trace}`, start_time: new Date(Date.now() - 86400e3).toISOString(),
    name: null, user_id: null, tags: [], observation_ids: [], usage_details: {}, cost_details: {},
    input: '', output: '', bookmarked: null, event_ts: ts };
  if (kind === 'create') Object.assign(e, { name: `trace ${trace}`, user_id: `u${trace % 3}`, tags: ['node', `t${trace % 2}`],
    input: `{"q": "question ${trace}", "pad": "${'x'.repeat(5000)}"}` });
  if (kind === 'obs') Object.assign(e, { observation_ids: [`o${i}`],
    usage_details: { input: 10, output: 5, total: 15 }, cost_details: { total: 0.000000000001 } });
  if (kind === 'done') Object.assign(e, { output: `answer ${trace} \t with "quotes" and \\ and é` });
  if (kind === 'bookmark') e.bookmarked = true;
  return e;
}

function copyLine(e) {
  const esc = (v) => v === null ? '\\N' : String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n');
  const arr = (a) => '{' + a.map((x) => '"' + x.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"').join(',') + '}';
  return COLS.map((c) => Array.isArray(e[c]) ? esc(arr(e[c]))
    : (e[c] !== null && typeof e[c] === 'object') ? esc(JSON.stringify(e[c])) : esc(e[c])).join('\t') + '\n';
}

async function insertBatch(client, events) {
  const params = [];
  const rows = events.map((e) => '(' + COLS.map((c) => {
    params.push(Array.isArray(e[c]) || e[c] === null || typeof e[c] !== 'object' ? e[c] : JSON.stringify(e[c]));
    return `$${params.length}`;
  }).join(', ') + ')');
  await client.query(`INSERT INTO traces_null (${COLS.join(', ')}) VALUES ${rows.join(', ')}`, params);
}

async function copyBatch(client, events) {
  const stream = client.query(copyFrom(`COPY traces_null (${COLS.join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(events.map(copyLine)), stream);
}

async function main() {
  const client = new Client();
  await client.connect();
  await client.query('CREATE EXTENSION IF NOT EXISTS trace_agg');
  await client.query('SELECT trace_agg.create_traces_tables()');

  // 50 traces; each: create, 4 observations, done; trace 7 is also bookmarked.
  const events = [];
  let i = 0;
  for (let t = 0; t < 50; t++) {
    events.push(event(i++, t, 'create'));
    for (let o = 0; o < 4; o++) events.push(event(i++, t, 'obs'));
    events.push(event(i++, t, 'done'));
    if (t === 7) events.push(event(i++, t, 'bookmark'));
  }
  // Interleave: ingest in batches of 40 alternating COPY and INSERT.
  for (let b = 0; b * 40 < events.length; b++) {
    const batch = events.slice(b * 40, b * 40 + 40);
    if (b % 2) await insertBatch(client, batch); else await copyBatch(client, batch);
  }

  const { rows } = await client.query(
    `SELECT id, name, user_id, tags, observation_ids, usage_details, cost_details, input, output, bookmarked
     FROM traces_all WHERE project_id = 'p1' ORDER BY id COLLATE "C"`);
  assert.strictEqual(rows.length, 50);
  const t7 = rows.find((r) => r.id === 't7');
  assert.strictEqual(t7.name, 'trace 7');
  assert.strictEqual(t7.user_id, 'u1');
  assert.deepStrictEqual(t7.tags, ['node', 't1']);
  assert.strictEqual(t7.observation_ids.length, 4);
  assert.deepStrictEqual(t7.usage_details, { input: 40, output: 20, total: 60 });
  assert.deepStrictEqual(t7.cost_details, { total: 0.000000000004 });
  assert.ok(t7.input.startsWith('{"q": "question 7"'));
  assert.strictEqual(t7.output, 'answer 7 \t with "quotes" and \\ and é');
  assert.strictEqual(t7.bookmarked, true);
  assert.strictEqual(rows.find((r) => r.id === 't8').bookmarked, null);
  const { rows: [n] } = await client.query('SELECT count(*)::int AS n FROM traces_7d');
  assert.strictEqual(n.n, 50);
  console.log(`node client: ${events.length} events in ${Math.ceil(events.length / 40)} batches, 50 traces read back`);
  await client.end();
}

main().catch((err) => { console.error(err); process.exit(1); });
