/** The in-process presence store against the shared PresenceStore contract. */
import { MemoryPresence } from '../../../../src/session/line/presence-memory.js';
import { presenceContract } from '../../../helpers/presence-contract.js';

presenceContract('MemoryPresence', () => Promise.resolve(new MemoryPresence()));
