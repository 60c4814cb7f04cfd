/**
 * The activity factory. The worker builds the dependencies once (one knex pool, one pooled SMTP transport, one
 * Konnektor client) and passes them here; tests pass real parts or fault-injecting ones.
 */
import type { Knex } from 'knex';
import type { SignflowConfig } from '../temporal.config';
import type { Mailer } from '../mail/mailer';
import { createContractActivities } from './contract.activities';
import { createMailActivities } from './mail.activities';

export interface ActivityDeps {
  config: SignflowConfig;
  db: Knex;
  mailer: Mailer;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createContractActivities(deps),
    ...createMailActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
