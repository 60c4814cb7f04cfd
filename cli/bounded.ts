/**
 * `map` with at most `limit` calls in flight: bulk starts must not open hundreds of concurrent gRPC calls (Temporal's
 * frontend rate-limits per namespace, and a CRM export can hold thousands of rows). Results keep the input order.
 * `fn` should not throw; a thrown error rejects the whole run after the calls in flight settle.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
  return results;
}
