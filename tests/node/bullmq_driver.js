// Drives a real BullMQ queue for Telltale's end-to-end tests, then prints what BullMQ
// itself reports about every job it added (one JSON line on stdout).
//
//   node bullmq_driver.js '{"url":"redis://127.0.0.1:6379","queue":"q","jobs":20}'
//
// Options: url, queue, jobs (count), prefix (default "bull"), spacingMs (between adds),
// stepMs (between progress reports). Job i: i % 5 == 1 always fails, i % 5 == 2 fails
// on its first attempt and then succeeds (attempts: 2), the rest succeed. Every job
// reports progress 25 and 50; successes end at 100 (odd i) or 75 (even i).
'use strict';

const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const opts = JSON.parse(process.argv[2] || '{}');
const prefix = opts.prefix || 'bull';
const total = opts.jobs || 10;
const spacingMs = opts.spacingMs || 0;
const stepMs = opts.stepMs || 2;
const deadline = Date.now() + (opts.timeoutMs || 90000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const connect = () => new IORedis(opts.url, { maxRetriesPerRequest: null });

async function main() {
  const queueConn = connect();
  const workerConn = connect();
  const queue = new Queue(opts.queue, { connection: queueConn, prefix });
  const worker = new Worker(
    opts.queue,
    async (job) => {
      const i = job.data.i;
      await job.updateProgress(25);
      await sleep(stepMs);
      await job.updateProgress(50);
      await sleep(stepMs);
      if (i % 5 === 1) throw new Error(`boom ${i}`);
      if (i % 5 === 2 && job.attemptsMade === 0) throw new Error(`flaky ${i}`);
      await job.updateProgress(i % 2 ? 100 : 75);
      return { i };
    },
    { connection: workerConn, prefix, concurrency: 3, name: 'driver' },
  );
  const first = opts.firstIndex || 0;
  const ids = [];
  for (let n = 0; n < total; n++) {
    const i = first + n;
    const job = await queue.add(`job-${i}`, { i }, { attempts: 2 });
    ids.push(job.id);
    if (spacingMs) await sleep(spacingMs);
  }
  for (;;) {
    const states = await Promise.all(ids.map(async (id) => (await queue.getJob(id)).getState()));
    if (states.every((s) => s === 'completed' || s === 'failed')) break;
    if (Date.now() > deadline) throw new Error(`jobs not finished in time: ${states.join(',')}`);
    await sleep(20);
  }
  const jobs = [];
  for (const id of ids) {
    const job = await queue.getJob(id);
    jobs.push({
      id,
      name: job.name,
      state: await job.getState(),
      progress: job.progress,
      attemptsMade: job.attemptsMade,
      failedReason: job.failedReason || null,
    });
  }
  await worker.close();
  await queue.close();
  await queueConn.quit();
  await workerConn.quit();
  process.stdout.write(JSON.stringify({ jobs }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`bullmq driver failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
