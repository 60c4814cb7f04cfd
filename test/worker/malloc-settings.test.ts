/**
 * The worker's start-up warning about glibc's allocator settings (worker/malloc-settings.ts): said when a variable
 * is missing on glibc, naming it and the value docs/ops.md recommends; silent when the operator set it (to any value)
 * or when the allocator is not glibc's.
 */
import { mallocSettingsWarning, WORKER_MALLOC_ENV } from '../../worker/malloc-settings';

test('on glibc without the settings the worker says what to set and where', () => {
  const warning = mallocSettingsWarning({}, true);
  expect(warning).toContain('MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_ not set');
  expect(warning).toContain('Environment=MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536');
  // Only the missing one is named; an empty value counts as missing.
  expect(mallocSettingsWarning({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '' }, true)).toContain(
    'MALLOC_MMAP_THRESHOLD_ not set'
  );
  expect(mallocSettingsWarning({ MALLOC_MMAP_THRESHOLD_: '65536' }, true)).toMatch(/^MALLOC_ARENA_MAX not set/);
});

test('set to the recommended or any other value, or another allocator: no warning', () => {
  expect(mallocSettingsWarning({ ...WORKER_MALLOC_ENV }, true)).toBeUndefined();
  expect(mallocSettingsWarning({ MALLOC_ARENA_MAX: '4', MALLOC_MMAP_THRESHOLD_: '131072' }, true)).toBeUndefined();
  expect(mallocSettingsWarning({}, false)).toBeUndefined();
});
