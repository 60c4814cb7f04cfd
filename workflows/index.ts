/** Every workflow the signflow worker runs. The bundler starts here; keep it free of anything but workflow code. */
export { honorarvertrag } from './honorarvertrag.workflow';
export { outboxPoller, outboxPollerLoop } from './outbox-poller.workflow';
export { qesCountersigner } from './qes-countersigner.workflow';
export { staffDigest } from './staff-digest.workflow';
