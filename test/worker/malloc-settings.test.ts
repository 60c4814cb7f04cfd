/**
 * The worker's start-up warning about glibc's allocator settings (worker/malloc-settings.ts): said when the variable
 * is missing on glibc, naming it and the value docs/ops.md recommends; silent when the operator set it (to any value)
 * or when the allocator is not glibc's.
 */
import { mallocSettingsWarning, WORKER_MALLOC_ENV } from '../../worker/malloc-settings';

test('on glibc without MALLOC_ARENA_MAX the worker says what to set and where', () => {
  const warning = mallocSettingsWarning({}, true);
  expect(warning).toContain('MALLOC_ARENA_MAX not set');
  expect(warning).toContain('Environment=MALLOC_ARENA_MAX=2');
  expect(mallocSettingsWarning({ MALLOC_ARENA_MAX: '' }, true)).toContain('MALLOC_ARENA_MAX not set');
});

test('set to the recommended or any other value, or another allocator: no warning', () => {
  expect(mallocSettingsWarning({ ...WORKER_MALLOC_ENV }, true)).toBeUndefined();
  expect(mallocSettingsWarning({ MALLOC_ARENA_MAX: '4' }, true)).toBeUndefined();
  expect(mallocSettingsWarning({}, false)).toBeUndefined();
});
