/** Public surface of the Konnektor client and activities (issue 3). */
export {
  createKonnektorActivities,
  type KonnektorActivities,
  type KonnektorActivityDeps,
} from './konnektor.activities';
export { KonnektorClient, type KonnektorClientOptions } from './konnektor-client';
export { createKonnektorClient, type KonnektorConfig } from './client-from-config';
export * from './types';
