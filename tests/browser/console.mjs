// Drive the kafka08 console in headless Debian chromium (playwright-core, no browser
// download) and report what a person would see, as JSON on stdout.
//
// usage: node console.mjs '{"url": ..., "out": DIR, "brokers": [..], "topic": T, "group": G,
//                           "create": NAME, "bad": BAD_NAME}'
//        node console.mjs '{"phase": "degraded", "url": ..., "out": DIR, "brokers": [..], "topic": T}'
//        node console.mjs '{"phase": "actions", "url": ..., "out": DIR, "move": T, "move_to": "3",
//                           "doomed": T}'
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

  // Fill a form's fields, submit it and wait for the answer: {ok, text}. `confirm`
  // ("yes"/"no"/undefined) answers the in-page dialog of a destructive action, after a
  // screenshot of it (`shot`).
  async function act(form, fields, { confirm, shot } = {}) {
    for (const [name, value] of Object.entries(fields)) await page.fill(`#${form} [name=${name}]`, value);
    await page.evaluate(() => { const m = document.getElementById("message"); m.className = ""; m.textContent = ""; });
    await page.click(`#${form} button`);
    if (confirm) {
      await page.waitForFunction(() => document.getElementById("confirm").open);
      result[`${form}_question`] = await page.textContent("#confirm-text");
      if (shot) await page.screenshot({ path: join(args.out, shot), fullPage: true });
      await page.click(confirm === "yes" ? "#confirm-yes" : "#confirm-no");
    }
    await page.waitForFunction(() => ["ok", "error"].includes(document.getElementById("message").className));
    return { ok: (await page.getAttribute("#message", "class")) === "ok", text: await page.textContent("#message") };
  }

  await open("#/");
  if (args.phase === "actions") {
    result.cluster_actions = await page.$$eval("form.action", (fs) => fs.map((f) => f.id));
    // Preferred replica election of every partition (the JSON left empty).
    result.election = await act("preferred-election", { partitions_json: "" });
    await page.screenshot({ path: join(args.out, "preferred-election.png"), fullPage: true });

    // Reassignment: generate a proposal, execute it (confirmed in the page), verify until done.
    result.generate = await act("reassign-generate", { topics_json: JSON.stringify({ topics: [{ topic: args.move }], version: 1 }), broker_list: args.move_to });
    result.proposed = await page.inputValue("#reassign-execute [name=reassignment_json]");
    await page.screenshot({ path: join(args.out, "reassign-generate.png"), fullPage: true });
    result.execute = await act("reassign-execute", {}, { confirm: "yes", shot: "reassign-execute-confirm.png" });
    await page.screenshot({ path: join(args.out, "reassign-execute.png"), fullPage: true });
    const deadline = Date.now() + 90000;
    for (;;) {
      result.verify = await act("reassign-verify", {});
      const status = result.verify.text.split("\n").slice(1);
      if (result.verify.ok && status.length && status.every((l) => l.endsWith("completed successfully"))) break;
      if (Date.now() > deadline) break;
      await page.waitForTimeout(1000);
    }
    await page.screenshot({ path: join(args.out, "reassign-verify.png"), fullPage: true });

    // Deletion from the topic's page: cancelled once, then confirmed.
    await open("#/topics/" + encodeURIComponent(args.doomed));
    result.topic_actions = await page.$$eval("form.action", (fs) => fs.map((f) => f.id));
    result.election_prefill = await page.inputValue("#preferred-election [name=partitions_json]");
    result.delete_cancelled = await act("delete-topic", {}, { confirm: "no" });
    result.delete = await act("delete-topic", {}, { confirm: "yes", shot: "delete-topic-confirm.png" });
    await page.waitForFunction(() => document.body.dataset.loaded === "#/");
    await page.screenshot({ path: join(args.out, "delete-topic.png"), fullPage: true });
    result.page_errors = errors;
    process.stdout.write(JSON.stringify(result) + "\n");
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    process.exit(0);
  }
  // Overview: wait until every broker and the test's topic and group are listed.
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
