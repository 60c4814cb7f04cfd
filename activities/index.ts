/**
 * The activity factory. The worker builds the dependencies once (one knex pool, one pooled SMTP transport, one
 * Konnektor client, one Temporal client) and passes them here; tests pass real parts or fault-injecting ones.
 */
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import type { SignflowConfig } from '../temporal.config';
import type { Mailer } from '../mail/mailer';
import { createContractActivities } from './contract.activities';
import { createCountersignActivities } from './countersign.activities';
import { createKonnektorActivities } from './konnektor/konnektor.activities';
import type { KonnektorClient } from './konnektor/konnektor-client';
import { createMailActivities } from './mail.activities';
import { createOutboxActivities } from '../outbox/outbox.activities';
import { createWebhookActivities } from './webhook.activities';
import { createStaffMailActivities } from './staff-mail.activities';
import { createDocumentViewActivities } from './document-view.activities';
import { createCertificateActivities } from './certificate.activities';

export interface ActivityDeps {
  config: SignflowConfig;
  db: Knex;
  mailer: Mailer;
  /** Required when `config.konnektor.enabled`. */
  konnektor?: KonnektorClient;
  /** Starts and messages workflows: the eHBA's signing workflow, and contract workflows from the outbox. */
  temporal: Client;
}

/** Without a Konnektor every Konnektor call fails at once with a sentence an admin can act on. */
const konnektorMissing: KonnektorClient = new Proxy({} as KonnektorClient, {
  get() {
    throw ApplicationFailure.create({
      type: 'KONNEKTOR_NOT_CONFIGURED',
      nonRetryable: true,
      message:
        'no Konnektor is configured (SIGNFLOW_QES_ENABLED, SIGNFLOW_KONNEKTOR_SDS_URL and the client certificate)',
    });
  },
});

export function createActivities(deps: ActivityDeps) {
  return {
    ...createContractActivities(deps),
    ...createMailActivities(deps),
    ...createKonnektorActivities({ ...deps, konnektor: deps.konnektor ?? konnektorMissing }),
    ...createCountersignActivities(deps),
    ...createOutboxActivities({ config: deps.config, db: deps.db, client: deps.temporal }),
    ...createWebhookActivities(deps),
    ...createStaffMailActivities(deps),
    ...createDocumentViewActivities(deps),
    ...createCertificateActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
