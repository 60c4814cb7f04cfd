/** Public surface of the Konnektor simulator, for tests and the dev stack. */
export { startKonnektorSimulator } from './server';
export type {
  CardCall,
  KonnektorSimulatorOptions,
  RunningKonnektorSimulator,
  SimulatorAdmin,
  RecordedCall,
} from './server';
export type { FaultConfig } from './faults';
export type { PinOutcome, ComfortConfig, InformationModel } from './konnektor';
export { PATHS } from './sds';
export { VENDOR_PROFILES, type VendorProfileName } from './vendor-profiles';
