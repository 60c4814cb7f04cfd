// Preloaded (`--require`) into the waiting bench's worker process, and so into every thread it starts (worker threads
// inherit the process's execArgv): the Temporal SDK's workflow thread, the PDF threads, tsx's loader thread. Node 20
// reads V8 heap statistics only for the calling isolate, so each thread answers for itself over a BroadcastChannel.
// Plain JavaScript: it must load before tsx (and in threads without it).
'use strict';
const v8 = require('node:v8');
const { isMainThread, threadId } = require('node:worker_threads');

const ASK = 'signflow-bench-isolate-heaps-ask';
const ANSWER = 'signflow-bench-isolate-heaps-answer';

const questions = new BroadcastChannel(ASK);
// A thread with nothing else to do must still end.
questions.unref();
questions.onmessage = () => {
  // With --expose-gc (the bench's worker has it, and threads inherit it): a full collection first, as the main thread
  // does, so what is counted is what the isolate holds, not garbage it has not collected yet.
  if (typeof globalThis.gc === 'function') globalThis.gc();
  const s = v8.getHeapStatistics();
  const answer = new BroadcastChannel(ANSWER);
  answer.postMessage({
    threadId,
    main: isMainThread,
    heapTotal: s.total_heap_size,
    heapPhysical: s.total_physical_size,
    heapUsed: s.used_heap_size,
    malloced: s.malloced_memory,
    external: s.external_memory,
  });
  answer.close();
};

module.exports = { ASK, ANSWER };
