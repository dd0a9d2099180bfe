// node-postgres against a running `tidal serve`: prints one JSON line of results.
const { Client } = require("pg");

async function main() {
  const [host, port] = process.argv.slice(2);
  const client = new Client({ host, port: Number(port), user: "tester", database: "tidal" });
  await client.connect();
  const totals = await client.query("SELECT k, total FROM totals ORDER BY k");
  const params = await client.query("SELECT k FROM t WHERE v > $1 ORDER BY v", [1]);
  const named = await client.query({ name: "by-key", text: "SELECT n FROM totals WHERE k = $1", values: ["a"] });
  const again = await client.query({ name: "by-key", text: "SELECT n FROM totals WHERE k = $1", values: ["b"] });
  let error = null;
  try { await client.query("SELECT * FROM nowhere"); } catch (e) { error = e.code; }
  const flags = await client.query("SELECT true AS yes, 1.5::DOUBLE AS x");
  await client.end();
  console.log(JSON.stringify({
    totals: totals.rows, params: params.rows.map(r => r.k),
    named: [named.rows[0].n, again.rows[0].n], error, flags: flags.rows[0],
  }));
}
main().catch(e => { console.error(e); process.exit(1); });
