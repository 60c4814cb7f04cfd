/** Moved to harness/databases.ts: the benchmark needs it too and never imports test/. Kept for imports written before. */
export * from '../../harness/databases';
