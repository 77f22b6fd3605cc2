// Drive the kafka08 console in headless Debian chromium (playwright-core, no browser
// download) and report what a person would see, as JSON on stdout.
//
// usage: node console.mjs '{"url": ..., "out": DIR, "brokers": [..], "topic": T, "group": G,
//                           "create": NAME, "bad": BAD_NAME}'
//
// Every page is screenshotted into `out`. Waits are on page conditions with deadlines;
// the caller also bounds the whole run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("./node_modules/playwright-core");

const args = JSON.parse(process.argv[2]);
const WAIT = 30000;
const profile = mkdtempSync(join(tmpdir(), "kafka08-chromium-"));
const result = {};

const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 900 },
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(WAIT);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));

  async function open(hash) {
    await page.goto(args.url + "/" + hash);
    await page.waitForFunction((h) => document.body.dataset.loaded === (h || "#/"), hash);
  }
  const cells = (sel, col) => page.$$eval(`${sel} tbody tr`, (rows, c) => rows.map((r) => r.children[c]?.textContent.trim() ?? ""), col);

  // Overview: wait until every broker and the test's topic and group are listed.
  await open("#/");
  if (args.phase === "degraded") {
    // A broker is down: the overview still lists the others, the topic page still loads.
    await page.waitForFunction((n) => document.querySelectorAll("#brokers tbody tr").length === n, args.brokers.length);
    result.brokers = await cells("#brokers", 0);
    await page.screenshot({ path: join(args.out, "overview-broker-down.png"), fullPage: true });
    await open("#/topics/" + encodeURIComponent(args.topic));
    result.partitions = await cells("#partitions", 0);
    await page.screenshot({ path: join(args.out, "topic-broker-down.png"), fullPage: true });
    result.page_errors = errors;
    process.stdout.write(JSON.stringify(result) + "\n");
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    process.exit(0);
  }
  await page.waitForFunction(
    ([n, t, g]) => document.querySelectorAll("#brokers tbody tr").length === n
      && [...document.querySelectorAll("#topics tbody tr td:first-child")].some((c) => c.textContent.trim() === t)
      && [...document.querySelectorAll("#groups tbody tr td:first-child")].some((c) => c.textContent.trim() === g),
    [args.brokers.length, args.topic, args.group]);
  result.brokers = await cells("#brokers", 0);
  result.controllers = (await cells("#brokers", 2)).filter((c) => c === "controller").length;
  result.topics = await cells("#topics", 0);
  result.groups = await cells("#groups", 0);
  await page.screenshot({ path: join(args.out, "overview.png"), fullPage: true });

  // The group page: its lag.
  await open("#/groups/" + encodeURIComponent(args.group));
  result.total_lag = await page.textContent("#total-lag");
  result.group_lags = await cells("#group-partitions", 5);
  await page.screenshot({ path: join(args.out, "group.png"), fullPage: true });

  // Topic and broker pages.
  await open("#/topics/" + encodeURIComponent(args.topic));
  result.partitions = await cells("#partitions", 0);
  result.log_ends = await cells("#partitions", 4);
  result.topic_actions = await page.$$eval("form.action", (fs) => fs.map((f) => f.id));
  await page.screenshot({ path: join(args.out, "topic.png"), fullPage: true });
  await open("#/brokers/" + encodeURIComponent(args.brokers[0]));
  await page.screenshot({ path: join(args.out, "broker.png"), fullPage: true });

  // Actions on the overview: a topic created through the form, then a bad name.
  await open("#/");
  result.cluster_actions = await page.$$eval("form.action", (fs) => fs.map((f) => f.id));
  async function create(name, partitions, rf) {
    await page.fill("#create-topic input[name=topic]", name);
    await page.fill("#create-topic input[name=partitions]", String(partitions));
    await page.fill("#create-topic input[name=replication_factor]", String(rf));
    await page.evaluate(() => { const m = document.getElementById("message"); m.className = ""; m.textContent = ""; });
    await page.click("#create-topic button");
    await page.waitForFunction(() => ["ok", "error"].includes(document.getElementById("message").className));
    return { ok: (await page.getAttribute("#message", "class")) === "ok", text: await page.textContent("#message") };
  }
  result.create = await create(args.create, 2, 2);
  await page.waitForFunction((t) => [...document.querySelectorAll("#topics tbody tr td:first-child")].some((c) => c.textContent.trim() === t), args.create);
  await page.screenshot({ path: join(args.out, "created.png"), fullPage: true });
  result.bad = await create(args.bad, 1, 1);
  await page.screenshot({ path: join(args.out, "bad-topic-name.png"), fullPage: true });
  result.page_errors = errors;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + "\n");
