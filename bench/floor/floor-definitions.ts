/** The floor workflow's Update, shared by the workflow and the benchmark's driver. */
import { defineUpdate } from '@temporalio/workflow';

export const floorSignUpdate = defineUpdate<string, [number]>('sign');
