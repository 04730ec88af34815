// The dashboard in a real browser (Debian's chromium driven by playwright-core), run by
// test_dashboard.sh:  node dashboard_browser.mjs KUBECTL_AIOS NAMESPACE JOB OUTDIR
// Starts `kubectl-aios dashboard`, opens its page, and checks that the job's card
// appears, its loss curve gains points while it trains, its phase reaches Succeeded, and
// that the page reconnects by itself after the server is restarted on the same port.
// Screenshots go to OUTDIR. Every wait is bounded; any failure exits 1 with the reason.
import { spawn } from "node:child_process";
import { chromium } from "playwright-core";

const [bin, ns, job, outdir] = process.argv.slice(2);
const note = (m) => process.stderr.write(`  [dashboard_browser] ${m}\n`);
let server = null;

function start(port) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ["dashboard", "-n", ns, "--port", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no URL from the dashboard: ${out}`)), 15000);
    p.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) { clearTimeout(timer); resolve({ proc: p, url: m[0], port: Number(m[1]) }); }
    });
    p.on("exit", (code) => reject(new Error(`the dashboard exited (${code}): ${out}`)));
  });
}

async function main() {
  server = await start(0);
  note(`dashboard at ${server.url}`);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("pageerror", (e) => { note(`page error: ${e}`); process.exitCode = 1; });
    await page.goto(server.url);
    await page.waitForSelector("#conn.up", { timeout: 15000 });
    const chart = page.locator(`.card.tj[data-name="${ns}/${job}"] svg.chart`).first();
    await chart.waitFor({ timeout: 60000 });
    const lastX = async () => Number((await chart.getAttribute("data-last-x")) || 0);
    const waitFor = async (what, cond, ms) => {
      const end = Date.now() + ms;
      while (Date.now() < end) { if (await cond()) return; await page.waitForTimeout(250); }
      throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
    };
    await waitFor("the first epochs on the curve", async () => (await lastX()) > 0, 90000);
    const first = await lastX();
    await page.screenshot({ path: `${outdir}/dashboard-training.png`, fullPage: true });
    await waitFor(`the curve to grow past epoch ${first}`, async () => (await lastX()) > first, 60000);
    note(`curve grew from epoch ${first} to ${await lastX()}`);
    await page.waitForSelector(`.card.tj[data-name="${ns}/${job}"] [data-phase="Succeeded"]`, { timeout: 240000 });
    const points = Number(await chart.getAttribute("data-points"));
    if (!(points > 1)) throw new Error(`the finished job's curve has ${points} points`);
    note(`Succeeded; the curve has ${points} points up to epoch ${await lastX()}`);
    await page.screenshot({ path: `${outdir}/dashboard-succeeded.png`, fullPage: true });

    // the server goes away and comes back on the same port: the page reconnects alone
    const port = server.port;
    const seen = await page.evaluate(() => window.aiosSnapshots);
    server.proc.removeAllListeners("exit");
    server.proc.kill("SIGTERM");
    await page.waitForSelector("#conn.down", { timeout: 15000 });
    note("the page shows the connection lost");
    server = await start(port);
    await page.waitForSelector("#conn.up", { timeout: 20000 });
    await waitFor("a snapshot after the reconnect", async () => (await page.evaluate(() => window.aiosSnapshots)) > seen, 15000);
    note("reconnected and updating again");
  } finally {
    await browser.close();
  }
}

main().then(() => { server?.proc.kill("SIGTERM"); },
  (e) => { note(`FAIL: ${e.message}`); server?.proc.kill("SIGTERM"); process.exit(1); });
