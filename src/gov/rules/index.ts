import type { Rule } from '../types.js';
import { productionConfirmation, statefulBackup, tlsOff } from './environments.js';
import { imageFloatingTag, imageLatest } from './images.js';
import { migrationStrategy, migrationsUnconfigured } from './migrations.js';
import { buildArgSecret, inlineSecret, secretDefault } from './secrets.js';
import { databasePortPublic, dockerSocket, privileged, restartPolicy, webHealthcheck } from './services.js';

/** Every rule of `stagecraft gov`, in the order docs/gov.md lists them. */
export const RULES: readonly Rule[] = [
  productionConfirmation,
  webHealthcheck,
  imageLatest,
  imageFloatingTag,
  inlineSecret,
  secretDefault,
  buildArgSecret,
  migrationStrategy,
  migrationsUnconfigured,
  statefulBackup,
  databasePortPublic,
  dockerSocket,
  privileged,
  tlsOff,
  restartPolicy,
];
