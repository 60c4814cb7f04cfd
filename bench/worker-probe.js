// Preloaded (`--require`) into the waiting bench's worker process, which is the production worker itself
// (`node dist/cli/main.js worker`, as the systemd unit starts it): the bench's questions come over the IPC channel of
// `fork`, and this answers them from inside, after two full collections (so garbage does not count), with the process's
// memory and every thread's V8 heap (bench/isolate-heaps.js, preloaded before this). Nothing of the worker is changed.
// When the bench goes away (the channel closes), the worker gets SIGTERM and drains as under systemd.
// Plain JavaScript: the worker runs without tsx.
'use strict';
const v8 = require('node:v8');
const { isMainThread } = require('node:worker_threads');
const { ASK, ANSWER } = require('./isolate-heaps.js');

/**
 * Every thread's V8 heap: each answers after a GC of its own, which takes a while in a busy workflow thread on a loaded
 * machine, so answers are collected for 3 s (0.5 s lost the workflow thread's answer at load 30).
 */
async function isolateHeaps() {
  const answers = new BroadcastChannel(ANSWER);
  const heaps = [];
  answers.onmessage = (e) => heaps.push(e.data);
  const ask = new BroadcastChannel(ASK);
  ask.postMessage('ask');
  ask.close();
  await new Promise((r) => setTimeout(r, 3000));
  answers.close();
  // This thread's own channel does not hear its own question: measured here.
  if (!heaps.some((h) => h.main)) {
    const s = v8.getHeapStatistics();
    heaps.push({
      threadId: 0,
      main: true,
      heapTotal: s.total_heap_size,
      heapPhysical: s.total_physical_size,
      heapUsed: s.used_heap_size,
      malloced: s.malloced_memory,
      external: s.external_memory,
    });
  }
  return heaps.sort((a, b) => a.threadId - b.threadId);
}

async function measure() {
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 200));
  globalThis.gc?.();
  const u = process.memoryUsage();
  return {
    rss: u.rss,
    heapUsed: u.heapUsed,
    external: u.external,
    arrayBuffers: u.arrayBuffers,
    isolates: await isolateHeaps(),
  };
}

if (isMainThread && typeof process.send === 'function') {
  process.on('message', (m) => {
    if (!m || !m.measure) return;
    measure().then(
      (memory) => process.send({ memory }),
      (err) => process.send({ error: String(err) })
    );
  });
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  // The channel must not keep the worker alive once it has drained.
  process.channel?.unref();
}
